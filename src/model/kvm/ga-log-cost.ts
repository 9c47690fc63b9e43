/**
 * Case 5 of issue 14: GA-log interrupts only when the vCPU blocks (b9e53f9ff4a8 "iommu/amd: KVM:
 * SVM: Allow KVM to control need for GA log interrupts" and b03500f03ea0 "KVM: SVM: Generate GA log
 * IRQs only if the associated vCPUs is blocking", Sean Christopherson, 6.17), the AMD counterpart
 * of seed 001. Before, every avic_vcpu_put left GALogIntr set in the vCPU's IRTEs (the IOMMU driver
 * set ga_log_intr whenever it put an IRTE in guest mode), so a device interrupt for a vCPU that
 * was only preempted was logged and the host took a GA-log interrupt whose kvm_vcpu_wake_up found
 * nothing to wake; after, KVM asks for GA-log interrupts only when the put is because the vCPU
 * blocks (knob avicGaLogIntr, applied in avic.ts and avic-irte.ts). Both are correct; the
 * difference is this cost, which the model counts in one instrumentation word: the GA-log entries
 * avic_ga_log_notifier handled. The block exists only in scenarios whose presets set the knob.
 */
import { gaLogCount } from '../hw/avic.ts';
import type { ExtraBlock } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';

export const GA_LOG_COST_BLOCK = 'kvm.ga_log_cost';

export const GA_LOG_COST_EXTRA: ExtraBlock = {
  name: GA_LOG_COST_BLOCK,
  prefix: 'kvm',
  size: 1,
  fields: [{ name: 'gaLogEntriesHandled', offset: 0, kind: 'u32' }],
};

/** Before the host's GA-log handler runs: count the entries it is about to hand to KVM. */
export function countGaLogEntries(w: World): void {
  const o = w.L.extra.get(GA_LOG_COST_BLOCK);
  if (o !== undefined && w.L.avic !== undefined) w.m[o] += gaLogCount(w.m, w.L.avic.log);
}
