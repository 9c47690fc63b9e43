/**
 * A litmus test as a model for the explorer (src/check/explorer.ts), under sequential consistency
 * or x86-TSO.
 *
 * x86-TSO (Owens, Sarkar, Sewell, "A better x86 memory model: x86-TSO", TPHOLs 2009; Sewell et
 * al., CACM 2010; SDM Vol. 3A 9.2.2): each thread has a FIFO store buffer. A plain store (MOV to
 * memory) goes to the tail of its thread's buffer; a load reads the newest buffered store of its
 * own thread to that location, else memory; writing the oldest buffered store to memory is a step
 * of its own, which may happen at any time; MFENCE and locked instructions (XCHG with memory, LOCK
 * ADD, ...) run only when their thread's buffer is empty and read and write memory in one step.
 * Sequential consistency is the same machine without buffers: a store writes memory at once.
 *
 * State (one Uint32Array): the memory words (one per location, so a location's index is its word,
 * as the store buffer helpers expect), then per thread its pc, its registers (REGISTERS) and its
 * store buffer, as deep as the thread has stores (a buffer can never overflow).
 *
 * Actions: t < threads executes thread t's next instruction; threads + t writes the oldest entry of
 * thread t's buffer to memory. The final states are those with no action enabled: every thread at
 * the end of its program and every buffer drained, the states herd's conditions are about.
 */
import type { CheckModel } from '../check/explorer.ts';
import { sbDrainOldest, sbEmpty, sbLoad, sbPush, storeBufferWords } from '../model/hw/store-buffer.ts';
import { evalProp } from './condition.ts';
import { type Instr, isLocked, type LitmusTest, type Loc, REGISTERS, type Rmw, type Source } from './test.ts';

export type LitmusMemory = 'sc' | 'tso';

export const LITMUS_MEMORY: readonly LitmusMemory[] = ['sc', 'tso'];

const NREGS = REGISTERS.length;

export class LitmusMachine implements CheckModel {
  readonly words: number;
  readonly maxActions: number;
  readonly threadCount: number;
  /** Per thread: the word of its pc; registers follow it, then the store buffer. */
  readonly base: number[];
  readonly depth: number[];
  /**
   * The value of the condition's body a final state must have to be reported by `terminal` as
   * code 1 (null: report none). The explorer then returns a shortest execution to such a state.
   */
  target: boolean | null = null;
  /** Called on every final state the explorer reaches (once per distinct state). */
  onFinal: ((s: Uint32Array) => void) | null = null;
  private cur: Uint32Array = new Uint32Array(0);
  private readonly read = (at: Loc): number => this.valueAt(this.cur, at);

  readonly test: LitmusTest;
  readonly memory: LitmusMemory;

  constructor(test: LitmusTest, memory: LitmusMemory) {
    this.test = test;
    this.memory = memory;
    this.threadCount = test.threads.length;
    let w = test.locations.length;
    this.base = [];
    this.depth = [];
    for (const prog of test.threads) {
      this.base.push(w);
      const depth = memory === 'tso' ? prog.filter((i) => i.op === 'store').length : 0;
      this.depth.push(depth);
      w += 1 + NREGS + storeBufferWords(depth);
    }
    this.words = w;
    this.maxActions = 2 * this.threadCount;
  }

  /** The word of thread t's store buffer. */
  sb(t: number): number {
    return this.base[t] + 1 + NREGS;
  }

  init(s: Uint32Array): void {
    s.fill(0);
    for (let k = 0; k < this.test.locations.length; k++) s[k] = this.test.initMem[k];
    for (let t = 0; t < this.threadCount; t++)
      for (let r = 0; r < NREGS; r++) s[this.base[t] + 1 + r] = this.test.initRegs[t][r];
  }

  /** Thread t's next instruction, or undefined at the end of its program. */
  next(s: Uint32Array, t: number): Instr | undefined {
    return this.test.threads[t][s[this.base[t]]];
  }

  enabled(s: Uint32Array, out: Int32Array): number {
    let n = 0;
    for (let t = 0; t < this.threadCount; t++) {
      const i = this.next(s, t);
      const drained = sbEmpty(s, this.sb(t));
      // MFENCE and locked instructions wait for their own buffer to drain (SDM Vol. 3A 9.2.2).
      if (i !== undefined && (drained || !(i.op === 'mfence' || isLocked(i)))) out[n++] = t;
      if (!drained) out[n++] = this.threadCount + t;
    }
    return n;
  }

  private source(s: Uint32Array, t: number, src: Source): number {
    return src.reg >= 0 ? s[this.base[t] + 1 + src.reg] : src.imm;
  }

  step(s: Uint32Array, action: number): number {
    if (action >= this.threadCount) {
      sbDrainOldest(s, this.sb(action - this.threadCount));
      return 0;
    }
    const t = action;
    const i = this.test.threads[t][s[this.base[t]]];
    const regs = this.base[t] + 1;
    s[this.base[t]]++;
    switch (i.op) {
      case 'store': {
        const v = this.source(s, t, i.src);
        if (this.memory === 'sc') s[i.loc] = v;
        else sbPush(s, this.sb(t), this.depth[t], i.loc, v);
        return 0;
      }
      case 'load':
        s[regs + i.reg] = sbLoad(s, this.sb(t), i.loc);
        return 0;
      case 'mov':
        s[regs + i.reg] = this.source(s, t, i.src);
        return 0;
      case 'mfence':
        return 0;
      case 'rmw': {
        const old = s[i.loc];
        const v = this.source(s, t, i.src);
        s[i.loc] = rmwResult(i.rmw, old, v, s[regs]);
        // XCHG and XADD return the old value in the register; CMPXCHG loads it into EAX when the
        // comparison with EAX fails (SDM Vol. 2 CMPXCHG, XADD, XCHG).
        if (i.rmw === 'xchg' || i.rmw === 'xadd') s[regs + i.reg] = old;
        else if (i.rmw === 'cmpxchg' && old !== s[regs]) s[regs] = old;
        return 0;
      }
    }
  }

  invariant(): number {
    return 0;
  }

  terminal(s: Uint32Array): number {
    if (this.onFinal) this.onFinal(s);
    if (this.target === null) return 0;
    return this.holds(s) === this.target ? 1 : 0;
  }

  /** Whether the condition's body holds in state s. */
  holds(s: Uint32Array): boolean {
    this.cur = s;
    return evalProp(this.test.condition.body, this.read);
  }

  valueAt(s: Uint32Array, at: Loc): number {
    return at.kind === 'mem' ? s[at.loc] : s[this.base[at.thread] + 1 + at.reg];
  }
}

/** The value a locked read-modify-write leaves in memory; `eax` is for CMPXCHG's comparison. */
function rmwResult(rmw: Rmw, old: number, v: number, eax: number): number {
  switch (rmw) {
    case 'xchg':
      return v;
    case 'add':
    case 'xadd':
      return (old + v) >>> 0;
    case 'sub':
      return (old - v) >>> 0;
    case 'and':
      return (old & v) >>> 0;
    case 'or':
      return (old | v) >>> 0;
    case 'xor':
      return (old ^ v) >>> 0;
    case 'cmpxchg':
      return old === eax ? v : old;
  }
}
