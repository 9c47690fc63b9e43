/**
 * A scenario compiled for the simulator (docs/sim.md, "The model of time"): the same SystemModel the
 * checker explores, built by the same compiler, plus what time needs:
 * - the workload's devices and guest IPI patterns become actors of their own that repeat one step
 *   (`device.post`, `device.postMsi`, `guest.icr`), so the IOMMU's posting and the guest's ICR write
 *   are the model's own steps;
 * - each actor step gets its price (a key of the cost table's step map) and, where the workload
 *   says so, a pace: the time the step waits for (an arrival, a busy period, a time slice, an IF=0
 *   window) before it may start;
 * - the steps that post by software (`kvm.deliver`, `guest.icr`) are marked, so that a delivery's
 *   latency is measured from the sender's first step.
 * Everything here is computed once per model; the simulation's hot path reads typed arrays.
 */
import { UserError } from '../errors.ts';
import {
  LVT_TIMER_ONESHOT,
  LVT_TIMER_PERIODIC,
  LVT_TIMER_TSC_DEADLINE,
  TIMER,
  timerWriteDeadline,
  timerWriteDivide,
  timerWriteInitialCount,
  timerWriteLvt,
} from '../model/hw/timer.ts';
import { POSTED_MSI, postedMsiBlockName } from '../model/kvm/posted-msi.ts';
import type { Variant } from '../model/kvm/variants.ts';
import { TIMER_BLOCK, timerBlockName, timerLoad, timerStore } from '../model/platform/timer-block.ts';
import type { SystemModel } from '../model/system/system.ts';
import { buildModel } from '../scenarios/compile.ts';
import type { ActorStep, Scenario } from '../scenarios/schema.ts';
import type { Workload } from '../scenarios/workload.ts';

/** What a step waits for before it may start (beyond its actor's previous step). */
export const PACE = {
  NONE: 0,
  /** The next event of a device or IPI source (absolute time). */
  ARRIVAL: 1,
  /** A guest busy period drawn from the halt pattern (exponential, mean `busy`). */
  BUSY: 2,
  /** The time slice of an overcommitted pCPU: the vCPU runs this long before it exits. */
  SLICE: 3,
  /** Off the CPU after a preemption: the other threads' slices, (vcpusPerPcpu - 1) * timeSlice. */
  OFF_CPU: 4,
  /** The guest runs with IF=0 this long (exponential, PIT `window`) before its IRQ window opens. */
  WINDOW: 5,
  /** The guest runs until its next exit to userspace: exponential, mean 1 / userspaceExits. */
  RUN: 6,
  /** A guest timer's expiry: armed when its vCPU goes idle, cancelled when an interrupt ends the idle. */
  TIMER: 7,
  /** KVM's halt polling (kvm_vcpu_halt): the block waits up to hostPoll, or until an interrupt. */
  HOST_POLL: 8,
  /** A LAPIC timer's hrtimer: the model's own next expiry of the vCPU's timer (paceSource: the vCPU). */
  LAPIC_TIMER: 9,
} as const;

/**
 * Linux's LOCAL_TIMER_VECTOR (arch/x86/include/asm/irq_vectors.h): the vector of the guest's LAPIC
 * timer, whose expiry ends an idle period that no other interrupt ended.
 */
export const LOCAL_TIMER_VECTOR = 0xec;

/**
 * What the chooser needs for the halts of the workload (docs/sim.md, "Workloads"), per vCPU (-1 or
 * 0: not halting, or no such part). The pcs are of the vCPU's thread.
 */
export interface HaltPlan {
  /** The vCPU's thread whose guest.hlt the halt pattern paces, and that step's first pc. */
  thread: Int32Array;
  hltPc: Int32Array;
  /** The first step of kvm_vcpu_block after the HLT exit (where KVM's halt polling waits). */
  blockPc: Int32Array;
  /** kvm_vcpu_block's 'woken' (the thread was scheduled out) and 'finish_rcuwait' (the end). */
  wokenPc: Int32Array;
  endPc: Int32Array;
  /** The actor of the vCPU's guest timer (halts.idle), or -1. */
  timer: Int32Array;
  /** Per actor: the vCPU whose timer it is, or -1. */
  timerVcpu: Int32Array;
  /** guestPoll and hostPoll, in ns (0: none). */
  guestPollNs: Float64Array;
  hostPollNs: Float64Array;
  /**
   * Per actor, per pc: the pCPU whose sched-in starts at this pc (the first step of
   * vmx_vcpu_pi_load or avic_vcpu_load, which waits while another vCPU is loaded there), or -1. A
   * thread waiting there is a runnable task on that pCPU, which ends KVM's halt polling.
   */
  schedInCpu: Int32Array[];
}

