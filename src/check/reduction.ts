/**
 * Partial-order reduction by persistent ("ample") sets of one thread step (Clarke, Grumberg,
 * Peled, "Model Checking", ch. 10; Godefroid, "Partial-Order Methods for the Verification of
 * Concurrent Systems", LNCS 1032, ch. 4). At a state the explorer expands one actor's step alone,
 * instead of every enabled action, when:
 *
 * C1 (persistence) no action another actor or the hardware can take from here on, before this
 *    step runs, depends on it. Over-approximated with footprints (footprints.ts): the step's words
 *    against the union of every instruction of every other actor that has not finished, of every
 *    store-buffer drain of those actors, and of the hardware actions that can touch them. A thread
 *    step is held back while its pCPU's APIC dispatches (or its vCPU takes a virtual interrupt), so
 *    the step also "reads" the words those gates read; the gating hardware action itself is not
 *    counted, because it can only become enabled after something that writes the gate's words,
 *    and that something is counted. Hardware touches a vCPU's own state only while it runs in
 *    guest mode or sits on a wake-up list, and only the vCPU's own thread gets it there: a vCPU
 *    that is neither is left out of the hardware's footprint. Under TSO the actor's store buffer
 *    must be empty (its drain then belongs to its own later stores).
 * C2 (invisibility) the step writes no word an invariant reads (descriptors, vcpu->mode's posting
 *    count and wake-up fields, which vCPU runs where, LAPIC IRR): invariants see the same values
 *    before and after it. A control word the step changes only in ON and SN is not such a write
 *    (the invariants read NV there: footprints.ts `onSnOnly`), nor is its own vCPU's PIR while
 *    that vCPU is not in guest mode (no-stuck-pir reads it only there, and only the step's own
 *    thread enters it; decision 0255). For state invariants it suffices that a violating state
 *    stays reachable, so a step that never turns a violating state into a satisfying one may go
 *    alone whatever it writes (footprints.ts `neverRepairs`: VM entry onto a pCPU where no other
 *    vCPU runs; decision 0258). VM entry is the only actor step a monitor watches; its monitors
 *    read only words its footprint holds.
 * C3 (cycle proviso, for BFS) when the step's successor was expanded already (or is the state
 *    itself), the state is expanded in full (explorer.ts): on any cycle the state expanded last
 *    finds its successor on the cycle expanded. A successor stored but still queued needs nothing
 *    (Bošnački, Holzmann, SPIN 2005); the earlier test, "stored at all", expanded every diamond in
 *    full and cut almost nothing.
 *
 * Persistent sets keep every reachable deadlock, so the terminal checks see every quiescent end
 * state they would see without reduction. Per state the choice costs a few passes over bitsets
 * of ceil(words/32) words and allocates nothing.
 */

import { REG_WORDS32 } from '../model/hw/bits.ts';
import { PID } from '../model/hw/pid.ts';
import { ACTOR, type Instr } from '../model/kvm/program.ts';
import { KVM_VCPU } from '../model/kvm/state.ts';
import { storeBufferEmpty } from '../model/kvm/tso.ts';
import { PCPU, PCPU_MODE_GUEST, VCPU } from '../model/platform/layout.ts';
import { vcpuRunningOn } from '../model/platform/world.ts';
import type { SystemModel } from '../model/system/system.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { type Footprint, type StepScope, stepFootprint, words } from './footprints.ts';

/** What the explorer asks a reduction at each state. */
export interface Reducer {
  /** The reduction's name, for output ("ample"). */
  readonly name: string;
  /**
   * Given the enabled actions at s, the index in `acts` of the one action to expand alone, or -1
   * to expand them all.
   */
  choose(s: Uint32Array, acts: Int32Array, n: number): number;
}

/**
 * Puts the action the reducer expands alone at the front of `acts` and says whether there is one
 * (the rest follow in their order, but for the one swapped into its place): the one-thread and
 * the parallel search make the same choice through this.
 */
