/**
 * Device assignment after the VM has started (case 1 of issue 14): kvm_arch_start_assignment
 * (arch/x86/kvm/x86.c), which VFIO calls when a device is added to the VM, increments
 * kvm->arch.assigned_device_count; on the first device it calls the vendor hook
 * kvm_x86_ops.pi_start_assignment, on VMX vmx_pi_start_assignment (vmx/posted_intr.c), which
 * requests KVM_REQ_UNBLOCK of every vCPU (kvm_make_all_cpus_request, which also wakes a vCPU
 * sleeping in kvm_vcpu_block).
 *
 * Why (a2486020a82e "KVM: VMX: update vcpu posted-interrupt descriptor when assigning device",
 * Marcelo Tosatti, 5.13, with 57ab87947abf "KVM: x86: add start_assignment hook to kvm_x86_ops" and
 * 084071d5e922 "KVM: rename KVM_REQ_PENDING_TIMER to KVM_REQ_UNBLOCK"): a vCPU that blocks while
 * the VM has no assigned device keeps its notification vector (vmx_needs_pi_wakeup is false, so
 * vmx_vcpu_pi_put returns at once; in 2021 pi_pre_block returned early on the same test). Once a
 * device is assigned, the IOMMU posts to it: PIR and ON are set and POSTED_INTR_VECTOR goes to a
 * pCPU whose host handler does nothing, and every later sender finds ON set and sends nothing. The
 * request makes kvm_vcpu_check_block leave the block; the vCPU is still halted, so vcpu_run
 * blocks it again, and this time the put sees the device and installs the wake-up vector.
 */
import type { Sink } from '../platform/events.ts';
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU, kvmVcpu, kvmVcpuWakeUp, TASK_RUNNING } from './state.ts';
import type { Variant } from './variants.ts';

/**
 * KVM_REQ_UNBLOCK: leave kvm_vcpu_block without changing the activity state (kvm_vcpu_check_block
 * tests it after kvm_arch_vcpu_runnable). The model's own bit in vcpu->requests (state.ts).
 */
export const KVM_REQ_UNBLOCK = 1 << 2;

/** The VM-wide block `kvm.assign` (struct kvm_arch). */
export const KVM_ASSIGN = {
  /** kvm->arch.assigned_device_count. */
  ASSIGNED_DEVICE_COUNT: 0,
  SIZE: 1,
} as const;

export const KVM_ASSIGN_BLOCK = 'kvm.assign';

const FIELDS: readonly FieldDesc[] = [
  { name: 'assignedDeviceCount', offset: KVM_ASSIGN.ASSIGNED_DEVICE_COUNT, kind: 'u32' },
];

/** The block, for SystemOptions.extras: the VM starts with no assigned device. */
export const KVM_ASSIGN_EXTRA: ExtraBlock = {
  name: KVM_ASSIGN_BLOCK,
  prefix: 'kvm',
  size: KVM_ASSIGN.SIZE,
  fields: FIELDS,
};

/** kvm_arch_has_assigned_device. */
export function hasAssignedDevice(w: World): boolean {
  return w.m[w.L.extra.get(KVM_ASSIGN_BLOCK)! + KVM_ASSIGN.ASSIGNED_DEVICE_COUNT] !== 0;
}

/**
 * kvm_arch_start_assignment from a VFIO ioctl (a host thread, no vCPU): the count goes up (an
 * atomic_inc_return); then, with `startAssignment: kick-unblock` and on the first device,
 * vmx_pi_start_assignment: for each vCPU, kvm_make_request(KVM_REQ_UNBLOCK) then the wake-up half
 * of the kick (kvm_vcpu_wake_up; a vCPU in guest mode needs no IPI: it is not blocked, and it
 * sees the device at its next put). Before a2486020a82e the hook did not exist.
 */
export function emitStartAssignment(b: ProgramBuilder, v: Variant, vcpus: number): void {
  const fn = 'kvm_arch_start_assignment';
  const done = b.fresh('assign_done');
  const tDone = b.target(done);
  b.step(fn, 'atomic_inc_return', (w) => {
    const o = w.L.extra.get(KVM_ASSIGN_BLOCK)! + KVM_ASSIGN.ASSIGNED_DEVICE_COUNT;
    w.m[o]++;
    return w.m[o] === 1 && v.startAssignment === 'kick-unblock' ? NEXT : tDone.pc;
  }).barriers(1);
  if (v.startAssignment === 'kick-unblock') {
    for (let x = 0; x < vcpus; x++) {
      b.step('vmx_pi_start_assignment', `kvm_make_request(KVM_REQ_UNBLOCK, vcpu${x})`, (w) => {
        w.m[kvmVcpu(w, x) + KVM_VCPU.REQUESTS] |= KVM_REQ_UNBLOCK;
        return NEXT;
      }).barriers(1);
      b.step('kvm_make_all_cpus_request', `kvm_vcpu_wake_up(vcpu${x})`, (w, _a, sink: Sink) => {
        kvmVcpuWakeUp(w, sink, x);
        return NEXT;
      });
    }
  }
  b.mark(done);
}

/**
 * The end of kvm_vcpu_check_block for vCPU x when the VM's devices can be assigned late:
 * kvm_check_request(KVM_REQ_UNBLOCK) (test and clear). A set request ends the block
 * (finish_rcuwait); the vCPU is still halted, so vcpu_run's loop calls vcpu_block -> kvm_vcpu_halt
 * again, at `again`.
 */
export function emitCheckUnblock(b: ProgramBuilder, x: number, again: { pc: number }): void {
  const leave = b.fresh('unblock');
  const tLeave = b.target(leave);
  const stay = b.fresh('stay_blocked');
  const tStay = b.target(stay);
  b.step('kvm_check_request', 'KVM_REQ_UNBLOCK', (w) => {
    const k = kvmVcpu(w, x);
    if ((w.m[k + KVM_VCPU.REQUESTS] & KVM_REQ_UNBLOCK) === 0) return tStay.pc;
    w.m[k + KVM_VCPU.REQUESTS] &= ~KVM_REQ_UNBLOCK;
    return tLeave.pc;
  });
  b.mark(leave);
  b.step('kvm_vcpu_block', 'finish_rcuwait (-EINTR)', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.BLOCKING] = 0;
    w.m[k + KVM_VCPU.TASK] = TASK_RUNNING;
    return again.pc;
  });
  b.mark(stay);
}
