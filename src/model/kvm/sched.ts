/**
 * The scheduler's part of a vCPU thread's sched-in and sched-out (kernel/sched/core.c): one task
 * runs per pCPU, and a sched-out ends with finish_task_switch, which runs the next task with IRQs
 * on. KVM's hooks around them are vmx_vcpu_pi_load/put (posted-intr.ts) and avic_vcpu_load/put
 * (avic.ts, avic-irte.ts).
 */
import { type ExtraBlock, type FieldDesc, PCPU } from '../platform/layout.ts';
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

/**
 * The VM-wide block `sched.rq`, for a scenario whose actors move vCPU threads (sched.migrate): per
 * vCPU, the pCPU whose run queue holds its thread, plus 1 (0: not moved, so it is scheduled in
 * where the scenario's steps say).
 */
export const SCHED_RQ_BLOCK = 'sched.rq';

export function schedRqExtra(vcpus: number): ExtraBlock {
  const fields: FieldDesc[] = Array.from({ length: vcpus }, (_, x) => ({
    name: `vcpu${x}.taskCpu`,
    offset: x,
    kind: 'u32',
  }));
  return { name: SCHED_RQ_BLOCK, prefix: 'sched', size: vcpus, fields };
}

function taskRq(w: World, x: number): number {
  return w.L.extra.get(SCHED_RQ_BLOCK)! + x;
}

/**
 * The host scheduler's load balancer moves vCPU x's thread to another pCPU's run queue
 * (kernel/sched/core.c set_task_cpu, from move_queued_task or a wake-up's select_task_rq): the
 * pCPU after the one the thread was on, cyclically over `pcpus`. A running thread is not taken off
 * its CPU: the move takes effect at its next sched-in, where kvm_sched_in -> kvm_arch_vcpu_load
 * runs with the new cpu and vmx_vcpu_pi_load (posted-intr.ts) takes its slow path: NDST rewritten
 * to the new pCPU, and a vCPU that blocked leaves the old pCPU's wake-up list (AVIC: the physical
 * ID table entry and the IRTEs get the new host APIC ID, avic_vcpu_load).
 */
export function emitMigrate(b: ProgramBuilder, x: number, pcpus: number): void {
  b.step('set_task_cpu', `move vcpu${x}`, (w) => {
    const rq = taskRq(w, x);
    const cpu = w.m[kvmVcpu(w, x) + KVM_VCPU.CPU];
    const from = w.m[rq] !== 0 ? w.m[rq] - 1 : cpu > 0 ? cpu - 1 : 0;
    w.m[rq] = ((from + 1) % pcpus) + 1;
    return NEXT;
  });
}

/**
 * A sched-in of vCPU x, by `load` (vmx_vcpu_pi_load or avic_vcpu_load, ending at `then` or falling
 * through): on pCPU p, or, when the scenario moves x's thread (ProgramBuilder.migrated), on the
 * pCPU whose run queue holds it (p while it was never moved): one step reads it (the CPU that
 * schedule() runs on, which kvm_sched_in passes on), then the load for that pCPU.
 */
export function emitSchedIn(
  b: ProgramBuilder,
  x: number,
  p: number,
  load: (p: number, then?: { pc: number }) => void,
  then?: { pc: number },
): void {
  if (b.rqPcpus === 0 || !b.migrated.includes(x)) {
    load(p, then);
    return;
  }
  const end = b.fresh('sched_in_end');
  const tEnd = then ?? b.target(end);
  const on = Array.from({ length: b.rqPcpus }, () => b.fresh('sched_in_on'));
  const tOn = on.map((m) => b.target(m));
  b.step('kvm_sched_in', 'task_cpu', (w) => {
    const rq = w.m[taskRq(w, x)];
    return tOn[rq === 0 ? p : rq - 1].pc;
  });
  for (let q = 0; q < b.rqPcpus; q++) {
    b.mark(on[q]);
    load(q, tEnd);
  }
  if (then === undefined) b.mark(end);
}
