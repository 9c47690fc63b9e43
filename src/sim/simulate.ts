/**
 * One replication of a simulation: the scenario's compiled model driven through the one interpreter
 * (src/drive/drive.ts) by a time-ordered chooser (docs/sim.md, "The model of time"):
 * - every action (an actor's step, a pCPU's interrupt dispatch, a vCPU's virtual-interrupt
 *   delivery, a store-buffer drain) may start at the latest of: when its actor's previous step
 *   ended, when it became enabled, and what its pace waits for (an arrival, a busy period, a slice);
 * - the chooser picks the earliest such start; ties go to the hardware (priority 0) before threads
 *   (priority 1), then first in, first out by the order in which the actions became enabled, so a
 *   run is deterministic;
 * - a step's duration is its price in the cost table plus the price of each event it emits (a VM
 *   exit, a notification IPI, posted-interrupt processing), at least one cycle so that time moves;
 * - an accessed cache line costs the `_local` primitive when this CPU wrote that line last;
 * - the hardware's actions on a CPU hold up the threads running there until they are done.
 * The chooser is also the step's trace sink: it prices the events and hands them to Measurements.
 * Nothing is allocated per step unless a timeline is being written.
 */
import type { Chooser } from '../drive/chooser.ts';
import { PID } from '../model/hw/pid.ts';
import { KVM_APICV } from '../model/kvm/apicv.ts';
import { kvmTimerNextExpiry } from '../model/kvm/lapic-timer.ts';
import { POSTED_MSI_NOTIFICATION_VECTOR } from '../model/kvm/posted-msi.ts';
import { ACTOR } from '../model/kvm/program.ts';
import { KVM_VCPU } from '../model/kvm/state.ts';
import { EV, EVENT_NAMES, type EventKind, type Sink } from '../model/platform/events.ts';
import { timerBlockName } from '../model/platform/timer-block.ts';
import { type CompiledCosts, LINE_NAMES } from './costs.ts';
import { HaltTimes } from './halts.ts';
import { CpuShares, LockTimes, Measurements } from './measure.ts';
import type { Arrivals } from './random.ts';
import { PACE, POST_ALL_BUT_SELF, programTimers, type SimModel } from './sim-model.ts';
import type { EnvSource } from './sources.ts';
import type { Timeline, Track } from './timeline.ts';

export interface ReplicationOptions {
  /** The cost table's clock: cycles per nanosecond. */
  clockGHz: number;
  /** Simulated cycles run and not measured, then measured. */
  warmup: number;
  duration: number;
  /** A vector waiting longer than this (cycles) is stranded. */
  strandedBound: number;
  timeline?: Timeline;
  /** Polled between steps: Ctrl-C ends the replication where it is. */
  interrupted?: () => boolean;
}

/** Lock sides of apicv_update_lock: which step keys acquire and release it. */
const LOCK_NONE = 0;
const READ_ACQUIRE = 1;
const WRITE_ACQUIRE = 2;
const READ_RELEASE = 3;
const WRITE_RELEASE = 4;

function lockRole(key: string): number {
  const label = key.slice(key.indexOf('/') + 1);
  if (label === 'down_read') return READ_ACQUIRE;
  if (label === 'down_write') return WRITE_ACQUIRE;
  if (label === 'up_read') return READ_RELEASE;
  if (label === 'up_write') return WRITE_RELEASE;
  return LOCK_NONE;
}

/** The step where KVM's harvest of a vCPU's PIR begins (timeline flows only). */
const HARVEST_START = /^vmx_sync_pir_to_irr\/pi_clear_on$/;

const GUEST = 0;
const EXIT_HANDLING = 1;
const HOST = 2;
const IDLE = 3;
const KIND_NAMES = ['guest', 'exit handling', 'host', 'idle'];