/** postVcpu of a broadcast ICR write: the posting starts for every vCPU but the sender. */
export const POST_ALL_BUT_SELF = -2;

export interface SimModel {
  model: SystemModel;
  scenario: Scenario;
  workload: Workload;
  /** Step keys (`fn/label`) of every instruction and hardware action: index into CompiledCosts. */
  keys: string[];
  /** Per actor, per pc: the key index of its instruction. */
  keyOf: Int32Array[];
  /** Key index of each hardware action: pCPU dispatch, vCPU delivery, store-buffer drain. */
  hwKeys: { dispatch: number; deliver: number; drain: number };
  /** Per actor, per pc: PACE, and the index of the workload source it waits for (or -1). */
  paceOf: Uint8Array[];
  paceSource: Int32Array[];
  /** Per actor: the source that paces its repeated step (devices, IPIs), or -1. */
  actorSource: Int32Array;
  /**
   * Per actor, per pc: the vCPU a software posting starts for at this pc (POST_ALL_BUT_SELF: every
   * vCPU but the actor's), and its vector (-1: none).
   */
  postVcpu: Int32Array[];
  postVector: Int32Array[];
  /** Per actor, per pc: the index in STEP_KINDS of the scenario step that starts here, or -1. */
  stepKind: Int32Array[];
  stepKinds: string[];
  /** Per actor: its vCPU, or -1. */
  actorVcpu: Int32Array;
  /** Names of the synthesized actors' sources, by actor (empty for the scenario's own). */
  sourceName: string[];
  /** Host posted MSI in time: the notification handlers and the drivers' handler times. */
  postedMsi: PostedMsiTiming;
  /** The guests' LAPIC timers of the workload, as programmed before time 0. */
  timers: TimerProgram[];
  halt: HaltPlan;
}

/**
 * A workload timer (`timers[]`) as its guest programmed it before the simulation starts: the LVT
 * timer entry (vector and mode), divide-by-1, and the initial count (periodic, one-shot) or the TSC
 * deadline (tsc-deadline), one period (1 GHz ticks) from time 0. The host's hrtimer is the actor
 * `timerN`, whose one step, `timer.expire`, waits for the model's own next expiry of that timer
 * (PACE.LAPIC_TIMER) and posts the vector as KVM does (kvm/lapic-timer.ts); for one-shot and TSC-deadline
 * the guest's handler re-arms it, the actor `timerN-guest` (`guest.timerRearm`, an exit per tick).
 */
export interface TimerProgram {
  vcpu: number;
  vector: number;
  lvt: number;
  mode: 'periodic' | 'one-shot' | 'tsc-deadline';
  period: number;
}

/** The workload's timers: their programs, and the hrtimer actors that fire them. */
function timerActors(w: Workload): { programs: TimerProgram[]; actors: Scenario['actors'] } {
  const programs: TimerProgram[] = [];
  const actors: NonNullable<Scenario['actors']> = [];
  const lvtMode = {
    periodic: LVT_TIMER_PERIODIC,
    'one-shot': LVT_TIMER_ONESHOT,
    'tsc-deadline': LVT_TIMER_TSC_DEADLINE,
  };
  w.timers.forEach((t, i) => {
    programs.push({
      vcpu: t.vcpu,
      vector: t.vector,
      lvt: t.vector | lvtMode[t.mode],
      mode: t.mode,
      period: t.period,
    });
    actors.push({
      name: `timer${i}`,
      steps: [{ do: 'timer.expire', vcpu: t.vcpu } as ActorStep],
      repeat: true,
    });
    if (t.mode !== 'periodic')
      actors.push({
        name: `timer${i}-guest`,
        vcpu: t.vcpu,
        steps: [{ do: 'guest.timerRearm', period: t.period } as ActorStep],
        repeat: true,
      });
  });
  return { programs, actors };
}

