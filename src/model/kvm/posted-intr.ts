/**
 * KVM's VMX posted-interrupt code (arch/x86/kvm/vmx/posted_intr.c; kvm-semantics.md section 3): the
 * functions of that file the model takes, each as the steps below:
 *
 *   vmx_vcpu_pi_load           emitPiLoad (with emitReadControl, the read half of its CAS loop)
 *   vmx_needs_pi_wakeup        needsPiWakeup
 *   vmx_vcpu_pi_put            emitPiPut: a preemption, a return to userspace, or the sched-out of
 *                              a thread that sleeps in kvm_vcpu_block (block.ts)
 *   pi_enable_wakeup_handler   emitEnableWakeupHandler
 *   pi_wakeup_handler          piWakeupHandler, and kvmHostHandler (the host handlers KVM installs)
 *
 * and ndstPcpu, which the wake-up-list invariant reads. kvm_vcpu_wake_up (virt/kvm/kvm_main.c)
 * lives with the vCPU state it changes (state.ts); the scheduler's part of a sched-in and
 * sched-out with the other scheduler steps (sched.ts).
 *
 * The wake-up lists are protected by a per-pCPU raw spinlock (wakeup_vcpus_on_cpu_lock), taken
 * with IRQs disabled. Each critical section in KVM is one list operation (an add, a delete, or the
 * handler's scan), so the model makes each one a single atomic step and keeps no lock word: by
 * Lipton's reduction, a lock acquire moves right and a release moves left across the steps of
 * other threads, so a critical section with at most one access to state that other threads touch
 * outside the lock is equivalent to one atomic step. The handler's scan reads ON of every vCPU on
 * the list; with more than one blocked vCPU per pCPU that is more than one such access, and the
 * model then misses interleavings in which ON changes in the middle of a scan (each read still
 * sees a value that ON had during the scan).
 */
import {
  apicIdFromNdst,
  ndstForApicId,
  PID,
  PID_ON,
  PID_SN,
  piControlLo,
  piControlNv,
  piIsPirEmpty,
  piNdst,
  piNv,
  piSetOn,
  piSetSn,
  piTestAndClearSn,
  piTestOn,
  piTryCasControl,
} from '../hw/pid.ts';
import type { Sink } from '../platform/events.ts';
import { sendPhysicalInterrupt } from '../platform/hardware.ts';
import { PCPU, VCPU, VCPU_F_IF } from '../platform/layout.ts';
import { POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR } from '../platform/machine.ts';
import { pcpuApicId, pcpuByApicId, type World } from '../platform/world.ts';
import { hasAssignedDevice } from './assignment.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { emitFinishTaskSwitch, pcpuOccupied } from './sched.ts';
import { KVM_VCPU, kvmVcpu, kvmVcpuWakeUp } from './state.ts';
import { plainStore } from './tso.ts';
import type { Variant } from './variants.ts';

/**
 * The read half of a CAS loop on vCPU x's descriptor control word (both halves, as the 64-bit
 * try_cmpxchg compares them) into the thread's L0 (low: ON, SN, NV) and L1 (NDST). Returns the
 * jump target of a failed CAS attempt: this read.
 */
export function emitReadControl(b: ProgramBuilder, fn: string, x: number): { pc: number } {
  const retry = b.fresh('retry');
  const tRetry = b.target(retry);
  b.mark(retry);
  b.step(fn, 'read_control', (w, a) => {
    w.m[a + ACTOR.L0] = w.m[w.L.pid[x] + PID.CONTROL];
    w.m[a + ACTOR.L1] = piNdst(w.m, w.L.pid[x]);
    return NEXT;
  });
  return tRetry;
}

/**
 * Sched-in of vCPU x on pCPU p: the VMCS becomes current (vmx_vcpu_load_vmcs), then
 * vmx_vcpu_pi_load, then kvm_arch_vcpu_load records vcpu->cpu = p. With `then`, the last step
 * jumps there instead of falling through (the block loop goes back to its check).
 */