export function ampleFirst(reducer: Reducer, s: Uint32Array, acts: Int32Array, n: number): boolean {
  const a = reducer.choose(s, acts, n);
  if (a < 0) return false;
  const t = acts[0];
  acts[0] = acts[a];
  acts[a] = t;
  return true;
}

export const REDUCTIONS = ['none', 'ample'] as const;
export type ReductionName = (typeof REDUCTIONS)[number];

/** A bitset over the World's words. */
class Bits {
  readonly b: Uint32Array;
  constructor(nb: number) {
    this.b = new Uint32Array(nb);
  }
  add(ws: readonly number[]): this {
    for (const i of ws) this.b[i >>> 5] |= 1 << (i & 31);
    return this;
  }
  or(o: Bits): this {
    for (let k = 0; k < this.b.length; k++) this.b[k] |= o.b[k];
    return this;
  }
  fill(): this {
    this.b.fill(0xffffffff);
    return this;
  }
}

/** A step's reads and writes (a written word counts as read as well). */
interface Rw {
  r: Bits;
  w: Bits;
  /** The writes an invariant may see: `w` less the control words changed only in ON and SN. */
  vw: Bits;
  /** Footprint.neverRepairs: invisible for C2 whatever it writes. */
  neverRepairs: boolean;
}

export class AmpleReducer implements Reducer {
  readonly name = 'ample';
  private readonly m: SystemModel;
  private readonly nb: number;
  /** Per actor, per pc: the step's footprint, or null (touches everything: never alone). */
  private readonly steps: (Rw | null)[][];
  /**
   * Per actor and pc: the union of the instructions it may still run and its drains. For an actor
   * without a vCPU that never repeats, pc onwards (its program only jumps forward: ProgramBuilder);
   * otherwise the whole program (repeat, and a vCPU thread's exit handler returns to a saved pc).
   */
  private readonly futures: Rw[][];
  /** Per actor and pc: a number per distinct future (the memo's key holds them). */
  private readonly futureIds: Int32Array[];
  /** Per vCPU and pCPU the gate is on (index p + 1; 0: none): the hardware other than the gate. */
  private readonly hardware: Rw[][];
  /** Per vCPU: what the hardware may touch of it while it runs or sits on a wake-up list. */
  private readonly engaged: Rw[];
  /**
   * The words the gates read: per vCPU, its virtual-interrupt delivery (while it runs in guest
   * mode); per pCPU, its APIC's dispatch (while it is in guest mode or has host IRQs on).
   */
  private readonly vcpuGates: Bits[];
  private readonly dispatchGates: Bits[];
  /** The words an invariant or the monitors read. */
  private readonly visible: Bits;
  /**
   * Per actor and pc: 1 where the step writes a visible word in every context (beyond its own
   * vCPU's PIR, which C2 hides outside guest mode, and not declared neverRepairs), so that it
   * never goes alone (a post that notifies): choose passes over it without asking the memo.
   */
  private readonly loud: Uint8Array[];
  /**
   * Per vCPU: its PIR words, which no-stuck-pir reads only while the vCPU runs in guest mode
   * (SystemModel.stuckPir), so not visible to a step of its own thread while it does not.
   */
  private readonly pirOf: Bits[];
  /** Scratch: the union of the other actors and the hardware at the state being expanded. */
  private readonly oR: Uint32Array;
  private readonly oW: Uint32Array;
  /** fits's answers by actor, pc, context and futures (RowMemo), and that row for the state at hand. */
  private readonly memo: RowMemo;
  private readonly useMemo: boolean;
  private readonly key: Int32Array;

