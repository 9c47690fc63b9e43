/**
 * Blocked vCPUs and the wake-up vector (arch/x86/kvm/vmx/posted_intr.c; kvm-semantics.md section
 * 3): pi_enable_wakeup_handler puts a vCPU that blocks with guest interrupts enabled on its pCPU's
 * wake-up list and switches its notification vector to POSTED_INTR_WAKEUP_VECTOR;
 * pi_wakeup_handler, the host's handler for that vector, wakes every vCPU on the list whose ON is
 * set; kvm_vcpu_wake_up (virt/kvm/kvm_main.c) wakes a thread waiting in kvm_vcpu_block.
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
import { apicIdFromNdst, PID_ON, PID_SN, piControlLo, piNdst, piTestOn, piTryCasControl } from '../hw/pid.ts';
import { EV, type Sink } from '../system/events.ts';
import { sendPhysicalInterrupt } from '../system/hardware.ts';
import { POSTED_INTR_WAKEUP_VECTOR } from '../system/machine.ts';
import { pcpuApicId, pcpuByApicId, type World } from '../system/world.ts';
import { emitReadControl, kvmVcpu } from './load-put.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU, TASK_INTERRUPTIBLE, TASK_RUNNING } from './state.ts';
import type { Variant } from './variants.ts';

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
