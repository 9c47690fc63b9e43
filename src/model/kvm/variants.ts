/**
 * Variants: each behaviour that an upstream change altered is a knob with named values; a variant
 * is one value per knob. Scenarios name presets (e.g. `before`, `after`) that set some knobs; the
 * rest keep the default, which is today's kernel. docs/variants.md lists each knob's source.
 */
import { UserError } from '../../errors.ts';

export const KNOBS = {
  /**
   * What vmx_sync_pir_to_irr tests before harvesting. `on-only`: PID.ON (the kernel since 2013,
   * and still today); `pir-nonempty`: the PIR bitmap (Luwei Kang's proposal, seed 004).
   */
  syncGate: ['on-only', 'pir-nonempty'],
  /**
   * What vmx_vcpu_pi_load does after clearing SN. `clear-sn`: nothing (before commit
   * c112b5f50232); `clear-sn-recompute-on`: full barrier, then set ON if PIR is non-empty
   * (c112b5f50232 "KVM: x86: Recompute PID.ON when clearing PID.SN", the merged fix of seed 004).
   */
  load: ['clear-sn', 'clear-sn-recompute-on'],
  /**
   * When vmx_vcpu_pi_put sets SN. `sn-if-preempted`: only when preempted (28b835d60fcc, until
   * 2025); `sn-unless-blocking`: on every put except blocking with IRQs enabled and not preempted
   * (seed 001, "KVM: VMX: Suppress PI notifications whenever the vCPU is put", 2025).
   */
  put: ['sn-if-preempted', 'sn-unless-blocking'],
  /**
   * How a guest x2APIC ICR write is handled. `full-exit`: IRQs on, SRCU re-taken, WRMSR emulated,
   * then delivery; `fastpath`: in the IRQs-off exit fastpath, then re-entry after a PIR sync
   * (seed 003, 1e9e2622a149 and the 2020 "ultra fastpath").
   */
  icrWrite: ['full-exit', 'fastpath'],
  /**
   * How __kvm_apic_update_irr harvests PIR (harvest.ts). `u32-interleaved`: per 32-bit chunk a
   * load and, if non-zero, an xchg (KVM before seed 000 patch 5/8); `u64-loads-then-xchg`: the four
   * 64-bit words loaded first, early return when all are zero, then an xchg of each non-zero word
   * (seed 000 patches 5/8 and 6/8, pi_harvest_pir since 8/8; today's kernel).
   */
  harvest: ['u32-interleaved', 'u64-loads-then-xchg'],
  /**
   * What __kvm_apic_update_irr reports as the highest IRR when the harvest found PIR empty.
   * `scan-virr`: the highest vIRR vector (the code before seed 000 patch 6/8, and the 2026 fix
   * "KVM: x86: Always report highest IRR from __kvm_apic_update_irr()", merge status unconfirmed);
   * `early-return-skips-virr`: -1, without looking at vIRR (b41f8638b9d3, patch 6/8 as merged).
   */
  emptyHarvest: ['scan-virr', 'early-return-skips-virr'],
  /** Mutation: no full barrier between publishing IN_GUEST_MODE and reading ON (checklist X1). */
  mbAfterMode: ['present', 'missing'],
  /** Mutation: harvest PIR before clearing ON in vmx_sync_pir_to_irr (checklist X2). */
  syncOrder: ['clear-on-then-harvest', 'harvest-then-clear-on'],
  /** Mutation: pi_enable_wakeup_handler without the ON re-check and self-IPI (checklist X3). */
  wakeupOnRecheck: ['present', 'missing'],
  /** Mutation: vmx_vcpu_pi_load rewriting NDST while NV is the wake-up vector (checklist X4). */
  ndstWhileBlocked: ['kept', 'rewritten'],
  /** Mutation: the fastpath re-enters the guest without syncing PIR (checklist X6). */
  fastpathReentrySync: ['present', 'missing'],
  /**
   * How SVM inhibits AVIC while a vCPU waits for an IRQ window (seed 002). `toggle-per-window`:
   * svm_enable_irq_window sets APICV_INHIBIT_REASON_IRQWIN and interrupt_window_interception
   * clears it, each under apicv_update_lock for write (until 2026); `counter`: the VM-wide count
   * apicv_nr_irq_window_req, changed under the read lock while another inhibit is set and under
   * the write lock otherwise, the inhibit toggled only on 0<->1 (v2 "KVM: SVM: Fix IRQ window
   * inhibit handling across multiple vCPUs" 6563ddadd169 and "Optimize IRQ window inhibit
   * handling" 5617dddcfa30, kvm-x86 svm, Jan 2026).
   */
  irqWindowInhibit: ['toggle-per-window', 'counter'],
  /**
   * Mutation of `counter`: __kvm_set_or_clear_apicv_inhibit no longer recomputes IRQWIN from the
   * count when another inhibit changes, so a window counted lazily under the read lock is lost.
   */
  irqWindowRecompute: ['present', 'missing'],
  /**
   * Mutation: the host's posted-MSI handler without its final handle_pending_pir after pi_clear_on
   * (checklist X5; arch/x86/kernel/irq.c sysvec_posted_msi_notification).
   */
  postedMsiFinalHarvest: ['present', 'missing'],
  /**
   * MAX_POSTED_MSI_COALESCING_LOOP of the host's posted-MSI handler (arch/x86/kernel/irq.c): the
   * handle_pending_pir rounds per notification, the one after pi_clear_on included, so `n` means
   * up to n - 1 rounds before pi_clear_on. The kernel's 3 ("3 is good enough to harvest 90+% of the
   * benefit on high IRQ rate workload", Jacob Pan, "Coalesced Interrupt Delivery with posted MSI",
   * 6.10); 1 to 6 are the values of the cover letter's sweep, which `irqlab sim --all` repeats.
   */
  postedMsiCoalescingLoop: ['1', '2', '3', '4', '5', '6'],
  /**
   * Mutation: vmx_needs_pi_wakeup ignoring IPIv (checklist X7). Since IPIv (KVM 5.19) a blocked vCPU
   * can be the target of a hardware posting without any assigned device, so the wake-up vector is
   * needed when the VM uses IPIv or VT-d posting; `missing` asks only for VT-d posting.
   */
  piWakeupWithIpiv: ['present', 'missing'],
  /**
   * Mutation (AMD AVIC): avic_vcpu_blocking without GALogIntr in the vCPU's IRTEs, so a device
   * interrupt to a blocked vCPU only sets IRR and logs nothing (kvm/avic.ts).
   */
  avicBlockingGaLogIntr: ['present', 'missing'],
  /**
   * Mutation (AMD AVIC): svm_complete_interrupt_delivery without kvm_vcpu_wake_up for a target that
   * is not in guest mode (a software sender, or the AVIC_INCOMPLETE_IPI handler) (kvm/avic.ts).
   */
  avicWakeNotInGuest: ['present', 'missing'],
  /**
   * What kvm_arch_start_assignment does when a VM gets its first assigned device (assignment.ts).
   * `none`: only the count (before 5.13); `kick-unblock`: vmx_pi_start_assignment requests
   * KVM_REQ_UNBLOCK of every vCPU, so a vCPU that blocked without the wake-up vector blocks again
   * with it (a2486020a82e "KVM: VMX: update vcpu posted-interrupt descriptor when assigning device",
   * 5.13, 2021).
   */
  startAssignment: ['none', 'kick-unblock'],
  /**
   * How much of avic_pi_update_irte runs under the vCPU's ir_list_lock (avic-irte.ts).
   * `list-add-only`: only the list add, so the vCPU can be put or migrated between the read of its
   * pCPU/IsRunning and the list add; `across-irte-update`: from before irq_set_vcpu_affinity to
   * the list add (c3d591c91f9c "KVM: SVM: Take and hold ir_list_lock across IRTE updates in IOMMU",
   * 6.17), which nests the IRQ descriptor's lock inside ir_list_lock (the lock-order cycle lockdep
   * reported on 6.19-rc2).
   */
  irteUpdateLock: ['across-irte-update', 'list-add-only'],
  /**
   * What avic_pi_update_irte does with an IRQ it could post while the vCPU's AVIC is inhibited
   * (avic-irte.ts). `not-tracked`: the IRTE goes to remapped mode and is not put on the vCPU's
   * ir_list, so lifting the inhibit never switches it to guest mode (before 6.17);
   * `track-on-list`: remapped mode, but on the list (6df262f915ab "iommu/amd: KVM: SVM: Add IRTE
   * metadata to affined vCPU's list if AVIC is inhibited", 6.17).
   */
  irteWhileInhibited: ['track-on-list', 'not-tracked'],
  /**
   * When init_vmcb sets up a new vCPU's AVIC fields (avic-vmcb.ts). `if-apicv-active`: only if the
   * vCPU's APICv is active, with AVIC enabled iff the VM has no inhibit (before 2026);
   * `if-avic-possible`: whenever AVIC is enabled with an in-kernel APIC, with AVIC enabled iff the
   * vCPU's apicv_active (3989a6d036c8 "KVM: SVM: Initialize AVIC VMCB fields if AVIC is enabled
   * with in-kernel APIC", 2026). The fix has two parts; each alone is a mutation:
   * `init-always-enable-if-vm-activated` (the fields always, AVIC enabled iff no VM inhibit) and
   * `init-if-active-enable-if-vcpu-active` (the fields iff apicv_active, AVIC enabled iff it).
   */
  avicVmcbInit: [
    'if-avic-possible',
    'if-apicv-active',
    'init-always-enable-if-vm-activated',
    'init-if-active-enable-if-vcpu-active',
  ],
  /**
   * What a host IRQ affinity change does to a VT-d IRTE that posts to a vCPU (vtd-irte-mode.ts).
   * `clobbers-vcpu-irte`: rewrites it in posted-MSI format (6.10 to 6.14); `keeps-vcpu-irte`:
   * leaves it (688124cc541f "iommu/vt-d: Don't clobber posted vCPU IRTE when host IRQ affinity
   * changes", 6.15).
   */
  vtdAffinityChange: ['keeps-vcpu-irte', 'clobbers-vcpu-irte'],
  /**
   * The format a VT-d IRTE gets back when KVM stops posting it to a vCPU (vtd-irte-mode.ts).
   * `remapped`: the plain remapped entry, posted MSI off for the IRQ (6.10 to 6.14);
   * `posted-msi`: reconfigured for the host (2454823e97a6 "iommu/vt-d: Put IRTE back into posted
   * MSI mode if vCPU posting is disabled", 6.15).
   */
  vtdVcpuPostingOff: ['posted-msi', 'remapped'],
  /**
   * When avic_vcpu_put leaves GALogIntr set in the vCPU's IRTEs (ga-log-cost.ts). `every-put`: on
   * every put, preemptions included (before 6.17); `only-blocking`: only when the vCPU blocks
   * (b9e53f9ff4a8 and b03500f03ea0, 6.17). Both hold; `irqlab check` counts the GA-log entries.
   */
  avicGaLogIntr: ['only-blocking', 'every-put'],
} as const;