/** Paces and postings of the timer actors: each waits for its timer, and its step posts the vector. */
function timerPaces(
  model: SystemModel,
  w: Workload,
  paceOf: Uint8Array[],
  paceSource: Int32Array[],
  postVcpu: Int32Array[],
  postVector: Int32Array[],
  sourceName: string[],
): void {
  w.timers.forEach((t, i) => {
    const a = model.actors.findIndex((p) => p.name === `timer${i}`);
    paceOf[a][0] = PACE.LAPIC_TIMER;
    paceSource[a][0] = t.vcpu;
    postVcpu[a][0] = t.vcpu;
    postVector[a][0] = t.vector;
    sourceName[a] = `timer ${i}${t.name ? ` (${t.name})` : ''}`;
  });
}

/**
 * The World's timer clock is a 32-bit count of 1 GHz ticks (timer-block.ts): a run with timers
 * must end, and its last re-arm fall, below 2^32 ns.
 */
export function checkTimerClock(sm: SimModel, endNs: number, where: string): void {
  if (sm.timers.length === 0) return;
  const longest = Math.max(...sm.timers.map((t) => t.period));
  if (endNs + longest > 0xffffffff)
    throw new UserError(
      `${where}.timers: the model's LAPIC timer counts 32-bit nanoseconds: warm-up, duration and a period must stay below 4.29s`,
    );
}

/**
 * The state at time 0 has each workload timer programmed (the guest did it before the simulation):
 * LVT, divide-by-1 (divide configuration 1011b), initial count, through hw/timer.ts at time 0.
 */
export function programTimers(sm: SimModel, s: Uint32Array): void {
  for (const t of sm.timers) {
    const o = sm.model.w.L.extra.get(timerBlockName(t.vcpu))!;
    const tm = timerLoad(s, o);
    const now = s[o + TIMER_BLOCK.NOW];
    timerWriteLvt(tm, 0, t.lvt, now);
    timerWriteDivide(tm, 0, 0xb, now);
    if (t.mode === 'tsc-deadline') timerWriteDeadline(tm, 0, (now + t.period) * tm[TIMER.TSC_PER_TICK], now);
    else timerWriteInitialCount(tm, 0, t.period, now);
    timerStore(s, o);
  }
}

/**
 * Host posted MSI in time (docs/sim.md, "Host posted MSI"). handle_pending_pir calls the driver's
 * handler of each vector a round exchanged out of PIR, after the round's last exchange
 * (arch/x86/kernel/irq.c); the model records the vectors at the exchange and takes no time for the
 * handlers, so the simulator adds each handler's time (the workload's `devices[].handler`) to the
 * notification handler's actor at the end of the round: a posting that arrives meanwhile is found
 * by the next round without another notification, which is what the loop limit is about.
 */
export interface PostedMsiTiming {
  /** Per actor: the pCPU whose sysvec_posted_msi_notification it runs, or -1. */
  pcpuOf: Int32Array;
  /** Per actor, per pc: the 64-bit PIR word the step exchanges (handle_pending_pir's arch_xchg), or -1. */
  xchgWord: Int32Array[];
  /** Per pCPU: the World offset of its posted-MSI descriptor's PIR, or -1. */
  pir: Int32Array;
  /** Per pCPU and vector (p * 256 + vector): the driver's handler time in ns. */
  handlerNs: Float64Array;
}

const MSI_XCHG = /^arch_xchg\(pir\[(\d)\]\)$/;