export function emitPiLoad(b: ProgramBuilder, v: Variant, x: number, p: number, then?: { pc: number }): void {
  const fn = 'vmx_vcpu_pi_load';
  const recompute = v.load === 'clear-sn-recompute-on';
  const slow = b.fresh('slow');
  const afterClearSn = b.fresh('after_clear_sn');
  const done = b.fresh('done');
  const tSlow = b.target(slow);
  const tAfter = b.target(afterClearSn);
  const tDone = b.target(done);
  const end = b.fresh('end');
  const tEnd = b.target(end);
  // Where to go once SN is handled: the vcpu->cpu store only when the vCPU moved.
  const finish = (w: World) => (w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] === p + 1 ? (then ?? tEnd).pc : tDone.pc);
  const unlink = b.fresh('unlink');
  const tUnlink = b.target(unlink);
  // NV is written only by this vCPU's own load and put, so reading it here, in the thread's first
  // step, sees the value the kernel's later test would see.
  const keepNdst = v.ndstWhileBlocked === 'kept';
  // kvm_sched_in clears vcpu->preempted and vmx_vcpu_load_vmcs makes the VMCS current before
  // vmx_vcpu_pi_load runs; both touch only this thread's state and nothing reads the VMCS pointer
  // until VM entry, so they share a step with the fast-path test.
  b.step(
    fn,
    'check_fast_path',
    (w) => {
      w.m[kvmVcpu(w, x) + KVM_VCPU.LOADED] = p + 1;
      w.m[w.L.pcpu[p] + PCPU.VMCS] = x + 1;
      w.m[w.L.vcpu[x] + VCPU.PCPU] = p + 1;
      w.m[kvmVcpu(w, x) + KVM_VCPU.PREEMPTED] = 0;
      const sameCpu = w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] === p + 1;
      const wakeup = piNv(w.m, w.L.pid[x]) === POSTED_INTR_WAKEUP_VECTOR;
      if (wakeup) return keepNdst ? tUnlink.pc : tSlow.pc;
      return sameCpu ? NEXT : tSlow.pc;
    },
    // The scheduler runs one task per pCPU: sched-in waits until no other vCPU is loaded there.
    (w) => !pcpuOccupied(w, p, x),
    p,
  );
  b.step(fn, 'pi_test_and_clear_sn', (w) =>
    piTestAndClearSn(w.m, w.L.pid[x]) && recompute ? tAfter.pc : finish(w),
  );
  // Slow path, IRQs off. A vCPU that blocked with the wake-up vector first leaves the wake-up list
  // of the pCPU it blocked on (vcpu->cpu), under that list's lock (one step: see above).
  b.mark(unlink);
  b.step(fn, 'wakeup_list_del', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.WAKEUP_LISTS] &= ~(1 << (w.m[k + KVM_VCPU.CPU] - 1));
    w.m[k + KVM_VCPU.WAKEUP_UPDATING] = 1;
    return NEXT;
  });
  // Then rewrite NDST, clear SN, restore NV with a CAS loop on the control word; ON may be set by
  // the IOMMU or a sender at any time, hence one read step and one CAS-attempt step. The
  // `ndstWhileBlocked: rewritten` mutation (checklist X4, the bug fixed in Nov 2019) skips the list
  // and keeps NV: NDST then names a pCPU whose list does not hold the vCPU.
  b.mark(slow);
  const tRetry = emitReadControl(b, fn, x);
  b.step(fn, 'pi_try_set_control', (w, a) => {
    const oldLo = w.m[a + ACTOR.L0];
    const oldNdst = w.m[a + ACTOR.L1];
    const on = (oldLo & PID_ON) !== 0;
    const oldNv = piControlNv(oldLo);
    const nv = keepNdst || oldNv !== POSTED_INTR_WAKEUP_VECTOR ? POSTED_INTR_VECTOR : oldNv;
    const ndst = ndstForApicId(pcpuApicId(p), w.machine.x2apic);
    if (!piTryCasControl(w.m, w.L.pid[x], oldLo, oldNdst, piControlLo(on, false, nv), ndst)) return tRetry.pc;
    w.m[a + ACTOR.L0] = 0;
    w.m[a + ACTOR.L1] = 0;
    w.m[kvmVcpu(w, x) + KVM_VCPU.WAKEUP_UPDATING] = 0;
    return recompute ? tAfter.pc : finish(w);
  });
  b.mark(afterClearSn);
  if (recompute) {
    // c112b5f50232: after clearing SN (a locked op, so a full barrier on x86), a PIR bit posted
    // while SN was set has no ON: set it so the next sync harvests.
    b.step(fn, 'pi_is_pir_empty', (w, a) => {
      w.m[a + ACTOR.L2] = piIsPirEmpty(w.m, w.L.pid[x]) ? 0 : 1;
      return w.m[a + ACTOR.L2] ? NEXT : finish(w);
    });
    b.step(fn, 'pi_set_on', (w) => {
      piSetOn(w.m, w.L.pid[x]);
      return finish(w);
    });
  }
  b.mark(done);
  // kvm_arch_vcpu_load ends with vcpu->cpu = cpu; on the fast path it already holds p, so the
  // store changes nothing and is left out.
  // A plain store, buffered under TSO (tso.ts); the thread's own later reads forward from it.
  const tso = b.memory === 'tso';
  b.step('kvm_arch_vcpu_load', 'vcpu_cpu_store', (w, a) => {
    plainStore(w, a, tso, kvmVcpu(w, x) + KVM_VCPU.CPU, p + 1);
    return then === undefined ? NEXT : then.pc;
  }).passesStores();
  b.mark(end);
}