export type KnobName = keyof typeof KNOBS;
export type Variant = { [K in KnobName]: (typeof KNOBS)[K][number] };

/** Today's kernel. */
export const DEFAULT_VARIANT: Variant = {
  syncGate: 'on-only',
  load: 'clear-sn-recompute-on',
  put: 'sn-unless-blocking',
  icrWrite: 'fastpath',
  harvest: 'u64-loads-then-xchg',
  emptyHarvest: 'scan-virr',
  mbAfterMode: 'present',
  syncOrder: 'clear-on-then-harvest',
  wakeupOnRecheck: 'present',
  ndstWhileBlocked: 'kept',
  fastpathReentrySync: 'present',
  irqWindowInhibit: 'counter',
  irqWindowRecompute: 'present',
  postedMsiFinalHarvest: 'present',
  postedMsiCoalescingLoop: '3',
  piWakeupWithIpiv: 'present',
  avicBlockingGaLogIntr: 'present',
  avicWakeNotInGuest: 'present',
  startAssignment: 'kick-unblock',
  irteUpdateLock: 'across-irte-update',
  irteWhileInhibited: 'track-on-list',
  avicVmcbInit: 'if-avic-possible',
  vtdAffinityChange: 'keeps-vcpu-irte',
  vtdVcpuPostingOff: 'posted-msi',
  avicGaLogIntr: 'only-blocking',
};