  /** `memo: false` computes every answer, without the memo or the `loud` shortcut (the tests compare). */
  constructor(model: SystemModel, sc: Scenario, opts: { memo?: boolean } = {}) {
    this.m = model;
    this.useMemo = opts.memo ?? true;
    const L = model.w.L;
    const nb = (model.words + 31) >>> 5;
    this.nb = nb;
    this.oR = new Uint32Array(nb);
    this.oW = new Uint32Array(nb);
    this.key = new Int32Array(3 + model.actors.length);
    this.memo = new RowMemo(this.key.length);
    const nP = L.nPcpu;
    const nV = L.nVcpu;
    const bits = () => new Bits(nb);
    const rw = (): Rw => ({ r: bits(), w: bits(), vw: bits(), neverRepairs: false });
    const everything = (): Rw => ({
      r: bits().fill(),
      w: bits().fill(),
      vw: bits().fill(),
      neverRepairs: false,
    });
    const add = (x: Rw, f: Footprint) => {
      x.r.add(f.reads).add(f.writes);
      x.w.add(f.writes);
      const hidden = new Set(f.onSnOnly ?? []);
      x.vw.add(f.writes.filter((i) => !hidden.has(i)));
    };
    const allP = Array.from({ length: nP }, (_, p) => p);
    const pcpusOf = pcpusOfVcpus(model, sc);

    const scopes = stepScopes(model, sc);
    this.steps = model.actors.map((a, i) =>
      a.code.map((ins: Instr) => {
        const f = stepFootprint(ins.fn, ins.label, scopes[i]);
        if (f === null) return null;
        const x = rw();
        add(x, f);
        x.neverRepairs = f.neverRepairs === true;
        return x;
      }),
    );
    // An actor's future: its instructions from `from` on (jumps may go back: all of them unless
    // forwardOnly), its drains (a drain writes what a buffered store of the actor's writes, already
    // in that store's footprint).
    this.futures = this.steps.map((code, i) => {
      const a = model.actors[i];
      const forwardOnly = a.vcpu < 0 && !a.code.some((ins) => ins.fn === 'actor' && ins.label === 'repeat');
      const from = (pc: number): Rw => {
        const u = rw();
        const part = code.slice(forwardOnly ? pc : 0);
        if (part.some((x) => x === null)) return everything();
        for (const x of part) {
          u.r.or(x!.r);
          u.w.or(x!.w);
          u.vw.or(x!.vw);
        }
        add(u, { reads: [], writes: words.actor(model.actorBase[i]) });
        return u;
      };
      if (!forwardOnly) {
        const all = from(0);
        return code.map(() => all);
      }
      return code.map((_, pc) => from(pc));
    });
    const ids = new Map<Rw, number>();
    const idOf = (u: Rw): number => {
      if (!ids.has(u)) ids.set(u, ids.size);
      return ids.get(u)!;
    };
    this.futureIds = this.futures.map((f) => new Int32Array(f.map(idOf)));

    // The hardware (system.ts): pCPU p's dispatch touches its LAPIC and pCPU words, the vCPU that
    // runs there (posted-interrupt processing, a VM exit that sends its thread to the exit
    // handler), the vCPUs on its wake-up list (pi_wakeup_handler); with an I/O APIC an EOI
    // broadcast reaches every LAPIC. A vCPU's delivery and EOI touch its page and guest state and,
    // by an EOI-induced exit, any pCPU's mode and its thread.
    const threads = (y: number) =>
      model.actors.flatMap((a, i) => (a.vcpu === y ? words.actor(model.actorBase[i]) : []));
    const ofVcpu = (y: number) => [
      ...words.pid(L, y),
      ...words.vapic(L, y),
      ...words.vcpu(L, y),
      ...words.kvm(L, y),
      ...threads(y),
    ];
    const io = model.w.L.extra.get('ioapic');
    const ioWords =
      io === undefined ? [] : [...allP.flatMap((p) => words.lapic(L, p)), ...rangeFrom(io, model.words)];
    this.engaged = Array.from({ length: nV }, (_, x) => {
      const e = rw();
      add(e, { reads: [], writes: ofVcpu(x) });
      return e;
    });
    this.hardware = Array.from({ length: nV + 1 }, (_, xi) =>
      Array.from({ length: nP + 1 }, (_, pi) => {
        const x = xi - 1;
        const h = rw();
        for (let p = 0; p < nP; p++) {
          if (p === pi - 1) continue;
          add(h, { reads: [], writes: [...words.lapic(L, p), ...words.pcpu(L, p), ...ioWords] });
        }
        for (let y = 0; y < nV; y++) {
          if (y === x) continue;
          const where = pcpusOf[y].flatMap((p) => words.pcpu(L, p));
          add(h, { reads: [], writes: [...ofVcpu(y), ...where, ...ioWords] });
        }
        return h;
      }),
    );
    // The gates (SystemModel.enabled): pcpuDispatchEnabled(p) reads p's LAPIC, mode and host IF;
    // vcpuDeliverEnabled / vcpuAutoEoiEnabled read the vCPU's page, guest state and where it runs.
    this.vcpuGates = Array.from({ length: nV }, (_, x) => {
      const g = bits();
      g.add(words.vapic(L, x))
        .add(words.vcpu(L, x))
        .add(words.kvm(L, x, 'LOADED'));
      for (const p of pcpusOf[x]) g.add(words.pcpu(L, p, 'MODE', 'VMCS'));
      return g;
    });
    this.dispatchGates = Array.from({ length: nP }, (_, p) =>
      bits().add(words.lapic(L, p)).add(words.pcpu(L, p)),
    );
    // Invariants (SystemModel.invariant): no-stuck-pir reads where each vCPU runs, its PIR, its
    // posting count and its pCPU's IRR; wakeup-list reads the wake-up fields, NV and NDST.
    this.visible = bits();
    for (let y = 0; y < nV; y++) {
      this.visible.add(words.pid(L, y)).add(words.kvm(L, y, 'POSTING', 'WAKEUP_LISTS', 'WAKEUP_UPDATING'));
      this.visible.add([L.vcpu[y] + VCPU.PCPU]);
    }
    for (const p of allP)
      this.visible.add(words.pcpu(L, p, 'MODE', 'VMCS')).add(words.lapic(L, p).slice(0, 8));
    this.pirOf = Array.from({ length: nV }, (_, x) =>
      bits().add(words.pid(L, x).slice(PID.PIR, PID.PIR + REG_WORDS32)),
    );
    this.loud = this.steps.map((code, i) =>
      Uint8Array.from(code, (st) => {
        const x = model.actors[i].vcpu;
        return st !== null && !st.neverRepairs && this.seen(st, x >= 0 ? this.pirOf[x].b : null) ? 1 : 0;
      }),
    );
  }