/** The posted-MSI handler actors of the model, their exchange steps, and the handler times. */
function postedMsiTiming(model: SystemModel, w: Workload, where: string): PostedMsiTiming {
  const P = model.w.machine.pcpus;
  const A = model.actors.length;
  const pcpuOf = new Int32Array(A).fill(-1);
  const xchgWord: Int32Array[] = [];
  const pir = new Int32Array(P).fill(-1);
  for (let p = 0; p < P; p++) {
    const o = model.w.L.extra.get(postedMsiBlockName(p));
    if (o !== undefined) pir[p] = o + POSTED_MSI.PID;
  }
  for (let a = 0; a < A; a++) {
    const prog = model.actors[a];
    const m = /^posted-msi-pcpu(\d+)$/.exec(prog.name);
    if (m !== null && prog.vcpu < 0) pcpuOf[a] = Number(m[1]);
    xchgWord.push(
      Int32Array.from(prog.code, (ins) => {
        const x = pcpuOf[a] >= 0 && ins.fn === 'handle_pending_pir' ? MSI_XCHG.exec(ins.label) : null;
        return x === null ? -1 : Number(x[1]);
      }),
    );
  }
  const handlerNs = new Float64Array(P * 256);
  const from = new Int32Array(P * 256).fill(-1);
  w.devices.forEach((d, i) => {
    if (d.delivery !== 'posted-msi') return;
    const k = d.pcpu! * 256 + d.vector;
    // One vector of a pCPU is one IRQ: one handler, whichever device posts it.
    if (from[k] >= 0 && handlerNs[k] !== d.handler)
      throw new UserError(
        `${where}.devices[${i}].handler: devices[${from[k]}] posts the same vector to the same pCPU with another handler time`,
      );
    from[k] = i;
    handlerNs[k] = d.handler;
  });
  return { pcpuOf, xchgWord, pir, handlerNs };
}

/** The workload's actors: one per device, one per (sender, target) of an IPI pattern. */
interface Synth {
  name: string;
  vcpu?: number;
  step: ActorStep;
  /** The workload source (workloadSources order) that paces it. */
  source: number;
  /** A guest timer (PACE.TIMER) of this vCPU, rather than a source's arrivals. */
  timerOf?: number;
  /** A host thread (the scheduler's balancer, a guest timer's hrtimer), not a device: no IOMMU. */
  host?: boolean;
}

function synthesize(sc: Scenario, w: Workload, haltSource: Int32Array, migrationSource: Int32Array): Synth[] {
  const out: Synth[] = [];
  const nv = sc.machine.vcpus.length;
  const apicId = (x: number) => sc.machine.vcpus[x].apicId ?? x;
  let source = 0;
  w.devices.forEach((d, i) => {
    const step: ActorStep =
      d.delivery === 'posted-msi'
        ? ({ do: 'device.postMsi', pcpu: d.pcpu!, vector: d.vector } as ActorStep)
        : d.irte !== undefined
          ? ({ do: 'device.post', irte: d.irte } as ActorStep)
          : ({ do: 'device.post', vcpu: d.vcpu!, vector: d.vector } as ActorStep);
    out.push({ name: `device${i}`, step, source: source++ });
  });
  w.ipis.forEach((p, i) => {
    const senders = p.from === 'any' ? Array.from({ length: nv }, (_, x) => x) : [p.from];
    if (p.pattern === 'broadcast') {
      out.push(...broadcastSenders(p.vector, i, senders, source++));
      return;
    }
    for (const from of senders) {
      const targets =
        p.pattern === 'self'
          ? [from]
          : p.to !== undefined
            ? [p.to]
            : Array.from({ length: nv }, (_, x) => x).filter((x) => x !== from);
      for (const to of targets) {
        if (to === from && p.pattern !== 'self') continue;
        out.push({
          name: `ipi${i}-${from}to${to}`,
          vcpu: from,
          step: { do: 'guest.icr', dest: apicId(to), vector: p.vector } as ActorStep,
          source,
        });
      }
    }
    source++;
  });
  out.push(...guestTimers(w, sc.machine.vcpus.length, haltSource));
  out.push(...balancers(migrationSource));
  return out;
}

/**
 * overcommit.migration: per vCPU an actor of the host scheduler that moves the vCPU's thread to
 * another pCPU's run queue at each arrival of its migration source (`sched.migrate`, sched.ts
 * emitMigrate); the thread's next sched-in is there, through KVM's own load path.
 */
function balancers(migrationSource: Int32Array): Synth[] {
  const out: Synth[] = [];
  migrationSource.forEach((source, x) => {
    if (source < 0) return;
    out.push({
      name: `migrate-vcpu${x}`,
      step: { do: 'sched.migrate', vcpu: x } as ActorStep,
      source,
      host: true,
    });
  });
  return out;
}