export class TimeOrderedChooser implements Chooser, Sink {
  /** Start of the step being taken, in cycles. */
  now = 0;
  /** Set when the next step would start after the end of the measured time. */
  finished = false;
  readonly meas: Measurements;
  readonly shares: CpuShares;
  readonly readLock: LockTimes;
  readonly writeLock: LockTimes;
  /** Executions and cycles per step key, measured time only. */
  readonly keyCount: Float64Array;
  readonly keyCycles: Float64Array;
  /** Scenario steps started, by kind (SimModel.stepKinds), measured time only. */
  readonly kindCount: Float64Array;
  /** Vectors delivered after waiting longer than the bound. */
  strandedDelivered = 0;
  /** Sched-ins of a vCPU on another pCPU than it was last loaded on, measured time only. */
  migrations = 0;
  steps = 0;
  /** Trace events the steps emitted (each priced and measured). */
  events = 0;
  /**
   * Host posted MSI, measured time only: vectors the notification handlers took out of PIR (each an
   * interrupt whose driver's handler runs), the cycles of the notification path (its dispatch and
   * the handler's steps, the drivers' handlers not included) and the drivers' handlers' cycles.
   */
  msiIrqs = 0;
  msiCycles = 0;
  msiHandlerCycles = 0;

  private readonly sm: SimModel;
  private readonly A: number;
  private readonly P: number;
  private readonly V: number;
  private readonly end: number;
  private readonly warmup: number;
  private readonly due: Float64Array;
  private readonly readyAt: Float64Array;
  private readonly seq: Float64Array;
  private seqNext = 0;
  private readonly mark: Int32Array;
  private epoch = 0;
  private readonly pacedPc: Int32Array;
  private readonly pacedUntil: Float64Array;
  /** The workload's halts: idle periods, guest and host polling (halts.ts). */
  readonly halts: HaltTimes;
  /** Per actor: the pc whose step waits for its source's arrivals (-1: none), and that arrival. */
  private readonly arrivalPc: Int32Array;
  private readonly arrivalAt: Float64Array;
  private readonly sources: EnvSource[];
  /** Per source: its next arrival, and the actors it paces (the one that takes the arrival is picked). */
  private readonly nextArrival: Float64Array;
  private readonly members: number[][];
  private readonly lockRoleOf: Uint8Array;
  private readonly lineOwner: Int32Array;
  private readonly eventKey: Int32Array;
  private readonly stepCosts: CompiledCosts;
  private readonly eventCosts: CompiledCosts;
  private readonly offCpu: number;
  private readonly slice: number;
  private readonly bound: number;
  private cpu = -1;
  private ctxVcpu = -1;
  private cost = 0;
  private loadedBefore = -1;
  // Per pCPU: what it is doing since when, and host interrupt time inside that interval.
  private readonly pcpuKind: Uint8Array;
  private readonly pcpuSince: Float64Array;
  private readonly hostDebt: Float64Array;
  private readonly pcpuVcpu: Int32Array;
  /** Per vCPU: the pCPU it was last loaded on (-1: never). */
  private readonly lastLoaded: Int32Array;
  /** The timeline being written; undefined when none was asked for, or once it is full. */
  private timeline: Timeline | undefined;
  private readonly flowOf: Float64Array;
  private flowNext = 1;
  private lastInhibits = -1;
  /** When the last step ended. */
  private lastEnd = 0;
  private readonly openPcpu: boolean[] = [];
  private readonly pirCount: Int32Array;
  private curKey = 0;
  private curTrack: Track | null = null;
  private s: Uint32Array | null = null;
  /** Per pCPU and vector: the driver's handler time in cycles (host posted MSI). */
  private readonly msiHandler: Float64Array;
  /** Per actor: drivers' handler time owed by the round of handle_pending_pir in progress. */
  private readonly msiDebt: Float64Array;
  /** The step being taken dispatched a posted-MSI notification. */
  private msiNotified = false;
  /** Per actor: the pc whose step waits for a LAPIC timer's expiry (-1: none), and that timer's block. */
  private readonly timerPc: Int32Array;
  private readonly timerBlock: Int32Array;
  private readonly clockGHz: number;