/**
 * vmx_needs_pi_wakeup (arch/x86/kvm/vmx/posted_intr.c): a blocked vCPU can be the target of a
 * hardware posting, and so needs the wake-up vector, when the VM uses IPIv or VT-d posting (an
 * assigned device: the machine's `vtdPosting`). Otherwise vmx_vcpu_pi_put returns at once: no
 * wake-up handler and no SN (vmx_vcpu_pi_load still clears SN and fixes NV/NDST, "for
 * simplicity"). The `piWakeupWithIpiv: missing` mutation (checklist X7) forgets IPIv.
 */
export function needsPiWakeup(b: ProgramBuilder, v: Variant): boolean {
  const ipiv = b.features.ipiv && v.piWakeupWithIpiv === 'present';
  return ipiv || b.features.vtdPosting;
}

/**
 * vmx_needs_pi_wakeup at the time of the put, for a VM whose devices are assigned while it runs
 * (ProgramBuilder.dynamicAssignment): VT-d posting counts only once kvm_arch_has_assigned_device
 * (assignment.ts).
 */
function needsPiWakeupNow(b: ProgramBuilder, v: Variant): (w: World) => boolean {
  const ipiv = b.features.ipiv && v.piWakeupWithIpiv === 'present';
  if (!b.dynamicAssignment) {
    const needed = needsPiWakeup(b, v);
    return () => needed;
  }
  const vtd = b.features.vtdPosting;
  return (w) => ipiv || (vtd && hasAssignedDevice(w));
}

/**
 * Sched-out of vCPU x: kvm_sched_out (called with IRQs off from prepare_task_switch) records
 * vcpu->preempted, then vmx_vcpu_pi_put decides between the wake-up vector and suppressing
 * notifications (seed 001 changed the rule). The pCPU is released, and runs the next task with
 * IRQs on, only when the put is complete.
 *
 * before (`sn-if-preempted`, 28b835d60fcc until 2025): blocking with guest IRQs enabled → wake-up
 *   handler; separately, preempted → SN=1 (both can happen).
 * after (`sn-unless-blocking`, seed 001): not preempted, blocking, guest IRQs enabled → wake-up
 *   handler; otherwise SN=1.
 */
export function emitPiPut(b: ProgramBuilder, v: Variant, x: number, preempted: boolean): void {
  const after = v.put === 'sn-unless-blocking';
  const needed = needsPiWakeupNow(b, v);
  const setSn = b.fresh('set_sn');
  const tSetSn = b.target(setSn);
  const release = b.fresh('release');
  const tRelease = b.target(release);
  const cpu = (w: World) => w.m[kvmVcpu(w, x) + KVM_VCPU.LOADED] - 1;
  // kvm_vcpu_is_blocking and vmx_interrupt_blocked read this thread's own state (its rcuwait and
  // its guest's RFLAGS.IF in the VMCS), so the decision shares the step with kvm_sched_out.
  const wantsWakeup = (w: World) =>
    w.m[kvmVcpu(w, x) + KVM_VCPU.BLOCKING] === 1 && (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_IF) !== 0;
  // Before seed 001 a blocking vCPU preempted between setting its wait state and scheduling out
  // gets both: the wake-up handler, then SN. Otherwise at most one of the two runs.
  const both = !after && preempted;
  const sn = after || preempted;
  const wake = b.fresh('wakeup');
  const tWake = b.target(wake);
  b.step('kvm_sched_out', preempted ? 'preempted' : 'put', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.PREEMPTED] = preempted ? 1 : 0;
    w.m[w.L.pcpu[cpu(w)] + PCPU.HOST_IF] = 0;
    if (!needed(w)) return tRelease.pc;
    if (wantsWakeup(w) && !(after && preempted)) return both ? NEXT : tWake.pc;
    return sn ? tSetSn.pc : tRelease.pc;
  });
  const setSnStep = () => {
    b.mark(setSn);
    b.step('vmx_vcpu_pi_put', 'pi_set_sn', (w) => {
      piSetSn(w.m, w.L.pid[x]);
      return both ? NEXT : tRelease.pc;
    });
  };
  if (!both) setSnStep();
  b.mark(wake);
  emitEnableWakeupHandler(b, v, x);
  if (both) setSnStep();
  b.mark(release);
  emitFinishTaskSwitch(b, x);
}