/**
 * The guest timers of halts with `idle`: per covered vCPU an actor whose step is the timer's expiry
 * as KVM delivers it while the vCPU is out of the guest (apic_timer_fn -> apic_timer_expired ->
 * kvm_apic_local_deliver of LVTT -> __apic_accept_irq, which posts the vector and kicks or wakes the
 * vCPU: a `kvm.deliver` of LOCAL_TIMER_VECTOR). The guest arms it when it goes idle (tick_nohz:
 * the next timer event), so it fires an exponential time of mean `idle` after the busy period ends,
 * unless an interrupt ended the idle period first (the chooser cancels it then).
 */
function guestTimers(w: Workload, nv: number, haltSource: Int32Array): Synth[] {
  const out: Synth[] = [];
  for (const h of w.halts) {
    if (h.idle === undefined) continue;
    const which = h.vcpu === 'all' ? Array.from({ length: nv }, (_, x) => x) : [h.vcpu];
    for (const x of which)
      out.push({
        name: `timer-vcpu${x}`,
        step: { do: 'kvm.deliver', vcpu: x, vector: LOCAL_TIMER_VECTOR } as ActorStep,
        source: haltSource[x],
        timerOf: x,
        host: true,
      });
  }
  return out;
}

/**
 * overcommit.preemption false: the host scheduler never takes a running vCPU off its pCPU, so each
 * thread runs until it halts or exits to userspace, and the threads sharing a pCPU wait for each
 * other there (a sched-in waits while another vCPU is loaded; a scenario's lock per pCPU). A
 * `kvm.put` with `preempted: true` is a preemption: the scenario contradicts the workload.
 */
function refusePreemptedPuts(sc: Scenario, where: string): void {
  for (const a of sc.actors ?? [])
    a.steps.forEach((st, j) => {
      if (st.do === 'kvm.put' && st.preempted)
        throw new UserError(
          `${where}.overcommit.preemption: false, but actor ${a.name} steps[${j}] is a preempted kvm.put: without preemption a vCPU runs until it halts or exits to userspace`,
        );
    });
}

/** Without preemption, halts, userspace exits or the PIT, a vCPU thread never leaves its guest. */
function neverLeaves(actor: string, x: number, where: string): UserError {
  return new UserError(
    `${where}.overcommit.preemption: false, and actor ${actor} (vcpu${x}) has no halts, userspaceExits or pit to leave the guest: without preemption it would run forever`,
  );
}

/**
 * A broadcast pattern: one actor per sender, whose step writes the ICR with shorthand
 * all-excluding-self (`guest.icr` with shorthand others; fastpath.ts emitIcrBroadcast), so one
 * arrival is one ICR write that reaches every other vCPU.
 */
function broadcastSenders(vector: number, i: number, senders: number[], source: number): Synth[] {
  return senders.map((from) => ({
    name: `ipi${i}-${from}toall`,
    vcpu: from,
    step: { do: 'guest.icr', shorthand: 'others', vector } as ActorStep,
    source,
  }));
}

/** The first pc of each scenario step of an actor (stepOfPc changes there). */
function stepStarts(stepOfPc: readonly number[] | undefined, n: number): number[] {
  const starts: number[] = [];
  if (!stepOfPc) return starts;
  for (let pc = 0; pc < n; pc++) {
    const k = stepOfPc[pc];
    if (k >= 0 && (pc === 0 || stepOfPc[pc - 1] !== k)) starts[k] = pc;
  }
  return starts;
}

/**
 * Sources in workloadSources order (src/sim/sources.ts): devices, IPI patterns, halts (one per vCPU
 * a pattern covers), per vCPU migration and userspace exits, then the PIT and its windows.
 */
function sourceIndex(w: Workload, nv: number) {
  let n = w.devices.length + w.ipis.length;
  const halt = new Int32Array(nv).fill(-1);
  for (const h of w.halts) {
    const which = h.vcpu === 'all' ? Array.from({ length: nv }, (_, x) => x) : [h.vcpu];
    for (const x of which) halt[x] = n++;
  }
  const userspace = new Int32Array(nv).fill(-1);
  const migration = new Int32Array(nv).fill(-1);
  for (let x = 0; x < nv; x++) {
    if (w.overcommit?.migration !== undefined) migration[x] = n++;
    if (w.overcommit?.userspaceExits !== undefined) userspace[x] = n++;
  }
  const pit = new Int32Array(nv).fill(-1);
  let pitWindow = -1;
  if (w.pit) {
    const which = w.pit.vcpu === 'all' ? Array.from({ length: nv }, (_, x) => x) : [w.pit.vcpu];
    for (const x of which) pit[x] = n++;
    pitWindow = n++;
  }
  return { halt, userspace, migration, pit, pitWindow };
}