  constructor(
    sm: SimModel,
    stepCosts: CompiledCosts,
    eventCosts: CompiledCosts,
    sources: EnvSource[],
    opts: ReplicationOptions,
  ) {
    const m = sm.model;
    this.sm = sm;
    this.A = m.actors.length;
    this.P = m.w.machine.pcpus;
    this.V = m.w.machine.vcpus.length;
    this.warmup = opts.warmup;
    this.end = opts.warmup + opts.duration;
    this.bound = opts.strandedBound;
    const M = m.maxActions;
    this.due = new Float64Array(M);
    this.readyAt = new Float64Array(M).fill(Number.NaN);
    this.seq = new Float64Array(M);
    this.mark = new Int32Array(M);
    this.pacedPc = new Int32Array(this.A).fill(-1);
    this.pacedUntil = new Float64Array(this.A);
    this.halts = new HaltTimes(sm.halt, this.P, opts.clockGHz, this.pacedPc, this.pacedUntil, (a, pc, t) =>
      this.pace(a, pc, t),
    );
    this.arrivalPc = new Int32Array(this.A).fill(-1);
    this.arrivalAt = new Float64Array(this.A).fill(Number.POSITIVE_INFINITY);
    this.sources = sources;
    this.nextArrival = new Float64Array(sources.length).fill(Number.POSITIVE_INFINITY);
    this.members = sources.map(() => []);
    this.meas = new Measurements(this.V);
    this.shares = new CpuShares(this.P);
    this.readLock = new LockTimes(this.A);
    this.writeLock = new LockTimes(this.A);
    this.keyCount = new Float64Array(sm.keys.length);
    this.keyCycles = new Float64Array(sm.keys.length);
    this.kindCount = new Float64Array(sm.stepKinds.length);
    this.lockRoleOf = Uint8Array.from(sm.keys, lockRole);
    this.lineOwner = new Int32Array(LINE_NAMES.length * (this.V + 1)).fill(-1);
    this.stepCosts = stepCosts;
    this.eventCosts = eventCosts;
    // Event kinds index eventCosts in EVENT_NAMES order (see compileSimCosts).
    const names = Object.values(EVENT_NAMES);
    this.eventKey = new Int32Array(64).fill(-1);
    for (const [k, n] of Object.entries(EVENT_NAMES)) this.eventKey[Number(k)] = names.indexOf(n);
    // Workload times are nanoseconds; the clock turns them into cycles.
    const oc = sm.workload.overcommit;
    this.slice = oc ? oc.timeSlice * opts.clockGHz : 0;
    this.offCpu = oc ? Math.max(0, oc.vcpusPerPcpu - 1) * oc.timeSlice * opts.clockGHz : 0;
    this.pcpuKind = new Uint8Array(this.P).fill(IDLE);
    this.pcpuSince = new Float64Array(this.P);
    this.hostDebt = new Float64Array(this.P);
    this.pcpuVcpu = new Int32Array(this.P).fill(-1);
    this.lastLoaded = new Int32Array(this.V).fill(-1);
    this.timeline = opts.timeline;
    this.flowOf = new Float64Array(this.V * 256);
    this.pirCount = new Int32Array(this.V);
    this.msiHandler = sm.postedMsi.handlerNs.map((ns) => ns * opts.clockGHz);
    this.msiDebt = new Float64Array(this.A);
    this.timerPc = new Int32Array(this.A).fill(-1);
    this.timerBlock = new Int32Array(this.A).fill(-1);
    this.clockGHz = opts.clockGHz;
  }

