/**
 * The scheduler's part of a vCPU thread's sched-in and sched-out (kernel/sched/core.c): one task
 * runs per pCPU, and a sched-out ends with finish_task_switch, which runs the next task with IRQs
 * on. KVM's hooks around them are vmx_vcpu_pi_load/put (posted-intr.ts) and avic_vcpu_load/put
 * (avic.ts, avic-irte.ts).
 */
import { PCPU } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU, kvmVcpu } from './state.ts';

/** Whether a vCPU other than x is loaded on pCPU p. */
export function pcpuOccupied(w: World, p: number, x: number): boolean {
  for (let y = 0; y < w.machine.vcpus.length; y++) {
    if (y === x) continue;
    const k = kvmVcpu(w, y);
    if (w.m[k + KVM_VCPU.LOADED] === p + 1) return true;
  }
  return false;
}

/** The end of a sched-out: the pCPU runs the next task, with IRQs on; vCPU x is no longer loaded. */
export function emitFinishTaskSwitch(b: ProgramBuilder, x: number): void {
  b.step('context_switch', 'finish_task_switch', (w) => {
    const k = kvmVcpu(w, x);
    w.m[w.L.pcpu[w.m[k + KVM_VCPU.LOADED] - 1] + PCPU.HOST_IF] = 1;
    w.m[k + KVM_VCPU.LOADED] = 0;
    return NEXT;
  });
}
