/**
 * vmx_vcpu_pi_load and vmx_vcpu_pi_put (arch/x86/kvm/vmx/posted_intr.c), as atomic steps
 * (kvm-semantics.md section 3). Wake-up lists (blocking) are not modelled yet: a put here is a
 * preemption or a return to userspace, never a block with the wake-up vector.
 */
import {
  ndstForApicId,
  PID,
  piControlLo,
  piIsPirEmpty,
  piNdst,
  piNv,
  piSetOn,
  piSetSn,
  piTestAndClearSn,
} from '../hw/pid.ts';
import { PCPU, VCPU } from '../system/layout.ts';
import { POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR } from '../system/machine.ts';
import { pcpuApicId, type World } from '../system/world.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU } from './state.ts';
import type { Variant } from './variants.ts';

export function kvmVcpu(w: World, x: number): number {
  return w.L.kvmVcpu[x];
}

/** Whether a vCPU other than x is loaded on pCPU p. */
export function pcpuOccupied(w: World, p: number, x: number): boolean {
  for (let y = 0; y < w.machine.vcpus.length; y++) {
    if (y === x) continue;
    const k = kvmVcpu(w, y);
    if (w.m[k + KVM_VCPU.LOADED] === p + 1) return true;
  }
  return false;
}

/**
 * Sched-in of vCPU x on pCPU p: the VMCS becomes current (vmx_vcpu_load_vmcs), then
 * vmx_vcpu_pi_load, then kvm_arch_vcpu_load records vcpu->cpu = p.
 */
export function emitPiLoad(b: ProgramBuilder, v: Variant, x: number, p: number): void {
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
  const finish = (w: World) => (w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] === p + 1 ? tEnd.pc : tDone.pc);
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
      return piNv(w.m, w.L.pid[x]) !== POSTED_INTR_WAKEUP_VECTOR && sameCpu ? NEXT : tSlow.pc;
    },
    // The scheduler runs one task per pCPU: sched-in waits until no other vCPU is loaded there.
    (w) => !pcpuOccupied(w, p, x),
    p,
  );
  b.step(fn, 'pi_test_and_clear_sn', (w) =>
    piTestAndClearSn(w.m, w.L.pid[x]) && recompute ? tAfter.pc : finish(w),
  );
  // Slow path: rewrite NDST, clear SN, restore NV with a CAS loop on the control word; ON may be
  // set by the IOMMU or a sender at any time, hence one read step and one CAS-attempt step.
  b.mark(slow);
  const retry = b.fresh('retry');
  const tRetry = b.target(retry);
  b.mark(retry);
  b.step(fn, 'read_control', (w, a) => {
    w.m[a + ACTOR.L0] = w.m[w.L.pid[x] + PID.CONTROL];
    w.m[a + ACTOR.L1] = piNdst(w.m, w.L.pid[x]);
    return NEXT;
  });
  b.step(fn, 'pi_try_set_control', (w, a) => {
    const pid = w.L.pid[x];
    const oldLo = w.m[a + ACTOR.L0];
    const oldNdst = w.m[a + ACTOR.L1];
    if (w.m[pid + PID.CONTROL] !== oldLo || w.m[pid + PID.NDST] !== oldNdst) return tRetry.pc;
    const on = (oldLo & 1) !== 0;
    w.m[pid + PID.CONTROL] = piControlLo(on, false, POSTED_INTR_VECTOR);
    w.m[pid + PID.NDST] = ndstForApicId(pcpuApicId(p), w.machine.x2apic);
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
  b.step('kvm_arch_vcpu_load', 'vcpu_cpu_store', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] = p + 1;
    return NEXT;
  });
  b.mark(end);
}

/**
 * Sched-out of vCPU x: kvm_sched_out records vcpu->preempted, then vmx_vcpu_pi_put decides
 * whether to suppress notifications (seed 001 changed the rule).
 */
export function emitPiPut(b: ProgramBuilder, v: Variant, x: number, preempted: boolean): void {
  // vmx_vcpu_pi_put runs inside sched-out, before the context switch: the pCPU is released (and
  // another vCPU may be loaded on it) only when the put is complete.
  const setSn = v.put === 'sn-unless-blocking' || preempted;
  b.step('kvm_sched_out', preempted ? 'preempted' : 'put', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.PREEMPTED] = preempted ? 1 : 0;
    if (!setSn) w.m[kvmVcpu(w, x) + KVM_VCPU.LOADED] = 0;
    return NEXT;
  });
  // Without blocking modelled, "blocking with IRQs enabled" is never true here: the before rule
  // (28b835d60fcc) sets SN only when preempted, the after rule (seed 001) on every put.
  if (setSn) {
    b.step('vmx_vcpu_pi_put', 'pi_set_sn', (w) => {
      piSetSn(w.m, w.L.pid[x]);
      w.m[kvmVcpu(w, x) + KVM_VCPU.LOADED] = 0;
      return NEXT;
    });
  }
}