  /** Sets up the paces of the initial state: arrivals drawn, first busy periods. */
  start(s: Uint32Array): void {
    const sm = this.sm;
    this.s = s;
    // The guests programmed their timers before time 0; each hrtimer actor waits for its timer.
    programTimers(sm, s);
    for (let a = 0; a < this.A; a++) {
      const pc = sm.paceOf[a].indexOf(PACE.LAPIC_TIMER);
      if (pc < 0) continue;
      this.timerPc[a] = pc;
      this.timerBlock[a] = sm.model.w.L.extra.get(timerBlockName(sm.paceSource[a][pc]))!;
    }
    for (let a = 0; a < this.A; a++) {
      const pc = sm.paceOf[a].indexOf(PACE.ARRIVAL);
      if (pc < 0) continue;
      this.members[sm.paceSource[a][pc]].push(a);
      this.arrivalPc[a] = pc;
    }
    for (let src = 0; src < this.sources.length; src++) {
      if (this.members[src].length === 0) continue;
      this.nextArrival[src] = (this.sources[src].arrivals as Arrivals).next(0);
      this.assignArrival(src);
    }
    for (let a = 0; a < this.A; a++) this.pace(a, s[sm.model.actorBase[a] + ACTOR.PC], 0);
    for (let x = 0; x < this.V; x++) {
      const p = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1;
      if (p >= 0) {
        this.pcpuVcpu[p] = x;
        this.lastLoaded[x] = p;
        this.pcpuKind[p] = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.MODE] === 1 ? GUEST : EXIT_HANDLING;
      }
    }
  }

  /** The next arrival of `src` goes to one of the actors it paces, picked with the source's stream. */
  private assignArrival(src: number): void {
    const mem = this.members[src];
    const k = mem.length === 1 ? 0 : this.sources[src].rng.below(mem.length);
    for (let j = 0; j < mem.length; j++)
      this.arrivalAt[mem[j]] = j === k ? this.nextArrival[src] : Number.POSITIVE_INFINITY;
  }

  /** Actor a has arrived at pc at time t: what, if anything, its step there waits for. */
  private pace(a: number, pc: number, t: number): void {
    const sm = this.sm;
    if (this.halts.active) this.halts.arrived(a, pc, t);
    if (pc >= sm.paceOf[a].length) {
      this.pacedPc[a] = -1;
      return;
    }
    const kind = sm.paceOf[a][pc];
    // An arrival is kept by arrivalPc and arrivalAt (assignArrival).
    if (kind === PACE.NONE || kind === PACE.ARRIVAL || kind === PACE.LAPIC_TIMER) {
      this.pacedPc[a] = -1;
      return;
    }
    let delay = 0;
    const src = sm.paceSource[a][pc];
    if (kind === PACE.BUSY && this.halts.isHlt(a, sm.actorVcpu[a], pc)) {
      // A halting vCPU: busy, then idle (polling in the guest first) until an interrupt or its timer.
      const so = this.sources[src];
      const busy = so.rng.exponential(so.meanA!);
      const idle = so.meanB === undefined ? Number.POSITIVE_INFINITY : so.rng.exponential(so.meanB);
      delay = this.halts.beforeHlt(sm.actorVcpu[a], t, busy, idle);
    } else if (kind === PACE.BUSY || kind === PACE.RUN)
      delay = this.sources[src].rng.exponential(this.sources[src].meanA!);
    else if (kind === PACE.TIMER) {
      this.pacedPc[a] = pc;
      this.pacedUntil[a] = this.halts.timerOf(a);
      return;
    } else if (kind === PACE.HOST_POLL) {
      const x = sm.actorVcpu[a];
      delay = this.halts.hostPollWait(x, this.s![sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1, t);
    } else if (kind === PACE.SLICE) delay = this.slice;
    else if (kind === PACE.OFF_CPU) delay = this.offCpu;
    else if (kind === PACE.WINDOW) delay = this.sources[src].rng.exponential(this.sources[src].meanA!);
    this.pacedPc[a] = pc;
    this.pacedUntil[a] = t + delay;
  }

  choose(s: Uint32Array, acts: Int32Array, n: number): number {
    const sm = this.sm;
    const base = sm.model.actorBase;
    const ep = ++this.epoch;
    let best = -1;
    let bestT = Number.POSITIVE_INFINITY;
    let bestPrio = 2;
    let bestSeq = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const a = acts[k];
      this.mark[a] = ep;
      if (Number.isNaN(this.readyAt[a])) {
        // What the last step did is visible when it ends: an action it enabled is ready then.
        this.readyAt[a] = this.lastEnd;
        this.seq[a] = this.seqNext++;
      }
      let t = Math.max(this.due[a], this.readyAt[a]);
      let prio = 0;
      if (a < this.A) {
        prio = 1;
        const pc = s[base[a] + ACTOR.PC];
        if (this.pacedPc[a] === pc && this.pacedUntil[a] > t) t = this.pacedUntil[a];
        else if (this.arrivalPc[a] === pc && this.arrivalAt[a] > t) t = this.arrivalAt[a];
        else if (this.timerPc[a] === pc) {
          // The hrtimer fires at the timer's next expiry (1 GHz ticks, so nanoseconds).
          const e = kvmTimerNextExpiry(s, this.timerBlock[a]);
          const at = e < 0 ? Number.POSITIVE_INFINITY : e * this.clockGHz;
          if (at > t) t = at;
        }
      }
      if (t < bestT || (t === bestT && (prio < bestPrio || (prio === bestPrio && this.seq[a] < bestSeq)))) {
        best = k;
        bestT = t;
        bestPrio = prio;
        bestSeq = this.seq[a];
      }
    }
    // Actions no longer enabled become ready afresh when they are enabled again.
    for (let a = 0; a < this.readyAt.length; a++) if (this.mark[a] !== ep) this.readyAt[a] = Number.NaN;
    if (best < 0 || bestT >= this.end || !Number.isFinite(bestT)) {
      if (best >= 0) {
        this.finished = true;
        this.advance(this.end);
      }
      return -1;
    }
    this.advance(bestT);
    this.begin(s, acts[best]);
    return best;
  }

  /** Moves the clock to t (the end of a schedule that ran out of steps early). */
  advanceTo(t: number): void {
    if (t > this.now) this.advance(t);
  }

  /** Moves the clock to t, starting the measurement when t passes the warm-up. */
  private advance(t: number): void {
    if (!this.meas.measuring && t >= this.warmup) {
      this.meas.measuring = true;
      for (let p = 0; p < this.P; p++) {
        this.pcpuSince[p] = this.warmup;
        this.hostDebt[p] = 0;
      }
    }
    this.now = t;
    this.meas.now = t;
  }

  /** The CPU an action runs on: a pCPU, else the IOMMU (P), else a thread of its own. */
  private cpuOf(s: Uint32Array, action: number): number {
    const sm = this.sm;
    if (action < this.A) {
      const x = sm.actorVcpu[action];
      if (x >= 0) {
        const p = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1;
        if (p >= 0) return p;
        const home = sm.model.w.machine.vcpus[x].pcpu;
        if (home >= 0) return home;
      }
      return sm.actorSource[action] >= 0 ? this.P : this.P + 1 + action;
    }
    if (action < this.A + this.P) return action - this.A;
    const x = action - this.A - this.P;
    if (x < this.V) {
      const p = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1;
      return p >= 0 ? p : this.P + 1 + this.A + x;
    }
    return this.cpuOf(s, x - this.V);
  }

  /** Prices an action's own step before it runs, and counts it. */
  private begin(s: Uint32Array, action: number): void {
    const sm = this.sm;
    if (this.timeline?.full === true) this.stopTimeline();
    this.readyAt[action] = Number.NaN;
    this.cpu = this.cpuOf(s, action);
    let key: number;
    if (action < this.A) {
      const pc = s[sm.model.actorBase[action] + ACTOR.PC];
      key = sm.keyOf[action][pc];
      this.ctxVcpu = sm.actorVcpu[action];
      const x = this.ctxVcpu;
      this.loadedBefore = x >= 0 ? s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1 : -1;
      if (this.meas.measuring) {
        // A thread waited for the lock from when it could have taken it (its previous step done,
        // its pace over) to now.
        const r = this.lockRoleOf[key];
        if (r === READ_ACQUIRE || r === WRITE_ACQUIRE) {
          let floor = this.due[action];
          if (this.pacedPc[action] === pc && this.pacedUntil[action] > floor) floor = this.pacedUntil[action];
          if (this.arrivalPc[action] === pc && this.arrivalAt[action] > floor) floor = this.arrivalAt[action];
          const lock = r === READ_ACQUIRE ? this.readLock : this.writeLock;
          lock.blocked(action, Math.min(floor, this.now));
          lock.acquired(action, this.now);
        }
      }
      if (sm.paceOf[action][pc] === PACE.ARRIVAL) {
        // This actor took its source's arrival: draw the next one and pick who takes it.
        const src = sm.paceSource[action][pc];
        this.nextArrival[src] = (this.sources[src].arrivals as Arrivals).next(this.nextArrival[src]);
        this.assignArrival(src);
      }
      if (sm.postedMsi.pcpuOf[action] >= 0) this.msiTake(s, action, pc);
      if (this.halts.active) this.halts.step(action, this.ctxVcpu, pc, this.now, this.meas.measuring);
      const pv = sm.postVcpu[action][pc];
      if (pv >= 0) this.softwarePosting(action, pv, sm.postVector[action][pc]);
      else if (pv === POST_ALL_BUT_SELF)
        for (let y = 0; y < this.V; y++)
          if (y !== this.ctxVcpu) this.softwarePosting(action, y, sm.postVector[action][pc]);
      if (this.meas.measuring) {
        const kind = sm.stepKind[action][pc];
        if (kind >= 0) this.kindCount[kind]++;
        const r = this.lockRoleOf[key];
        if (r === READ_RELEASE) this.readLock.released(action, this.now);
        else if (r === WRITE_RELEASE) this.writeLock.released(action, this.now);
      }
    } else if (action < this.A + this.P) {
      key = sm.hwKeys.dispatch;
      this.ctxVcpu = -1;
      this.loadedBefore = -1;
    } else if (action < this.A + this.P + this.V) {
      key = sm.hwKeys.deliver;
      this.ctxVcpu = action - this.A - this.P;
      this.loadedBefore = -1;
    } else {
      key = sm.hwKeys.drain;
      this.ctxVcpu = sm.actorVcpu[action - this.A - this.P - this.V];
      this.loadedBefore = -1;
    }
    this.curKey = key;
    if (this.timeline) {
      this.curTrack = this.trackOf(action);
      // KVM's harvest (vmx_sync_pir_to_irr clearing ON) takes what was posted to this vCPU.
      if (action < this.A && HARVEST_START.test(sm.keys[key])) this.flowSteps(this.ctxVcpu);
    }
    this.cost = this.priced(this.stepCosts, key);
    if (this.meas.measuring) {
      this.keyCount[key]++;
      this.keyCycles[key] += this.cost;
    }
    this.steps++;
  }

  /** A software sender's first step: the latency of (x, vector) is measured from now. */
  private softwarePosting(action: number, x: number, vector: number): void {
    this.meas.posted(x, vector);
    if (this.timeline) {
      this.curTrack = this.trackOf(action);
      this.flowStart(x, vector);
    }
  }

  /** Cycles of key i for the current CPU, which then owns the lines it accessed. */
  private priced(c: CompiledCosts, i: number): number {
    const lines = c.lines(i);
    if (lines === 0) return c.cycles(i, 0);
    const row = this.ctxVcpu + 1;
    let local = 0;
    for (let l = 0; l < LINE_NAMES.length; l++) {
      if (((lines >>> l) & 1) === 0) continue;
      const o = l * (this.V + 1) + row;
      if (this.lineOwner[o] === this.cpu) local |= 1 << l;
      this.lineOwner[o] = this.cpu;
    }
    return c.cycles(i, local);
  }

  /**
   * Before an exchange of handle_pending_pir on the posted-MSI handler actor a: the vectors it takes
   * (the whole 64-bit word, as arch_xchg does) each owe their driver's handler time, paid when the
   * round ends (stepped).
   */
  private msiTake(s: Uint32Array, a: number, pc: number): void {
    const pm = this.sm.postedMsi;
    const j = pc < pm.xchgWord[a].length ? pm.xchgWord[a][pc] : -1;
    if (j < 0) return;
    const p = pm.pcpuOf[a];
    for (let k = 0; k < 2; k++) {
      let bits = s[pm.pir[p] + 2 * j + k];
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        this.msiDebt[a] += this.msiHandler[p * 256 + 64 * j + 32 * k + bit];
        if (this.meas.measuring) this.msiIrqs++;
      }
    }
  }

  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.events++;
    if (kind === EV.HOST_IRQ && b === POSTED_MSI_NOTIFICATION_VECTOR) this.msiNotified = true;
    const ek = this.eventKey[kind];
    if (ek >= 0) this.cost += this.priced(this.eventCosts, ek);
    if (kind === EV.DELIVER && this.bound > 0) this.checkStranded(a, b);
    this.meas.ev(kind, a, b, c, d);
    if (kind === EV.VMENTRY) this.switchTo(b, GUEST, a);
    else if (kind === EV.VMEXIT) this.switchTo(b, EXIT_HANDLING, a);
    if (this.halts.active && a >= 0) {
      if (kind === EV.VTD_POST || kind === EV.IPIV_POST || kind === EV.GA_POST || kind === EV.WAKE_UP)
        this.halts.interrupt(a, this.now);
      else if (kind === EV.DELIVER) this.halts.delivered(a, this.now, this.meas.measuring);
    }
    if (this.timeline) this.timelineEvent(kind, a, b, c);
  }

  private checkStranded(vcpu: number, vector: number): void {
    const t = this.meas.postedTime(vcpu, vector);
    if (this.meas.measuring && !Number.isNaN(t) && this.now - t > this.bound) this.strandedDelivered++;
  }

  /** pCPU p now does `kind` (for vCPU x): the time since the last switch goes to what it did. */
  private switchTo(p: number, kind: number, x: number): void {
    if (p < 0 || p >= this.P) return;
    const t = this.now;
    if (this.meas.measuring) {
      const span = t - this.pcpuSince[p];
      const host = Math.min(this.hostDebt[p], span);
      this.shares.add(p, this.pcpuKind[p], span - host);
      this.shares.add(p, HOST, host);
    }
    if (this.timeline) this.timelineSwitch(p, kind, x, t);
    this.hostDebt[p] = 0;
    this.pcpuSince[p] = t;
    this.pcpuKind[p] = kind;
    this.pcpuVcpu[p] = x;
  }

  /** After the step: its actor is busy until its end, and the actor's next step may have a pace. */
  stepped(action: number): void {
    const s = this.s!;
    const sm = this.sm;
    let cost = Math.max(this.cost, 1);
    const pm = sm.postedMsi;
    if (this.msiNotified || (action < this.A && pm.pcpuOf[action] >= 0)) {
      if (this.meas.measuring) this.msiCycles += cost;
      this.msiNotified = false;
      // The round's last exchange is done: handle_pending_pir now calls the drivers' handlers.
      if (action < this.A && this.msiDebt[action] > 0) {
        const pc = s[sm.model.actorBase[action] + ACTOR.PC];
        if (!(pc < pm.xchgWord[action].length && pm.xchgWord[action][pc] >= 0)) {
          cost += this.msiDebt[action];
          if (this.meas.measuring) this.msiHandlerCycles += this.msiDebt[action];
          this.msiDebt[action] = 0;
        }
      }
    }
    const end = this.now + cost;
    this.due[action] = end;
    this.lastEnd = end;
    if (action < this.A) {
      const pc = s[sm.model.actorBase[action] + ACTOR.PC];
      this.pace(action, pc, end);
      const x = this.ctxVcpu;
      if (x >= 0) {
        const after = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1;
        if (after !== this.loadedBefore) {
          if (this.loadedBefore >= 0) this.switchTo(this.loadedBefore, IDLE, -1);
          if (after >= 0) this.switchTo(after, EXIT_HANDLING, x);
          if (after >= 0) {
            if (this.lastLoaded[x] >= 0 && this.lastLoaded[x] !== after && this.meas.measuring)
              this.migrations++;
            this.lastLoaded[x] = after;
          }
        }
      }
    } else if (action < this.A + this.P + this.V) {
      // The hardware's interrupt work holds up whatever runs on that CPU.
      const p = this.cpu;
      // A notification taken in guest mode is posted-interrupt processing, guest time; in root
      // mode it is the host's interrupt handling.
      if (action < this.A + this.P && p < this.P && this.pcpuKind[p] !== GUEST) this.hostDebt[p] += cost;
      for (let a = 0; a < this.A; a++) {
        const x = sm.actorVcpu[a];
        if (x < 0) continue;
        const q = s[sm.model.w.L.kvmVcpu[x] + KVM_VCPU.LOADED] - 1;
        if (q === p && this.due[a] < end) this.due[a] = end;
      }
    }
    if (this.timeline) {
      this.timelineStep(action, end);
      this.timelineCounters(s);
    }
  }

  /** Closes the accounting at the end of the measured time. */
  finish(): void {
    for (let p = 0; p < this.P; p++) this.switchTo(p, this.pcpuKind[p], this.pcpuVcpu[p]);
    if (this.timeline) for (let p = 0; p < this.P; p++) this.timelineSwitch(p, IDLE, -1, this.now);
  }

  // The timeline (opt-in; allocates per event). Tracks: each pCPU's guest / exit handling / host
  // slices; each actor's steps (vCPU threads and guest senders under vCPUs, devices under the
  // IOMMU); each pCPU's interrupt dispatches and each vCPU's virtual-interrupt deliveries. Every
  // track's slices are sequential, so they nest trivially; flow points lie inside the step that
  // made them.

  /**
   * A full timeline stops between two steps, so every step it shows has its slice and flow points
   * (a flow may lack its end: a vector still waiting); the pCPUs' open slices end here.
   */
  private stopTimeline(): void {
    for (let p = 0; p < this.P; p++) this.timelineSwitch(p, IDLE, -1, this.now);
    this.timeline!.stop(this.now);
    this.timeline = undefined;
  }

  private trackOf(action: number): Track {
    const tl = this.timeline!;
    const sm = this.sm;
    if (action < this.A) {
      const name = sm.model.actors[action].name;
      return sm.actorVcpu[action] < 0 && sm.actorSource[action] >= 0
        ? tl.track('iommu', action, name)
        : tl.track('vcpu', action, name);
    }
    if (action < this.A + this.P) {
      const p = action - this.A;
      return tl.track('pcpu', this.P + p, `pcpu${p} interrupts`);
    }
    const x = action - this.A - this.P;
    if (x < this.V) return tl.track('vcpu', this.A + x, `vcpu${x} guest interrupts`);
    return this.trackOf(x - this.V);
  }

  private timelineSwitch(p: number, kind: number, x: number, t: number): void {
    const tl = this.timeline!;
    const track = tl.track('pcpu', p, `pcpu${p}`);
    if (this.openPcpu[p] === true) {
      tl.end(track, t);
      this.openPcpu[p] = false;
    }
    if (kind !== IDLE) {
      tl.begin(track, x >= 0 ? `${KIND_NAMES[kind]} vcpu${x}` : KIND_NAMES[kind], KIND_NAMES[kind], t);
      this.openPcpu[p] = true;
    }
  }

  private timelineStep(action: number, end: number): void {
    if (this.curTrack === null) return;
    const sm = this.sm;
    const name =
      action < this.A
        ? sm.keys[this.curKey]
        : action < this.A + this.P
          ? 'interrupt dispatch'
          : action < this.A + this.P + this.V
            ? 'virtual interrupt'
            : 'store buffer drain';
    this.timeline!.slice(this.curTrack, name, 'step', this.now, end - this.now);
  }

  private timelineEvent(kind: EventKind, a: number, b: number, c: number): void {
    const tl = this.timeline!;
    const track = this.curTrack;
    if (track === null) return;
    if ((kind === EV.VTD_POST || kind === EV.IPIV_POST || kind === EV.GA_POST) && a >= 0)
      this.flowStart(a, b);
    else if (kind === EV.PI_PROCESS && c >= 0) {
      const id = this.flowOf[b * 256 + c];
      if (id !== 0) tl.flow('step', id, track, this.now);
    } else if (kind === EV.DELIVER) {
      const id = this.flowOf[a * 256 + b];
      if (id !== 0) tl.flow('end', id, track, this.now);
      this.flowOf[a * 256 + b] = 0;
    } else if (kind === EV.PHYS_IRQ) {
      // A notification for vCPU c - 1 carries every vector that waits for it.
      if (c > 0) this.flowSteps(c - 1);
      tl.instant(track, `IPI vector 0x${b.toString(16)} to pcpu${a}`, 'irq', this.now);
    }
  }

  /** A point on every flow that waits for vCPU x (a notification sent, a harvest begun). */
  private flowSteps(x: number): void {
    if (this.curTrack === null || x < 0 || x >= this.V) return;
    for (let v = 0; v < 256; v++) {
      const id = this.flowOf[x * 256 + v];
      if (id !== 0) this.timeline!.flow('step', id, this.curTrack, this.now);
    }
  }

  private flowStart(x: number, vector: number): void {
    const i = x * 256 + vector;
    if (this.flowOf[i] !== 0 || this.curTrack === null) return;
    this.flowOf[i] = this.flowNext++;
    this.timeline!.flow('start', this.flowOf[i], this.curTrack, this.now);
  }

  private timelineCounters(s: Uint32Array): void {
    const tl = this.timeline!;
    const k = s[this.sm.model.apicv + KVM_APICV.INHIBITS];
    if (k !== this.lastInhibits) {
      this.lastInhibits = k;
      tl.counter('pcpu', 'apicv inhibits', this.now, { inhibits: k });
    }
    const L = this.sm.model.w.L;
    for (let x = 0; x < this.V; x++) {
      let n = 0;
      for (let j = 0; j < 8; j++) {
        let v = s[L.pid[x] + PID.PIR + j];
        while (v !== 0) {
          v &= v - 1;
          n++;
        }
      }
      if (n !== this.pirCount[x]) {
        this.pirCount[x] = n;
        tl.counter('vcpu', `vcpu${x} PIR`, this.now, { vectors: n });
      }
    }
  }
}