  choose(s: Uint32Array, acts: Int32Array, n: number): number {
    const m = this.m;
    const A = m.actors.length;
    let futures = false;
    for (let k = 0; k < n; k++) {
      const i = acts[k];
      if (i >= A) continue;
      const base = m.actorBase[i];
      const pc = s[base + ACTOR.PC];
      const st = this.steps[i][pc];
      // With the memo off every answer is computed, the shortcut's too (the memo test compares).
      if (st === null || (this.useMemo && this.loud[i][pc] === 1)) continue;
      if (m.tso && !storeBufferEmpty(s, base)) continue;
      if (!futures && this.useMemo) {
        this.futuresKey(s);
        futures = true;
      }
      if (this.fits(s, i, pc, st)) return k;
    }
    return -1;
  }

  /**
   * The memo key's futures (RowMemo): per actor, the id of its future at its pc (an actor that may
   * jump back has one for all its pcs), -1 once it finished. The same for every step asked at s.
   */
  private futuresKey(s: Uint32Array): void {
    const m = this.m;
    const key = this.key;
    for (let j = 0; j < m.actors.length; j++) {
      const pcj = s[m.actorBase[j] + ACTOR.PC];
      key[j + 3] = pcj < m.actors[j].code.length ? this.futureIds[j][pcj] : -1;
    }
  }

