/**
 * A guest x2APIC ICR write (WRMSR 830H, intercepted without IPIv), handled either in the full exit
 * path or in the IRQs-off exit fastpath (seed 003; kvm-semantics.md section 6):
 *
 * full-exit: VM exit; vcpu->mode = OUTSIDE_GUEST_MODE; IRQs on; srcu_read_lock (two full
 *   barriers: "the expensive bit", Paolo Bonzini in seed 003); emulate WRMSR and deliver the IPI
 *   (kvm_x2apic_icr_write -> kvm_apic_send_ipi -> vmx_deliver_posted_interrupt); then a new
 *   vcpu_enter_guest (srcu_read_unlock, IRQs off, IN_GUEST_MODE, sync PIR, VM entry).
 * fastpath: VM exit with IRQs still off and vcpu->mode still IN_GUEST_MODE;
 *   handle_fastpath_wrmsr -> kvm_x2apic_icr_write_fast delivers at once; EXIT_FASTPATH_REENTER_GUEST
 *   syncs PIR and re-enters (1e9e2622a149, then the 2020 "ultra fastpath").
 */
import { EXIT_REASON } from '../platform/events.ts';
import { ipivPostTo } from '../platform/hardware.ts';
import { vcpuRunningOn } from '../platform/world.ts';
import { emitAvicIcrWrite } from './avic.ts';
import { emitDeliverPostedInterrupt } from './deliver.ts';
import {
  emitEnterGuest,
  emitExitToHost,
  emitSyncPirToIrr,
  emitVmExitStep,
  vmEntryStep,
} from './enter-guest.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import type { Variant } from './variants.ts';

/**
 * Emits the handling of a guest ICR write by vCPU x of a fixed, physical IPI to vCPU `target`.
 * With IPIv the x2APIC ICR is not intercepted: the CPU posts the IPI itself, without a VM exit.
 * With AMD AVIC the CPU sends it too, and exits only when the target is not running (avic.ts).
 */
export function emitIcrWrite(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  target: number,
  dest: number,
  vector: number,
): void {
  if (b.avic) {
    emitAvicIcrWrite(b, v, x, target, dest, vector);
    return;
  }
  if (b.features.ipiv) {
    emitIpivIcrWrite(b, x, target, vector);
    return;
  }
  emitVmExitStep(b, x, 'vmexit (WRMSR 0x830)', EXIT_REASON.MSR_WRITE, 0x830);
  if (v.icrWrite === 'fastpath') {
    // handle_fastpath_wrmsr -> kvm_x2apic_icr_write_fast: still IRQs off, still IN_GUEST_MODE.
    emitDeliverPostedInterrupt(b, v, target, vector, x);
    if (v.fastpathReentrySync === 'present') emitSyncPirToIrr(b, v, x);
    // EXIT_FASTPATH_REENTER_GUEST re-enters unless kvm_vcpu_exit_request; then the exit is handled
    // in the full path, which ends in a new vcpu_enter_guest.
    const full = b.fresh('fastpath_exit');
    const end = b.fresh('fastpath_end');
    vmEntryStep(b, x, b.target(full), b.target(end));
    b.mark(full);
    emitEnterGuest(b, v, x);
    b.mark(end);
    return;
  }
  emitExitToHost(b, x);
  b.step('vcpu_enter_guest', 'srcu_read_lock', () => NEXT).barriers(2);
  emitDeliverPostedInterrupt(b, v, target, vector, x);
  emitEnterGuest(b, v, x);
}

/**
 * IPI virtualization (hw-semantics.md 4; KVM's IPIv series, Zeng Guang and Chao Gao, 5.19): KVM
 * passes WRMSR 830H through, and a fixed, physical, unicast IPI to a vCPU in the PID-pointer table
 * is posted by the sending CPU with the VT-d rule (PIR set; ON, and NV to NDST, only if ON and SN
 * were clear), as one guest instruction.
 */
function emitIpivIcrWrite(b: ProgramBuilder, x: number, target: number, vector: number): void {
  b.step(
    'guest',
    'WRMSR 0x830 (IPIv)',
    (w, _a, sink) => {
      ipivPostTo(w, sink, x, target, vector);
      return NEXT;
    },
    (w) => vcpuRunningOn(w, x) >= 0,
  );
}
