/**
 * KVM's AVIC code paths (arch/x86/kvm/svm/avic.c and svm.c; kvm-semantics.md section 7) as atomic
 * steps, for machines with `features.avic`. The hardware (backing pages, the physical APIC ID
 * table, GA-mode IRTEs, the GA log, the doorbell) is src/model/hw/avic.ts, wired to the World by
 * src/model/platform/avic-steps.ts, which the runner uses too; this file adds the KVM threads around
 * it:
 *
 *   svm_deliver_interrupt           kvm_lapic_set_irr in the target's backing page, a full barrier,
 *                                   then svm_complete_interrupt_delivery: read vcpu->mode;
 *                                   IN_GUEST_MODE -> avic_ring_doorbell to vcpu->cpu, otherwise
 *                                   kvm_vcpu_wake_up (the vCPU sees the IRR at its block check or
 *                                   at VMRUN, which evaluates the page).
 *   guest ICR write                 done by the sending CPU (avicGuestIcr): IRR in the target's
 *                                   page, a doorbell if IsRunning, else the trap-like
 *                                   AVIC_INCOMPLETE_IPI exit, after which
 *                                   avic_incomplete_ipi_interception kicks the target
 *                                   (avic_kick_target_vcpus -> svm_complete_interrupt_delivery).
 *   avic_vcpu_load / avic_vcpu_put  IsRunning and the host APIC ID in the table entry, IsRun in the
 *                                   IRTEs; load is skipped while the vCPU is blocking, put when
 *                                   IsRunning is already clear.
 *   avic_vcpu_blocking / _unblocking  kvm_vcpu_block's arch hooks: the put with GALogIntr set
 *                                   (AVIC_START_BLOCKING, "generate GA log IRQs only if the vCPU
 *                                   is blocking", 2025), and the load when the block ends.
 *   avic_ga_log_notifier            the host's GA-log interrupt: kvm_vcpu_wake_up for each entry.
 *
 * The APICv-inactive path of svm_complete_interrupt_delivery (KVM_REQ_EVENT and a kick while AVIC
 * is inhibited) is not modelled: on an AVIC machine the vCPUs' AVIC is always active here.
 */
import { avicHighestDeliverable, avicSetIrr } from '../hw/avic.ts';
import { regSet } from '../hw/bits.ts';
import { avicDevicePost, avicGuestIcr, avicRingDoorbell, gaLogInterrupt } from '../platform/avic-steps.ts';
import type { IcrWrite } from '../platform/hardware.ts';
import { PCPU, VCPU, VCPU_F_IF } from '../platform/layout.ts';
import { avicPage, pcpuApicId, vcpuRunningOn, type World } from '../platform/world.ts';
import { emitAvicPutLocked, irListLock } from './avic-irte.ts';
import { emitEnterGuest, emitExitToHost } from './enter-guest.ts';
import { countGaLogEntries } from './ga-log-cost.ts';
import { avicIsRunning, avicLoad, avicStopRunning } from './ir-list.ts';
import { emitLock, emitUnlock } from './locks.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { emitFinishTaskSwitch, pcpuOccupied } from './sched.ts';
import { KVM_VCPU, kvmVcpu, kvmVcpuWakeUp, MODE_IN_GUEST } from './state.ts';
import type { Variant } from './variants.ts';

/**
 * svm_complete_interrupt_delivery for vCPU x, run by `sender`'s thread (-1: another context):
 * smp_load_acquire(&vcpu->mode); in guest mode, avic_ring_doorbell (a WRMSR to the APIC ID of
 * vcpu->cpu, skipped when that is the sender's own pCPU: a stale pCPU is harmless, as VMRUN
 * evaluates the page); otherwise kvm_vcpu_wake_up. The `avicWakeNotInGuest: missing` mutation
 * leaves out the wake-up.
 */
function emitCompleteInterruptDelivery(b: ProgramBuilder, v: Variant, x: number, sender: number): void {
  const wake = v.avicWakeNotInGuest === 'present';
  b.step('svm_complete_interrupt_delivery', 'read_mode', (w, _a, sink) => {
    const k = kvmVcpu(w, x);
    if (w.m[k + KVM_VCPU.MODE] === MODE_IN_GUEST) {
      if (x !== sender) avicRingDoorbell(w, sink, pcpuApicId(w.m[k + KVM_VCPU.CPU] - 1), x);
    } else if (wake) {
      kvmVcpuWakeUp(w, sink, x);
    }
    return NEXT;
  });
}