  /**
   * Whether actor i's step at pc may go alone at s. The answer depends on s only through the
   * context (where the step's vCPU is loaded and runs, whether the hardware is engaged with it,
   * whether its pCPU's dispatch is on) and the other actors' futures, which their pcs select, so
   * it is memoized on i, pc, the context and the futures: the 3-vCPU scaled seed 004 meets 525 of
   * those in 439,024 states. The memo took the choice's share of the search from 10% to 6%, and
   * `loud` with the futures built once per state to 3.4% (CPU profiles).
   */
  private fits(s: Uint32Array, i: number, pc: number, st: Rw): boolean {
    if (!this.useMemo) return this.fitsIn(s, i, st, this.context(s, i, pc));
    // key[3..]: the other actors' futures, set by choose for this state (futuresKey).
    const key = this.key;
    key[0] = i;
    key[1] = pc;
    key[2] = this.context(s, i, pc);
    const known = this.memo.get(key);
    if (known >= 0) return known === 1;
    const ok = this.fitsIn(s, i, st, key[2]);
    this.memo.put(key, ok ? 1 : 0);
    return ok;
  }

  /**
   * What fitsIn reads of s besides the pcs, in one integer: the pCPU actor i's step at pc runs on
   * (index p + 1; 0: none) times 16, plus 8 if the pCPU its vCPU's vcpu->cpu names is in guest
   * mode (a VM entry there would take it from another vCPU), 4 if its vCPU runs in guest mode, 2
   * if the hardware is engaged with it (it runs or sits on a wake-up list), 1 if that pCPU's
   * dispatch is on.
   */
  private context(s: Uint32Array, i: number, pc: number): number {
    const m = this.m;
    const x = m.actors[i].vcpu;
    let pi = 0;
    let running = 0;
    let engaged = 0;
    let on = 0;
    let taken = 0;
    if (x >= 0) {
      m.w.m = s;
      const k = m.w.L.kvmVcpu[x];
      const cpu = m.actors[i].code[pc].cpu;
      pi = cpu !== undefined ? cpu + 1 : s[k + KVM_VCPU.LOADED];
      running = vcpuRunningOn(m.w, x) >= 0 ? 1 : 0;
      engaged = running === 1 || s[k + KVM_VCPU.WAKEUP_LISTS] !== 0 ? 1 : 0;
      if (pi > 0) {
        const p = m.w.L.pcpu[pi - 1];
        on = s[p + PCPU.MODE] === PCPU_MODE_GUEST || s[p + PCPU.HOST_IF] === 1 ? 1 : 0;
      }
      const c = s[k + KVM_VCPU.CPU];
      if (c > 0 && s[m.w.L.pcpu[c - 1] + PCPU.MODE] === PCPU_MODE_GUEST) taken = 1;
    }
    return pi * 16 + taken * 8 + running * 4 + engaged * 2 + on;
  }

  /**
   * Whether the invariants may see the step (C2): it writes a word one reads, the words in
   * `hidden` aside, and it may turn a violating state into a satisfying one (`repairs`: false for
   * a step declared neverRepairs, where the context allows it).
   */
  private seen(st: Rw, hidden: Uint32Array | null, repairs = true): boolean {
    if (!repairs && st.neverRepairs) return false;
    const vis = this.visible.b;
    for (let k = 0; k < this.nb; k++)
      if ((st.vw.b[k] & vis[k] & ~(hidden === null ? 0 : hidden[k])) !== 0) return true;
    return false;
  }