export function buildSimModel(sc: Scenario, v: Variant, where: string): SimModel {
  const w = sc.workload;
  if (w === undefined)
    throw new UserError(
      `${where}: the scenario has no workload: irqlab sim needs one (docs/sim.md, "Workloads")`,
    );
  if (w.overcommit?.preemption === false) refusePreemptedPuts(sc, where);
  if (w.overcommit?.migration !== undefined && sc.machine.pcpus < 2)
    throw new UserError(
      `${where}.overcommit.migration: a thread can only move to another pCPU: machine.pcpus must be at least 2`,
    );
  const nv = sc.machine.vcpus.length;
  const src = sourceIndex(w, nv);
  const synth = synthesize(sc, w, src.halt, src.migration);
  const timers = timerActors(w);
  // The in-kernel PIT in re-inject mode inhibits AVIC for the VM's life (seed 002; SVM's required
  // inhibits include PIT_REINJ, VMX's do not: APICv keeps the EOI exit for the re-injected IRQ).
  const inhibits = sc.machine.apicvInhibits;
  const pitInhibit = w.pit?.reinject === true && sc.machine.features.avic && !inhibits.includes('PIT_REINJ');
  const augmented: Scenario = {
    ...sc,
    machine: pitInhibit ? { ...sc.machine, apicvInhibits: [...inhibits, 'PIT_REINJ'] } : sc.machine,
    actors: [
      ...(sc.actors ?? []),
      ...synth.map((s) => ({
        name: s.name,
        ...(s.vcpu === undefined ? {} : { vcpu: s.vcpu }),
        steps: [s.step],
        repeat: true,
      })),
      ...(timers.actors ?? []),
    ] as Scenario['actors'],
  };
  // The simulator measures; it checks no property (a run goes on through what would be a violation).
  const model = buildModel(augmented, v, []);
  const keyIndex = new Map<string, number>();
  const keys: string[] = [];
  const key = (k: string) => {
    let i = keyIndex.get(k);
    if (i === undefined) {
      i = keys.length;
      keys.push(k);
      keyIndex.set(k, i);
    }
    return i;
  };
  const hwKeys = {
    dispatch: key('lapic/dispatch'),
    deliver: key('guest/interrupt'),
    drain: key('store buffer/drain'),
  };
  const stepKinds: string[] = [];
  const kindIndex = (k: string) => {
    let i = stepKinds.indexOf(k);
    if (i < 0) i = stepKinds.push(k) - 1;
    return i;
  };
  const scenarioActors = augmented.actors ?? [];
  const A = model.actors.length;
  const keyOf: Int32Array[] = [];
  const paceOf: Uint8Array[] = [];
  const paceSource: Int32Array[] = [];
  const postVcpu: Int32Array[] = [];
  const postVector: Int32Array[] = [];
  const stepKind: Int32Array[] = [];
  const actorSource = new Int32Array(A).fill(-1);
  const actorVcpu = new Int32Array(A);
  const sourceName: string[] = [];
  const vcpuOfApicId = (id: number) => sc.machine.vcpus.findIndex((c, x) => (c.apicId ?? x) === id);
  // The synthesized actors by name: the model puts actors of its own (the host's posted-MSI
  // handlers) after the scenario's, so they are not the last synth.length actors.
  const synthOf = new Map(synth.map((x) => [x.name, x]));
  for (let i = 0; i < A; i++) {
    const p = model.actors[i];
    const n = p.code.length;
    actorVcpu[i] = p.vcpu;
    keyOf.push(Int32Array.from(p.code, (ins) => key(`${ins.fn}/${ins.label}`)));
    const pace = new Uint8Array(n);
    const paceSrc = new Int32Array(n).fill(-1);
    const pv = new Int32Array(n).fill(-1);
    const pvec = new Int32Array(n).fill(-1);
    const kind = new Int32Array(n).fill(-1);
    // The script actor (a scenario's `steps`) is not among scenario.actors; its steps are timed by
    // their prices alone.
    const sa = scenarioActors.find((a) => a.name === p.name);
    const starts = stepStarts(p.stepOfPc, n);
    const steps = sa?.steps ?? [];
    steps.forEach((st, k) => {
      const pc = starts[k];
      if (pc === undefined) return;
      kind[pc] = kindIndex(st.do);
      if (st.do === 'kvm.deliver' && st.vcpu !== undefined && st.vector !== undefined) {
        pv[pc] = st.vcpu;
        pvec[pc] = st.vector;
      }
      if (st.do === 'guest.icr') {
        pv[pc] = st.shorthand === 'others' ? POST_ALL_BUT_SELF : vcpuOfApicId(st.dest!);
        pvec[pc] = st.vector;
      }
      const prev = k > 0 ? steps[k - 1] : undefined;
      if (st.do === 'kvm.load' && prev?.do === 'kvm.put' && prev.preempted === true && w.overcommit)
        pace[pc] = PACE.OFF_CPU;
      if (st.do === 'svm.irqWindow.close' && w.pit) {
        pace[pc] = PACE.WINDOW;
        paceSrc[pc] = src.pitWindow;
      }
    });
    const s = synthOf.get(p.name);
    if (s !== undefined) {
      // A guest timer is a host hrtimer, not a device: it runs on a thread of its own.
      actorSource[i] = s.host === true ? -1 : s.source;
      pace[0] = s.timerOf === undefined ? PACE.ARRIVAL : PACE.TIMER;
      paceSrc[0] = s.source;
      sourceName[i] = s.name;
    } else if (sa?.repeat === true && p.vcpu >= 0 && steps.length > 0) {
      // A vCPU's guest runs before its thread's loop leaves it: until the next userspace exit, for
      // a busy period, for a time slice, or until the PIT's next tick. That wait is on the loop's
      // first kvm.exit, guest.hlt or svm.irqWindow.open step, else on its first step (docs/sim.md,
      // "Workloads").
      const x = p.vcpu;
      let k = steps.findIndex(
        (st) => st.do === 'kvm.exit' || st.do === 'guest.hlt' || st.do === 'svm.irqWindow.open',
      );
      if (k < 0) k = 0;
      const pc = starts[k];
      if (pc !== undefined) {
        if (src.userspace[x] >= 0) {
          pace[pc] = PACE.RUN;
          paceSrc[pc] = src.userspace[x];
        } else if (src.halt[x] >= 0) {
          pace[pc] = PACE.BUSY;
          paceSrc[pc] = src.halt[x];
        } else if (w.overcommit?.preemption === true) pace[pc] = PACE.SLICE;
        else if (src.pit[x] >= 0) {
          pace[pc] = PACE.ARRIVAL;
          paceSrc[pc] = src.pit[x];
        } else if (w.overcommit) throw neverLeaves(p.name, x, where);
      }
    }
    paceOf.push(pace);
    paceSource.push(paceSrc);
    postVcpu.push(pv);
    postVector.push(pvec);
    stepKind.push(kind);
  }
  timerPaces(model, w, paceOf, paceSource, postVcpu, postVector, sourceName);
  const halt = haltPlan(
    model,
    w,
    src.halt,
    src.userspace,
    keys,
    keyOf,
    paceOf,
    stepKind,
    stepKinds,
    synth,
    model.actors.map((p) => p.name),
    where,
  );
  return {
    model,
    scenario: augmented,
    workload: w,
    keys,
    keyOf,
    hwKeys,
    paceOf,
    paceSource,
    actorSource,
    postVcpu,
    postVector,
    stepKind,
    stepKinds,
    actorVcpu,
    sourceName,
    postedMsi: postedMsiTiming(model, w, where),
    timers: timers.programs,
    halt,
  };
}

