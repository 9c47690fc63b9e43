/**
 * The halts of a workload in simulated time (docs/sim.md, "Workloads"): the idle period that
 * follows each busy period of a halting vCPU, and the two kinds of polling around its HLT. The
 * model's own steps do the work (the HLT exit, kvm_vcpu_block, the wake-up by a posting); this
 * class only says how long certain steps wait, from the time the chooser gives it, and counts.
 *
 * - Idle period: when the busy period ends the guest arms its timer for the next event (tick_nohz)
 *   and goes idle; an interrupt delivered after that ends the idle period, and the timer is
 *   cancelled; otherwise the timer fires (the guest timer actor, sim-model.ts guestTimers) and its
 *   interrupt ends it.
 * - Guest polling (cpuidle-haltpoll with the haltpoll governor, drivers/cpuidle/cpuidle-haltpoll.c,
 *   Documentation/virt/guest-halt-polling.rst): the idle guest first polls (poll_idle) for up to
 *   `guestPoll`, in guest mode, and executes HLT only after that; an interrupt delivered during the
 *   poll ends the idle period with no HLT exit (the thread's HLT step is put back behind a new busy
 *   period). The poll limit is taken as fixed (the governor grows and shrinks it between 0 and
 *   guest_halt_poll_ns; not modelled).
 * - Host polling (kvm_vcpu_halt, virt/kvm/kvm_main.c; Documentation/virt/kvm/halt-polling.rst):
 *   after the HLT exit KVM checks for a wake event (kvm_vcpu_check_block) for up to
 *   vcpu->halt_poll_ns before kvm_vcpu_block schedules the thread out. Here the block's first step
 *   waits for `hostPoll`, or less: until a posting or wake-up for the vCPU arrives; then the
 *   block's own check finds the vCPU runnable and the thread is not scheduled out. The window is
 *   taken as fixed at hostPoll (KVM grows vcpu->halt_poll_ns from halt_poll_ns_grow_start up to
 *   halt_poll_ns on short halts and shrinks it on long ones; not modelled).
 *   The poll also ends when another task becomes runnable on the pCPU (kvm_vcpu_can_poll:
 *   single_task_running() and !need_resched()): here, when another vCPU thread waits to be
 *   scheduled in there.
 *   Statistics as KVM's (update_halt_poll_stats, 30c9434717fd; cb953129bfe5): a halt with polling
 *   is an attempted poll, a successful one if the thread was never scheduled out; the polling time
 *   goes to halt_poll_success_ns or halt_poll_fail_ns; halt_wait_ns is the time scheduled out.
 * Nothing is allocated per event.
 */
import type { HaltPlan } from './sim-model.ts';

/** The halts' counters over the measured time (cycles for times). */
export interface HaltCounts {
  /** HLTs that ended (kvm_vcpu_block returned), and those in which the thread was scheduled out. */
  halts: number;
  waited: number;
  halt_attempted_poll: number;
  halt_successful_poll: number;
  halt_poll_success: number;
  halt_poll_fail: number;
  halt_wait: number;
  /** Idle periods that a guest poll ended (no HLT), and guest polls that ran out (then HLT). */
  guest_poll_success: number;
  guest_poll_fail: number;
}

export class HaltTimes {
  readonly counts: HaltCounts = {
    halts: 0,
    waited: 0,
    halt_attempted_poll: 0,
    halt_successful_poll: 0,
    halt_poll_success: 0,
    halt_poll_fail: 0,
    halt_wait: 0,
    guest_poll_success: 0,
    guest_poll_fail: 0,
  };
  /** Whether any vCPU halts (the chooser skips every hook otherwise). */
  readonly active: boolean;
  private readonly plan: HaltPlan;
  private readonly guestPoll: Float64Array;
  private readonly hostPoll: Float64Array;
  /** Per vCPU: when its current idle period began (NaN: busy), and its timer's expiry. */
  private readonly idleStart: Float64Array;
  private readonly timerAt: Float64Array;
  /** Per vCPU: when its HLT exit began, its host poll began and ended, the last interrupt for it. */
  private readonly hltStart: Float64Array;
  private readonly pollStart: Float64Array;
  private readonly pollEnd: Float64Array;
  private readonly lastInterrupt: Float64Array;
  private readonly waited: Uint8Array;
  /** Per vCPU: the pCPU of its host poll. Per pCPU: threads waiting at a sched-in there; per actor, where. */
  private readonly pollCpu: Int32Array;
  private readonly waitingOn: Int32Array;
  private readonly waitingFor: Int32Array;
  /** The chooser's per-actor pace (shared arrays) and its pace function. */
  private readonly pacedPc: Int32Array;
  private readonly pacedUntil: Float64Array;
  private readonly repace: (a: number, pc: number, t: number) => void;

  constructor(
    plan: HaltPlan,
    pcpus: number,
    clockGHz: number,
    pacedPc: Int32Array,
    pacedUntil: Float64Array,
    repace: (a: number, pc: number, t: number) => void,
  ) {
    const V = plan.thread.length;
    this.plan = plan;
    this.active = plan.thread.some((a) => a >= 0);
    this.guestPoll = plan.guestPollNs.map((ns) => ns * clockGHz);
    this.hostPoll = plan.hostPollNs.map((ns) => ns * clockGHz);
    this.idleStart = new Float64Array(V).fill(Number.NaN);
    this.timerAt = new Float64Array(V).fill(Number.POSITIVE_INFINITY);
    this.hltStart = new Float64Array(V).fill(Number.NaN);
    this.pollStart = new Float64Array(V);
    this.pollEnd = new Float64Array(V);
    this.lastInterrupt = new Float64Array(V).fill(Number.NEGATIVE_INFINITY);
    this.waited = new Uint8Array(V);
    this.pollCpu = new Int32Array(V).fill(-1);
    this.waitingFor = new Int32Array(pcpus);
    this.waitingOn = new Int32Array(plan.schedInCpu.length).fill(-1);
    this.pacedPc = pacedPc;
    this.pacedUntil = pacedUntil;
    this.repace = repace;
  }

