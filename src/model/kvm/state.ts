/**
 * KVM's software state per vCPU, kept in the World beside the hardware (kvm-semantics.md 0.2):
 * vcpu->mode, vcpu->cpu, whether it was preempted, and instrumentation the properties need.
 */
import type { FieldDesc } from '../system/layout.ts';

export const KVM_VCPU = {
  /** vcpu->mode: MODE_OUTSIDE_GUEST, MODE_IN_GUEST, MODE_EXITING_GUEST. */
  MODE: 0,
  /** vcpu->cpu + 1: the pCPU it was last loaded on (0: never). */
  CPU: 1,
  /** vcpu->preempted, set by kvm_sched_out when the task is still runnable. */
  PREEMPTED: 2,
  /**
   * Number of software senders between setting PIR and sending (or deciding not to send) the
   * notification for this vCPU: the gap the no-stuck-PIR property ignores (kvm-semantics.md P2).
   */
  POSTING: 3,
  /** pCPU + 1 between sched-in (vcpu_load) and sched-out (vcpu_put), 0 otherwise: the task owns that pCPU. */
  LOADED: 4,
  SIZE: 5,
} as const;

export const MODE_OUTSIDE_GUEST = 0;
export const MODE_IN_GUEST = 1;
export const MODE_EXITING_GUEST = 2;

export const KVM_VCPU_FIELDS: readonly FieldDesc[] = [
  { name: 'mode', offset: KVM_VCPU.MODE, kind: 'u32' },
  { name: 'cpu', offset: KVM_VCPU.CPU, kind: 'index1' },
  { name: 'preempted', offset: KVM_VCPU.PREEMPTED, kind: 'u32' },
  { name: 'loadedOn', offset: KVM_VCPU.LOADED, kind: 'index1' },
];