/**
 * The halts' plan: for each halting vCPU, its thread's guest.hlt (the step the halt pattern's busy
 * period paces) and the pcs of kvm_vcpu_block inside it; the host poll's pace on the block's first
 * step; the guest timers. `idle`, `guestPoll` and `hostPoll` need such a thread: a halt pattern
 * whose vCPU has none is a one-line error.
 */
function haltPlan(
  model: SystemModel,
  w: Workload,
  haltSource: Int32Array,
  userspaceSource: Int32Array,
  keys: readonly string[],
  keyOf: Int32Array[],
  paceOf: Uint8Array[],
  stepKind: Int32Array[],
  stepKinds: readonly string[],
  synth: readonly Synth[],
  actorNames: readonly string[],
  where: string,
): HaltPlan {
  const nv = haltSource.length;
  const A = model.actors.length;
  const plan: HaltPlan = {
    thread: new Int32Array(nv).fill(-1),
    hltPc: new Int32Array(nv).fill(-1),
    blockPc: new Int32Array(nv).fill(-1),
    wokenPc: new Int32Array(nv).fill(-1),
    endPc: new Int32Array(nv).fill(-1),
    timer: new Int32Array(nv).fill(-1),
    timerVcpu: new Int32Array(A).fill(-1),
    guestPollNs: new Float64Array(nv),
    hostPollNs: new Float64Array(nv),
    schedInCpu: model.actors.map((p, a) =>
      Int32Array.from(p.code, (ins, pc) => {
        const k = keys[keyOf[a][pc]];
        const first = k === 'vmx_vcpu_pi_load/check_fast_path' || k === 'avic_vcpu_load/set_is_running';
        return first && ins.cpu !== undefined ? ins.cpu : -1;
      }),
    ),
  };
  const hlt = stepKinds.indexOf('guest.hlt');
  // The vCPU threads: only they pace a guest.hlt step by a busy period (synthesized actors do not).
  for (let a = 0; a < A; a++) {
    const x = model.actors[a].vcpu;
    if (x < 0 || haltSource[x] < 0 || hlt < 0) continue;
    const pc = paceOf[a].indexOf(PACE.BUSY);
    if (pc < 0 || stepKind[a][pc] !== hlt) continue;
    const stepOf = model.actors[a].stepOfPc!;
    const label = (q: number) => keys[keyOf[a][q]];
    let block = -1;
    let woken = -1;
    let end = -1;
    for (let q = pc; q < stepOf.length && stepOf[q] === stepOf[pc]; q++) {
      if (block < 0 && label(q) === 'vcpu_enter_guest/local_irq_enable') block = q + 1;
      if (label(q) === 'kvm_vcpu_block/woken') woken = q;
      if (label(q) === 'kvm_vcpu_block/finish_rcuwait') end = q;
    }
    plan.thread[x] = a;
    plan.hltPc[x] = pc;
    plan.blockPc[x] = block;
    plan.wokenPc[x] = woken;
    plan.endPc[x] = end;
  }
  w.halts.forEach((h, i) => {
    const which = h.vcpu === 'all' ? Array.from({ length: nv }, (_, x) => x) : [h.vcpu];
    // A halt pattern no thread takes would be dropped silently: refused, naming the field that
    // needs it (or the pattern itself).
    const needs =
      h.idle !== undefined ? '.idle' : h.guestPoll > 0 ? '.guestPoll' : h.hostPoll > 0 ? '.hostPoll' : '';
    for (const x of which) {
      if (plan.thread[x] < 0)
        throw new UserError(
          userspaceSource[x] >= 0
            ? `${where}.halts[${i}]${needs}: vcpu${x}'s thread leaves the guest at its userspace exits (overcommit.userspaceExits paces its loop, not the halts) (docs/sim.md, "Workloads")`
            : `${where}.halts[${i}]${needs}: vcpu${x} has no thread that halts: it needs a repeating actor of vcpu${x} whose loop leaves the guest first at a guest.hlt step (docs/sim.md, "Workloads")`,
        );
      plan.guestPollNs[x] = h.guestPoll;
      plan.hostPollNs[x] = h.hostPoll;
      if (h.hostPoll > 0) paceOf[plan.thread[x]][plan.blockPc[x]] = PACE.HOST_POLL;
    }
  });
  for (const s of synth) {
    if (s.timerOf === undefined) continue;
    const a = actorNames.indexOf(s.name);
    plan.timer[s.timerOf] = a;
    plan.timerVcpu[a] = s.timerOf;
  }
  return plan;
}