/**
 * svm_deliver_interrupt (svm.c): kvm_lapic_set_irr sets the vector in the target's backing page,
 * which is its APIC page (a locked set_bit, then smp_mb__after_atomic: a full barrier that pairs
 * with the one after IN_GUEST_MODE in vcpu_enter_guest, so that either VMRUN sees the bit or the
 * sender sees IN_GUEST_MODE and rings the doorbell); then svm_complete_interrupt_delivery.
 */
export function emitSvmDeliverInterrupt(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  vector: number,
  sender: number,
  level = false,
): void {
  b.step('svm_deliver_interrupt', 'kvm_lapic_set_irr', (w) => {
    // __apic_accept_irq: IRR, and TMR set for a level-triggered vector, cleared for an edge one.
    avicSetIrr(w.m, avicPage(w, x), vector, level);
    regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
    return NEXT;
  }).barriers(1);
  emitCompleteInterruptDelivery(b, v, x, sender);
}

/**
 * A guest ICR write by vCPU x of a fixed IPI on an AVIC machine, to vCPU `targets[0]` by physical
 * `dest` (shorthand 0) or to every vCPU of `targets` by shorthand all-excluding-self (3): the
 * sending CPU does it (one guest instruction, avicGuestIcr). When a target's IsRunning was clear
 * the write ends in AVIC_INCOMPLETE_IPI (trap-like, cause TARGET_NOT_RUNNING), handled in the full
 * exit path: OUTSIDE_GUEST_MODE, IRQs on, avic_incomplete_ipi_interception ->
 * avic_kick_target_vcpus, which kicks every vCPU the message matches (kvm_apic_match_dest: for
 * all-excluding-self each vCPU but the sender; the fast lookup declines a shorthand) with
 * avic_kick_vcpu -> svm_complete_interrupt_delivery, then a new vcpu_enter_guest.
 */
export function emitAvicIcrWrite(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  targets: readonly number[],
  dest: number,
  vector: number,
  shorthand: 0 | 3 = 0,
): void {
  const icr: IcrWrite = {
    vector,
    deliveryMode: 0,
    logical: false,
    levelTriggered: false,
    shorthand,
    dest,
  };
  const done = b.fresh('avic_icr_done');
  const tDone = b.target(done);
  b.step(
    'guest',
    shorthand === 0 ? 'write ICR (AVIC)' : 'write ICR all-but-self (AVIC)',
    (w, _a, sink) => {
      avicGuestIcr(w, sink, x, icr);
      return vcpuRunningOn(w, x) >= 0 ? tDone.pc : NEXT;
    },
    (w) => vcpuRunningOn(w, x) >= 0,
  ).exits();
  emitExitToHost(b, x);
  for (const t of targets) emitCompleteInterruptDelivery(b, v, t, x);
  emitEnterGuest(b, v, x);
  b.mark(done);
}

/**
 * Sched-in of vCPU x on pCPU p (svm_vcpu_load -> avic_vcpu_load, then vcpu->cpu = p in
 * kvm_arch_vcpu_load): the table entry gets p's APIC ID and IsRunning, the IRTEs IsRun and
 * Destination p (avicLoad). avic_vcpu_load returns at once while the vCPU is blocking: a vCPU
 * scheduled in inside kvm_vcpu_block stays not running for AVIC until avic_vcpu_unblocking. With
 * `then`, the last step jumps there.
 */
export function emitAvicLoad(b: ProgramBuilder, x: number, p: number, then?: { pc: number }): void {
  if (b.avicIrList) emitLock(b, 'avic_vcpu_load', irListLock(x));
  b.step(
    'avic_vcpu_load',
    'set_is_running',
    (w, _a, sink) => {
      const k = kvmVcpu(w, x);
      w.m[k + KVM_VCPU.LOADED] = p + 1;
      w.m[w.L.pcpu[p] + PCPU.VMCS] = x + 1;
      w.m[w.L.vcpu[x] + VCPU.PCPU] = p + 1;
      w.m[k + KVM_VCPU.PREEMPTED] = 0;
      if (w.m[k + KVM_VCPU.BLOCKING] !== 1) avicLoad(w, sink, x, p);
      return NEXT;
    },
    (w) => !pcpuOccupied(w, p, x),
    p,
  );
  if (b.avicIrList) emitUnlock(b, 'avic_vcpu_load', irListLock(x));
  b.step('kvm_arch_vcpu_load', 'vcpu_cpu_store', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] = p + 1;
    return then === undefined ? NEXT : then.pc;
  });
}