/**
 * pi_wakeup_handler on pCPU p (the host's handler for POSTED_INTR_WAKEUP_VECTOR, entered with IRQs
 * off): under the list lock, every vCPU on p's list with ON set is woken.
 */
export function piWakeupHandler(w: World, sink: Sink, p: number): void {
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    const onList = (w.m[kvmVcpu(w, x) + KVM_VCPU.WAKEUP_LISTS] >>> p) & 1;
    if (onList === 1 && piTestOn(w.m, w.L.pid[x])) kvmVcpuWakeUp(w, sink, x);
  }
}

/** The host's interrupt handlers that KVM installs, for the World's host-handler hook. */
export function kvmHostHandler(w: World, sink: Sink, p: number, vector: number): void {
  // POSTED_INTR_VECTOR's handler (kvm_posted_intr_ipi) does nothing but count: the vCPU syncs PIR
  // at its next entry. Only the wake-up vector acts.
  if (vector === POSTED_INTR_WAKEUP_VECTOR) piWakeupHandler(w, sink, p);
}

/**
 * pi_enable_wakeup_handler for vCPU x on the pCPU it is being put on, with IRQs disabled
 * (sched-out): add x to the pCPU's wake-up list; CAS NV to the wake-up vector (NDST is this pCPU
 * already: the vCPU ran here); if ON was set in the snapshot the CAS succeeded with, send the
 * wake-up vector to this pCPU, where it is taken once IRQs are enabled after the context switch:
 * an interrupt posted before NV changed went out on POSTED_INTR_VECTOR, whose host handler does
 * nothing, and try_to_wake_up cannot be called from sched-out. The `wakeupOnRecheck: missing`
 * mutation (checklist X3) leaves that last step out.
 */
export function emitEnableWakeupHandler(b: ProgramBuilder, v: Variant, x: number): void {
  const fn = 'pi_enable_wakeup_handler';
  const cpu = (w: World) => w.m[kvmVcpu(w, x) + KVM_VCPU.LOADED] - 1;
  b.step(fn, 'wakeup_list_add', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.WAKEUP_LISTS] |= 1 << cpu(w);
    w.m[k + KVM_VCPU.WAKEUP_UPDATING] = 1;
    return NEXT;
  });
  const tRetry = emitReadControl(b, fn, x);
  b.step(fn, 'pi_try_set_nv_wakeup', (w, a) => {
    const old = w.m[a + ACTOR.L0];
    const ndst = w.m[a + ACTOR.L1];
    const nv = piControlLo((old & PID_ON) !== 0, (old & PID_SN) !== 0, POSTED_INTR_WAKEUP_VECTOR);
    if (!piTryCasControl(w.m, w.L.pid[x], old, ndst, nv, ndst)) return tRetry.pc;
    w.m[kvmVcpu(w, x) + KVM_VCPU.WAKEUP_UPDATING] = 0;
    return NEXT;
  });
  b.barriers(1);
  if (v.wakeupOnRecheck === 'present') {
    b.step(fn, 'self_ipi_if_on', (w, a, sink) => {
      // The snapshot the CAS succeeded with.
      if ((w.m[a + ACTOR.L0] & PID_ON) !== 0) {
        const p = cpu(w);
        sendPhysicalInterrupt(w, sink, pcpuApicId(p), POSTED_INTR_WAKEUP_VECTOR, -1);
      }
      return NEXT;
    });
  }
}

/** The pCPU a descriptor's NDST names, or -1 (the wake-up-list invariant compares it with the list). */
export function ndstPcpu(w: World, x: number): number {
  return pcpuByApicId(w, apicIdFromNdst(piNdst(w.m, w.L.pid[x]), w.machine.x2apic));
}