export function isKnob(k: string): k is KnobName {
  return Object.hasOwn(KNOBS, k);
}

/** Applies knob settings to a variant, rejecting unknown knobs and values with a one-line error. */
export function withKnobs(base: Variant, knobs: Record<string, string>, where: string): Variant {
  const v: Record<string, string> = { ...base };
  for (const [k, val] of Object.entries(knobs)) {
    if (!isKnob(k))
      throw new UserError(`${where}: unknown knob "${k}" (knobs: ${Object.keys(KNOBS).join(', ')})`);
    const allowed: readonly string[] = KNOBS[k];
    if (!allowed.includes(val)) {
      throw new UserError(`${where}: knob ${k} has no value "${val}" (values: ${allowed.join(', ')})`);
    }
    v[k] = val;
  }
  return v as Variant;
}

/**
 * Knob settings written as `knob=value` pairs separated by commas (`--variant`), with a one-line
 * error for an empty pair, a pair without "=", an unknown knob, a knob given twice and a value the
 * knob does not have. The values are checked here too, so the settings can be applied as they are.
 */
export function parseKnobList(spec: string, where: string): Record<string, string> {
  const knobs: Record<string, string> = {};
  for (const pair of spec.split(',')) {
    const eq = pair.indexOf('=');
    const k = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const val = eq < 0 ? undefined : pair.slice(eq + 1).trim();
    if (pair.trim() === '') throw new UserError(`${where}: empty knob=value pair in "${spec}"`);
    if (val === undefined || k === '')
      throw new UserError(`${where}: "${pair}" is not knob=value (knobs: ${Object.keys(KNOBS).join(', ')})`);
    if (!isKnob(k))
      throw new UserError(`${where}: unknown knob "${k}" (knobs: ${Object.keys(KNOBS).join(', ')})`);
    if (Object.hasOwn(knobs, k)) throw new UserError(`${where}: knob ${k} is given twice`);
    knobs[k] = val;
  }
  withKnobs(DEFAULT_VARIANT, knobs, where);
  return knobs;
}

/** The knobs where a variant differs from the default, as "k=v" pairs (for output). */
export function describeVariant(v: Variant): string {
  const diff = Object.entries(v).filter(([k, val]) => DEFAULT_VARIANT[k as KnobName] !== val);
  return diff.length === 0 ? '(current kernel)' : diff.map(([k, val]) => `${k}=${val}`).join(',');
}