/**
 * Sched-out of vCPU x (kvm_sched_out, svm_vcpu_put -> avic_vcpu_put): nothing for AVIC when
 * IsRunning is already clear (avic_vcpu_blocking cleared it); otherwise IsRunning and IsRun are
 * cleared, with GALogIntr only for a vCPU that is blocking. Then the context switch.
 */
export function emitAvicPut(b: ProgramBuilder, v: Variant, x: number, preempted: boolean): void {
  if (b.avicIrList) {
    emitAvicPutLocked(b, v, x, preempted);
    return;
  }
  const gaLog = v.avicBlockingGaLogIntr === 'present';
  // Before b03500f03ea0 every put left GALogIntr set (case 5, ga-log-cost.ts).
  const everyPut = v.avicGaLogIntr === 'every-put';
  b.step('kvm_sched_out', preempted ? 'preempted' : 'put', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.PREEMPTED] = preempted ? 1 : 0;
    w.m[w.L.pcpu[w.m[k + KVM_VCPU.LOADED] - 1] + PCPU.HOST_IF] = 0;
    if (avicIsRunning(w, x)) avicStopRunning(w, x, everyPut || (gaLog && w.m[k + KVM_VCPU.BLOCKING] === 1));
    return NEXT;
  });
  emitFinishTaskSwitch(b, x);
}

/**
 * avic_vcpu_blocking, kvm_vcpu_block's first step (kvm_arch_vcpu_blocking): avic_vcpu_put before
 * the vCPU blocks, with GALogIntr set in its IRTEs (AVIC_START_BLOCKING) so that a device
 * interrupt is logged and avic_ga_log_notifier wakes it. IsRunning = 0 from here on makes a guest
 * IPI exit on its sender, which then wakes the vCPU; an IPI that saw IsRunning = 1 set the IRR
 * before, and the block check reads it (KVM's comment: set_current_state's barrier orders the
 * IsRunning store before that read). `avicBlockingGaLogIntr: missing` leaves GALogIntr clear.
 */
export function emitAvicBlocking(b: ProgramBuilder, v: Variant, x: number): void {
  const gaLog = v.avicBlockingGaLogIntr === 'present';
  if (b.avicIrList) emitLock(b, 'avic_vcpu_blocking', irListLock(x));
  b.step('avic_vcpu_blocking', 'avic_vcpu_put', (w) => {
    if (avicIsRunning(w, x)) avicStopRunning(w, x, gaLog);
    return NEXT;
  });
  if (b.avicIrList) emitUnlock(b, 'avic_vcpu_blocking', irListLock(x));
}

/** avic_vcpu_unblocking, after finish_rcuwait: avic_vcpu_load on vcpu->cpu. */
export function emitAvicUnblocking(b: ProgramBuilder, x: number): void {
  if (b.avicIrList) emitLock(b, 'avic_vcpu_unblocking', irListLock(x));
  b.step('avic_vcpu_unblocking', 'avic_vcpu_load', (w, _a, sink) => {
    avicLoad(w, sink, x, w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] - 1);
    return NEXT;
  });
  if (b.avicIrList) emitUnlock(b, 'avic_vcpu_unblocking', irListLock(x));
}

/**
 * kvm_arch_vcpu_runnable for a halted vCPU on AVIC: the backing page is the APIC page, so
 * kvm_cpu_has_interrupt reads its IRR directly (no PIR to sync): the highest IRR vector's class
 * above the PPR's (apic_has_interrupt_for_ppr), and guest RFLAGS.IF.
 */
export function avicVcpuRunnable(w: World, x: number): boolean {
  if ((w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_IF) === 0) return false;
  return avicHighestDeliverable(w.m, avicPage(w, x)) >= 0;
}

/**
 * A device interrupt through GA-mode IRTE i (avicDevicePost: IRR, then a doorbell, a GA-log entry,
 * or nothing), then the host's handling of the GA-log interrupt it may have raised
 * (amd_iommu_int_thread -> iommu_poll_ga_log -> avic_ga_log_notifier -> kvm_vcpu_wake_up), as the
 * device actor's next step: it may run at any later point, and does nothing if nothing was logged.
 */
export function emitAvicDevicePost(b: ProgramBuilder, i: number): void {
  b.step('iommu', `post irte${i} (GA mode)`, (w, _a, sink) => {
    avicDevicePost(w, sink, i);
    return NEXT;
  });
  b.step('avic_ga_log_notifier', 'kvm_vcpu_wake_up', (w, _a, sink) => {
    countGaLogEntries(w);
    gaLogInterrupt(w, sink, kvmVcpuWakeUp);
    return NEXT;
  });
}