  /** fits, computed: reads s only through `ctx` (context) and the futures the pcs select. */
  private fitsIn(s: Uint32Array, i: number, st: Rw, ctx: number): boolean {
    const m = this.m;
    const nb = this.nb;
    const x = m.actors[i].vcpu;
    const on = (ctx & 1) !== 0;
    const engaged = (ctx & 2) !== 0;
    const running = (ctx & 4) !== 0;
    const taken = (ctx & 8) !== 0;
    // C2. A vCPU that does not run in guest mode gets there only by its own thread's VM entry,
    // which comes after this step: until the step runs, no-stuck-pir does not read its PIR. A VM
    // entry (neverRepairs) onto a pCPU no vCPU runs on, which no other step can enter before it
    // (it would clash with it on the pCPU's mode: C1 below), starts its vCPU and no other: it
    // makes no violated invariant true, so it may go alone (decision 0258).
    if (this.seen(st, x >= 0 && !running ? this.pirOf[x].b : null, taken)) return false;
    const pi = ctx >>> 4;
    const hw = this.hardware[x + 1][pi];
    const oR = this.oR;
    const oW = this.oW;
    for (let k = 0; k < nb; k++) {
      oR[k] = hw.r.b[k];
      oW[k] = hw.w.b[k];
    }
    if (engaged) {
      const e = this.engaged[x];
      for (let k = 0; k < nb; k++) {
        oR[k] |= e.r.b[k];
        oW[k] |= e.w.b[k];
      }
    }
    for (let j = 0; j < m.actors.length; j++) {
      const pcj = s[m.actorBase[j] + ACTOR.PC];
      if (j === i || pcj >= m.actors[j].code.length) continue;
      const u = this.futures[j][pcj];
      for (let k = 0; k < nb; k++) {
        oR[k] |= u.r.b[k];
        oW[k] |= u.w.b[k];
      }
    }
    // A gate matters only where it can open before this step runs. The vCPU's delivery needs it in
    // guest mode, where only its own thread puts it (VM entry); the pCPU's dispatch needs guest
    // mode or host IRQs on, which this thread or a writer of those words in the union above sets.
    // Where neither holds, nothing else can hold this step back (SystemModel.enabled).
    const gv = running ? this.vcpuGates[x].b : null;
    let gd: Uint32Array | null = null;
    if (x >= 0 && pi > 0) {
      const p = m.w.L.pcpu[pi - 1];
      if (on || bitSet(oW, p + PCPU.MODE) || bitSet(oW, p + PCPU.HOST_IF)) gd = this.dispatchGates[pi - 1].b;
    }
    for (let k = 0; k < nb; k++) {
      if ((st.w.b[k] & (oR[k] | oW[k])) !== 0) return false;
      const r = st.r.b[k] | (gv === null ? 0 : gv[k]) | (gd === null ? 0 : gd[k]);
      if ((r & oW[k]) !== 0) return false;
    }
    return true;
  }
}

/**
 * A map from short rows of integers (all of one length) to a small value, by open addressing
 * over one Int32Array: the reducer's memo, which a search consults at every state, so a lookup
 * allocates nothing. Grown at half full.
 */
export class RowMemo {
  private readonly len: number;
  private rows: Int32Array;
  private vals: Int8Array;
  private mask: number;
  private size = 0;

  constructor(len: number, capacityPow2 = 1 << 8) {
    this.len = len;
    this.rows = new Int32Array(capacityPow2 * len);
    this.vals = new Int8Array(capacityPow2).fill(-1);
    this.mask = capacityPow2 - 1;
  }

