/**
 * KVM's software state per vCPU, kept in the World beside the hardware (kvm-semantics.md 0.2):
 * vcpu->mode, vcpu->cpu, whether it was preempted, and instrumentation the properties need.
 */
import { EV, type Sink } from '../platform/events.ts';
import type { FieldDesc } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';

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
  /**
   * kvm_vcpu_is_blocking: the thread is inside kvm_vcpu_block, between prepare_to_rcuwait and
   * finish_rcuwait, so rcuwait_wake_up (kvm_vcpu_wake_up) finds it.
   */
  BLOCKING: 5,
  /** The task's state: TASK_RUNNING (0) or TASK_INTERRUPTIBLE (1), set before the block check. */
  TASK: 6,
  /**
   * Bitmask of the pCPUs whose wakeup_vcpus_on_cpu list holds this vCPU (one bit in a correct
   * kernel; the model keeps a mask so that a mutation putting it on two lists is visible).
   */
  WAKEUP_LISTS: 7,
  /**
   * 1 while this thread is between a wake-up-list change and the matching NV change
   * (pi_enable_wakeup_handler, the slow path of vmx_vcpu_pi_load): the gap the wake-up-list
   * invariant ignores, as no-stuck-PIR ignores a sender between its two test-and-sets.
   */
  WAKEUP_UPDATING: 8,
  /** vcpu->requests: KVM_REQ_* bits (KVM_REQ_EVENT and KVM_REQ_APICV_UPDATE are modelled). */
  REQUESTS: 9,
  /**
   * The vector kvm_check_and_inject_events queued for injection at the next VM entry (0: none;
   * vectors below 16 are never injected as interrupts): the path without APICv, where KVM injects
   * through VM-entry event injection.
   */
  INJECT: 10,
  /**
   * apic->apicv_active (AVIC on this vCPU): what __kvm_vcpu_update_apicv last computed from the
   * VM's inhibits (apicv.ts).
   */
  APICV_ACTIVE: 11,
  /**
   * The vCPU waits for an IRQ window: svm_set_vintr put V_IRQ and the VINTR intercept in its VMCB,
   * and svm_clear_vintr has not taken them out yet (irq-window.ts).
   */
  VINTR: 12,
  /** svm->avic_irq_window: this vCPU counts in apicv_nr_irq_window_req (the `counter` variant). */
  AVIC_IRQ_WINDOW: 13,
  SIZE: 14,
} as const;

/** KVM_REQ_EVENT: re-evaluate pending events (interrupts to inject) before the next entry. */
export const KVM_REQ_EVENT = 1 << 0;
/**
 * KVM_REQ_APICV_UPDATE: recompute apicv_active from the VM's inhibits before the next entry
 * (kvm_vcpu_update_apicv). The kernel's request number differs; the model keeps its own bits.
 */
export const KVM_REQ_APICV_UPDATE = 1 << 1;

export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;

export const MODE_OUTSIDE_GUEST = 0;
export const MODE_IN_GUEST = 1;
export const MODE_EXITING_GUEST = 2;

export const KVM_VCPU_FIELDS: readonly FieldDesc[] = [
  {
    name: 'mode',
    offset: KVM_VCPU.MODE,
    kind: 'enum',
    names: ['OUTSIDE_GUEST_MODE', 'IN_GUEST_MODE', 'EXITING_GUEST_MODE'],
  },
  { name: 'cpu', offset: KVM_VCPU.CPU, kind: 'index1' },
  { name: 'preempted', offset: KVM_VCPU.PREEMPTED, kind: 'u32' },
  { name: 'loadedOn', offset: KVM_VCPU.LOADED, kind: 'index1' },
  { name: 'blocking', offset: KVM_VCPU.BLOCKING, kind: 'u32' },
  { name: 'task', offset: KVM_VCPU.TASK, kind: 'enum', names: ['TASK_RUNNING', 'TASK_INTERRUPTIBLE'] },
  {
    name: 'requests',
    offset: KVM_VCPU.REQUESTS,
    kind: 'flags',
    bits: ['KVM_REQ_EVENT', 'KVM_REQ_APICV_UPDATE', 'KVM_REQ_UNBLOCK'],
  },
  { name: 'inject', offset: KVM_VCPU.INJECT, kind: 'u8' },
  {
    name: 'wakeupList',
    offset: KVM_VCPU.WAKEUP_LISTS,
    kind: 'flags',
    bits: Array.from({ length: 32 }, (_, p) => `pcpu${p}`),
  },
  { name: 'apicvActive', offset: KVM_VCPU.APICV_ACTIVE, kind: 'u32' },
  { name: 'vintr', offset: KVM_VCPU.VINTR, kind: 'u32' },
  { name: 'avicIrqWindow', offset: KVM_VCPU.AVIC_IRQ_WINDOW, kind: 'u32' },
];

/** The offset of vCPU x's KVM state (struct kvm_vcpu) in the World. */
export function kvmVcpu(w: World, x: number): number {
  return w.L.kvmVcpu[x];
}

/**
 * kvm_vcpu_wake_up: rcuwait_wake_up wakes the thread only while it is inside kvm_vcpu_block
 * (between prepare_to_rcuwait and finish_rcuwait), and try_to_wake_up changes only a task that is
 * TASK_INTERRUPTIBLE. Event WAKE_UP: a = vCPU, b = 1 if a sleeping or about-to-sleep task was woken
 * (also the return value).
 */
export function kvmVcpuWakeUp(w: World, sink: Sink, x: number): boolean {
  const k = kvmVcpu(w, x);
  const woke = w.m[k + KVM_VCPU.BLOCKING] === 1 && w.m[k + KVM_VCPU.TASK] === TASK_INTERRUPTIBLE;
  if (woke) w.m[k + KVM_VCPU.TASK] = TASK_RUNNING;
  sink.ev(EV.WAKE_UP, x, woke ? 1 : 0, 0, 0);
  return woke;
}
