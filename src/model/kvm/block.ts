/**
 * A guest HLT and kvm_vcpu_block (virt/kvm/kvm_main.c; kvm-semantics.md sections 3 and the model
 * checklist B7): with HLT exiting, the guest's HLT is a VM exit; kvm_emulate_halt marks the vCPU
 * halted and kvm_vcpu_halt blocks it (halt polling is not modelled: a poll is a block check
 * without the sched-out).
 *
 * kvm_vcpu_block: prepare_to_rcuwait (now kvm_vcpu_is_blocking, and kvm_vcpu_wake_up can find the
 * thread), then a loop: set_current_state(TASK_INTERRUPTIBLE); kvm_vcpu_check_block (which syncs
 * PIR into vIRR through kvm_apic_has_interrupt -> apic_has_interrupt_for_ppr and asks whether an
 * interrupt is pending and allowed); if so, leave; else schedule(). A wake-up between the check
 * and schedule() leaves the task TASK_RUNNING, and schedule() returns at once. Otherwise the
 * thread is switched out (kvm_sched_out, vmx_vcpu_pi_put: posted-intr.ts), sleeps until woken, is
 * switched back in (vmx_vcpu_pi_load, on the pCPU the scenario names: a migration if it differs)
 * and checks again. finish_rcuwait ends the block.
 *
 * On AMD AVIC (avic.ts) the block starts with avic_vcpu_blocking and ends with
 * avic_vcpu_unblocking (kvm_arch_vcpu_blocking/unblocking), the check reads the backing page, and
 * the sched-out and sched-in are avic_vcpu_put and avic_vcpu_load.
 */
import { prioClass, regHighest } from '../hw/bits.ts';
import { VAPIC } from '../hw/vapic.ts';
import { EXIT_REASON } from '../platform/events.ts';
import { vcpuNmiPending } from '../platform/hardware.ts';
import { VCPU, VCPU_F_IF, VCPU_F_NMI_BLOCKED } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { emitCheckUnblock } from './assignment.ts';
import { avicVcpuRunnable, emitAvicBlocking, emitAvicLoad, emitAvicPut, emitAvicUnblocking } from './avic.ts';
import { apicPpr, emitExit, emitSyncPirToIrr } from './enter-guest.ts';
import { emitPiLoad, emitPiPut } from './posted-intr.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { emitSchedIn } from './sched.ts';
import { KVM_VCPU, kvmVcpu, TASK_INTERRUPTIBLE, TASK_RUNNING } from './state.ts';
import type { Variant } from './variants.ts';

/**
 * kvm_arch_vcpu_runnable for a halted vCPU, after the sync: a pending NMI the guest can take
 * (kvm_vcpu_has_events: nmi_pending and nmi_allowed, i.e. no NMI handler running), or
 * kvm_cpu_has_interrupt (the highest vIRR vector's class above the PPR's,
 * apic_has_interrupt_for_ppr) and kvm_arch_interrupt_allowed (guest RFLAGS.IF; no STI shadow is
 * left: kvm_emulate_halt skipped the HLT, which ends it).
 */
export function haltedVcpuRunnable(w: World, x: number): boolean {
  if (nmiRunnable(w, x)) return true;
  if ((w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_IF) === 0) return false;
  const highest = regHighest(w.m, w.L.vapic[x] + VAPIC.VIRR);
  return highest >= 0 && prioClass(highest) > prioClass(apicPpr(w, x));
}

/** A pending NMI that KVM may inject (no NMI handler running): it makes a halted vCPU runnable. */
function nmiRunnable(w: World, x: number): boolean {
  return vcpuNmiPending(w, x) > 0 && (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_NMI_BLOCKED) === 0;
}

/**
 * vCPU x executes HLT in the guest and blocks until runnable; `wakeOn` is the pCPU it is scheduled
 * back on after each sleep. The thread ends outside the guest, ready for vcpu_enter_guest.
 */
export function emitHaltAndBlock(b: ProgramBuilder, v: Variant, x: number, wakeOn: number): void {
  emitExit(b, x, EXIT_REASON.HLT);
  const avic = b.avic;
  if (avic) emitAvicBlocking(b, v, x);
  const fn = 'kvm_vcpu_block';
  const loop = b.fresh('block_loop');
  const tLoop = b.target(loop);
  const out = b.fresh('block_out');
  const tOut = b.target(out);
  const halt = b.fresh('halt');
  const tHalt = b.target(halt);
  b.mark(halt);
  b.step(fn, 'prepare_to_rcuwait', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.BLOCKING] = 1;
    return NEXT;
  });
  b.mark(loop);
  b.step(fn, 'set_current_state', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.TASK] = TASK_INTERRUPTIBLE;
    return NEXT;
  });
  if (!avic) emitSyncPirToIrr(b, v, x);
  const runnable = avic
    ? (w: World, y: number) => nmiRunnable(w, y) || avicVcpuRunnable(w, y)
    : haltedVcpuRunnable;
  b.step('kvm_vcpu_check_block', 'kvm_arch_vcpu_runnable', (w) => (runnable(w, x) ? tOut.pc : NEXT));
  if (b.dynamicAssignment && v.startAssignment === 'kick-unblock') emitCheckUnblock(b, x, tHalt);
  // __schedule: a task woken since set_current_state is still TASK_RUNNING and is not switched out.
  b.step('schedule', 'check_task_state', (w) =>
    w.m[kvmVcpu(w, x) + KVM_VCPU.TASK] === TASK_RUNNING ? tLoop.pc : NEXT,
  );
  if (avic) emitAvicPut(b, v, x, false);
  else emitPiPut(b, v, x, false);
  b.step(
    fn,
    'woken',
    () => NEXT,
    (w) => w.m[kvmVcpu(w, x) + KVM_VCPU.TASK] === TASK_RUNNING,
  );
  emitSchedIn(
    b,
    x,
    wakeOn,
    (p, then) => (avic ? emitAvicLoad(b, x, p, then) : emitPiLoad(b, v, x, p, then)),
    tLoop,
  );
  b.mark(out);
  b.step(fn, 'finish_rcuwait', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.BLOCKING] = 0;
    w.m[k + KVM_VCPU.TASK] = TASK_RUNNING;
    return NEXT;
  });
  if (avic) emitAvicUnblocking(b, x);
}