  private slotOf(key: Int32Array): number {
    const len = this.len;
    let h = 0x811c9dc5;
    for (let k = 0; k < len; k++) h = Math.imul(h ^ key[k], 0x01000193);
    let i = (h ^ (h >>> 15)) & this.mask;
    for (;;) {
      if (this.vals[i] < 0) return i;
      let same = true;
      const o = i * len;
      for (let k = 0; k < len; k++)
        if (this.rows[o + k] !== key[k]) {
          same = false;
          break;
        }
      if (same) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** The value stored for key, or -1. */
  get(key: Int32Array): number {
    return this.vals[this.slotOf(key)];
  }

  /** Stores v (0..127) for key. */
  put(key: Int32Array, v: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    const i = this.slotOf(key);
    if (this.vals[i] < 0) this.size++;
    this.rows.set(key, i * this.len);
    this.vals[i] = v;
  }

  get count(): number {
    return this.size;
  }

  private grow(): void {
    const old = this.rows;
    const oldVals = this.vals;
    const len = this.len;
    const cap = 2 * (this.mask + 1);
    this.rows = new Int32Array(cap * len);
    this.vals = new Int8Array(cap).fill(-1);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldVals.length; i++) {
      if (oldVals[i] < 0) continue;
      const key = old.subarray(i * len, (i + 1) * len);
      const j = this.slotOf(key);
      this.rows.set(key, j * len);
      this.vals[j] = oldVals[i];
      this.size++;
    }
  }
}

/**
 * The scope of each actor's footprints: its block, its vCPU and the pCPUs that vCPU may be on,
 * and, for an actor whose every step posts (kvm.deliver, device.post), the vCPUs and vectors it
 * posts to with the pCPUs their notifications can reach.
 */
export function stepScopes(model: SystemModel, sc: Scenario): StepScope[] {
  const L = model.w.L;
  const allP = Array.from({ length: L.nPcpu }, (_, p) => p);
  const pcpusOf = pcpusOfVcpus(model, sc);
  // NDST starts at the vCPU's pCPU, pCPU 0 for a vCPU placed nowhere (world.ts), and follows it.
  const ndst = pcpusOf.map((ps, x) => (sc.machine.vcpus[x].pcpu >= 0 ? ps : [...new Set([0, ...ps])]));
  return model.actors.map((a, i) => {
    const decl = (sc.actors ?? []).find((d) => d.name === a.name);
    let posts: { vcpu: number; vector: number }[] | undefined = [];
    for (const st of decl?.steps ?? []) {
      if (st.do === 'kvm.deliver') posts.push({ vcpu: st.vcpu, vector: st.vector });
      else if (
        st.do === 'device.post' &&
        st.irte === undefined &&
        st.vcpu !== undefined &&
        st.vector !== undefined
      )
        posts.push({ vcpu: st.vcpu, vector: st.vector });
      else if (st.do === 'device.post' && st.irte !== undefined) {
        const e = sc.machine.irtes?.[st.irte];
        if (e === undefined || e.vcpu === undefined || e.vector === undefined) posts = undefined;
        else posts.push({ vcpu: e.vcpu, vector: e.vector });
      } else posts = undefined;
      if (posts === undefined) break;
    }
    if (decl === undefined || posts?.length === 0) posts = undefined;
    return {
      L,
      actor: model.actorBase[i],
      vcpu: a.vcpu,
      pcpus: a.vcpu >= 0 ? pcpusOf[a.vcpu] : allP,
      ...(posts === undefined ? {} : { posts, ndst }),
    };
  });
}

function bitSet(b: Uint32Array, i: number): boolean {
  return (b[i >>> 5] & (1 << (i & 31))) !== 0;
}

function rangeFrom(base: number, end: number): number[] {
  return Array.from({ length: end - base }, (_, k) => base + k);
}

/**
 * The pCPUs each vCPU may be loaded on over the scenario: where it starts, each kvm.load, each
 * guest.hlt wake-up pCPU. With a step the footprints do not know in its thread, every pCPU.
 */
function pcpusOfVcpus(model: SystemModel, sc: Scenario): number[][] {
  const nP = model.w.L.nPcpu;
  const out = sc.machine.vcpus.map((c) => new Set<number>(c.pcpu >= 0 ? [c.pcpu] : []));
  for (const a of sc.actors ?? []) {
    if (a.vcpu === undefined) continue;
    for (const st of a.steps) {
      if (st.do === 'kvm.load') out[a.vcpu].add(st.pcpu);
      if (st.do === 'guest.hlt' && st.wakeOn !== undefined) out[a.vcpu].add(st.wakeOn);
    }
  }
  const L = model.w.L;
  model.actors.forEach((a, i) => {
    if (a.vcpu < 0) return;
    const scope = { L, actor: model.actorBase[i], vcpu: a.vcpu, pcpus: [] };
    if (a.code.some((ins) => stepFootprint(ins.fn, ins.label, scope) === null))
      for (let p = 0; p < nP; p++) out[a.vcpu].add(p);
  });
  return out.map((s) => [...s].sort((p, q) => p - q));
}