  /**
   * Thread a of vCPU x has drawn its busy period `busy` before its HLT (at time t): the idle period
   * starts at its end, the timer is armed `idle` later (idle: a draw, or +Infinity without one).
   * Returns the wait before the HLT step: the busy period and the guest's poll.
   */
  beforeHlt(x: number, t: number, busy: number, idle: number): number {
    this.idleStart[x] = t + busy;
    this.setTimer(x, t + busy + idle);
    return busy + this.guestPoll[x];
  }

  /** Whether actor a's step at pc is vCPU x's HLT (the pace of which beforeHlt extends). */
  isHlt(a: number, x: number, pc: number): boolean {
    return x >= 0 && this.plan.thread[x] === a && this.plan.hltPc[x] === pc;
  }

  /** The expiry a guest timer actor waits for (+Infinity: not armed). */
  timerOf(a: number): number {
    return this.timerAt[this.plan.timerVcpu[a]];
  }

  /**
   * The host poll's wait at the block's first step, from t: none when an interrupt for the vCPU
   * came since its HLT exit began (the first kvm_vcpu_check_block finds it), else the window.
   */
  hostPollWait(x: number, p: number, t: number): number {
    this.pollStart[x] = t;
    this.pollCpu[x] = p;
    if (p >= 0 && this.waitingFor[p] > 0) return 0;
    return this.lastInterrupt[x] >= this.hltStart[x] ? 0 : this.hostPoll[x];
  }

  /**
   * Actor a has arrived at pc at time t. At a sched-in it is a runnable task on that pCPU until it
   * takes the step: a host poll there stops (need_resched).
   */
  arrived(a: number, pc: number, t: number): void {
    const row = this.plan.schedInCpu[a];
    const p = pc < row.length ? row[pc] : -1;
    if (p < 0 || this.waitingOn[a] === p) return;
    this.waitingOn[a] = p;
    this.waitingFor[p]++;
    const thread = this.plan.thread;
    for (let x = 0; x < thread.length; x++) {
      const th = thread[x];
      if (th < 0 || th === a || this.pollCpu[x] !== p) continue;
      if (this.pacedPc[th] === this.plan.blockPc[x] && this.pacedUntil[th] > t) this.pacedUntil[th] = t;
    }
  }

  private setTimer(x: number, at: number): void {
    this.timerAt[x] = at;
    const ta = this.plan.timer[x];
    if (ta >= 0 && this.pacedPc[ta] === 0) this.pacedUntil[ta] = at;
  }

  /** Actor a begins its step at pc at `now` (its vCPU x, -1 for none). */
  step(a: number, x: number, pc: number, now: number, measuring: boolean): void {
    const w = this.waitingOn[a];
    if (w >= 0) {
      this.waitingFor[w]--;
      this.waitingOn[a] = -1;
    }
    const tv = this.plan.timerVcpu[a];
    if (tv >= 0) {
      // The timer fires: consumed until the vCPU is idle again.
      if (pc === 0) this.timerAt[tv] = Number.POSITIVE_INFINITY;
      return;
    }
    if (x < 0 || this.plan.thread[x] !== a) return;
    const p = this.plan;
    if (pc === p.hltPc[x]) {
      this.hltStart[x] = now;
      this.waited[x] = 0;
      if (measuring && this.guestPoll[x] > 0) this.counts.guest_poll_fail++;
    } else if (pc === p.blockPc[x]) {
      this.pollEnd[x] = now;
    } else if (pc === p.wokenPc[x]) {
      this.waited[x] = 1;
    } else if (pc === p.endPc[x] && measuring) {
      const c = this.counts;
      c.halts++;
      if (this.waited[x] === 1) {
        c.waited++;
        c.halt_wait += now - this.pollEnd[x];
      }
      if (this.hostPoll[x] > 0) {
        const polled = this.pollEnd[x] - this.pollStart[x];
        c.halt_attempted_poll++;
        if (this.waited[x] === 1) c.halt_poll_fail += polled;
        else {
          c.halt_successful_poll++;
          c.halt_poll_success += polled;
        }
      }
    }
  }

  /** A posting or a wake-up for vCPU x at `now`: a host poll in progress ends (its check sees it). */
  interrupt(x: number, now: number): void {
    this.lastInterrupt[x] = now;
    const t = this.plan.thread[x];
    if (t >= 0 && this.pacedPc[t] === this.plan.blockPc[x] && this.pacedUntil[t] > now)
      this.pacedUntil[t] = now;
  }

  /**
   * The guest's handler of an interrupt runs on vCPU x at `now`. After the busy period it ends the
   * idle period: the timer is cancelled, and a thread still before its HLT (polling in the guest)
   * goes back to work, a new busy period.
   */
  delivered(x: number, now: number, measuring: boolean): void {
    if (!(now >= this.idleStart[x])) return;
    this.idleStart[x] = Number.NaN;
    this.setTimer(x, Number.POSITIVE_INFINITY);
    const t = this.plan.thread[x];
    const hlt = this.plan.hltPc[x];
    if (t >= 0 && this.pacedPc[t] === hlt) {
      if (measuring && this.guestPoll[x] > 0) this.counts.guest_poll_success++;
      this.repace(t, hlt, now);
    }
  }
}
