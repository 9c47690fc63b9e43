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
 * State (one Uint32Array): the memory words (one per cell of up to 4 bytes, two, low half first,
 * per 8-byte cell; a word's index is its address for the store buffer helpers), then per thread
 * its pc, its flags (alu.ts), two words per register it names, and its store buffer. An 8-byte
 * store is two buffer entries, pushed together and written to memory in one step, so no thread
 * ever sees half of it (aligned 8-byte stores are single-copy atomic, SDM Vol. 3A 9.1.1). Each
 * buffer is as deep as the words its thread's stores write; parse.ts refuses a store on a loop,
 * so a store runs at most once and a buffer never overflows.
 *
 * Actions: t < threads executes thread t's next instruction; threads + t writes the oldest store
 * of thread t's buffer to memory. The final states are those with no action enabled: every thread
 * at the end of its program and every buffer drained, the states herd's conditions are about.
 *
 * An address computed at run time (`0(%rax,%rbx,8)`) that is not a location of the test, or has
 * another size, stops the exploration with a fault code (faultOf) that run.ts reports.
 */
import type { CheckModel } from '../check/explorer.ts';
import { sbDrainOldest, sbEmpty, sbLoad, sbPush, storeBufferWords } from '../model/hw/store-buffer.ts';
import { aluCompute, condHolds, ZF } from './alu.ts';
import { evalProp } from './condition.ts';
import {
  type Addr,
  type AluOperand,
  type Instr,
  isLocked,
  isStore,
  type LitmusTest,
  type Loc,
  REGISTER_COUNT,
  type Source,
  type Value,
  type Width,
} from './test.ts';
import { ADDR_BASE, ADDR_STRIDE } from './value.ts';

export type LitmusMemory = 'sc' | 'tso';

export const LITMUS_MEMORY: readonly LitmusMemory[] = ['sc', 'tso'];

/** The thread and instruction of a fault code returned by step. */
export function faultOf(code: number): { thread: number; pc: number } {
  return { thread: Math.floor((code - 1) / 65536), pc: (code - 1) % 65536 };
}

const TWO32 = 2 ** 32;

export class LitmusMachine implements CheckModel {
  readonly words: number;
  readonly maxActions: number;
  readonly threadCount: number;
  /** Per thread: the word of its pc; its flags, registers and store buffer follow. */
  readonly base: number[];
  readonly depth: number[];
  /** Per thread: the word of its store buffer. */
  readonly sbWord: number[] = [];
  /** Per cell: its (first) memory word. */
  readonly cellWord: Int32Array;
  /** Per memory word: the cell it holds (part of). */
  readonly wordCell: Int32Array;
  /** Per memory word: 1 when it is the low half of an 8-byte cell. */
  readonly wideLow: Uint8Array;
  /** Per thread, per register number: the word of its low half, or -1 when the thread never names it. */
  readonly regWord: Int32Array[];
  /**
   * The value of the condition's body a final state must have to be reported by `terminal` as
   * code 1 (null: report none). The explorer then returns a shortest execution to such a state.
   */
  target: boolean | null = null;
  /** Called on every final state the explorer reaches (once per distinct state). */
  onFinal: ((s: Uint32Array) => void) | null = null;
  private cur: Uint32Array = new Uint32Array(0);
  private readonly a = new Uint32Array(2);
  private readonly b = new Uint32Array(2);
  private readonly c = new Uint32Array(2);
  private readonly r = new Uint32Array(2);
  private readonly eq = (at: Loc, v: Value): boolean => {
    this.placeValue(this.cur, at, this.a);
    return this.a[0] === v.lo && this.a[1] === v.hi;
  };

  readonly test: LitmusTest;
  readonly memory: LitmusMemory;

  constructor(test: LitmusTest, memory: LitmusMemory) {
    this.test = test;
    this.memory = memory;
    this.threadCount = test.threads.length;
    const cells = test.cells;
    this.cellWord = new Int32Array(cells.length);
    let w = 0;
    for (let k = 0; k < cells.length; k++) {
      this.cellWord[k] = w;
      w += cells[k].width === 8 ? 2 : 1;
    }
    this.wordCell = new Int32Array(w);
    this.wideLow = new Uint8Array(w);
    for (let k = 0; k < cells.length; k++) {
      this.wordCell[this.cellWord[k]] = k;
      if (cells[k].width === 8) {
        this.wordCell[this.cellWord[k] + 1] = k;
        this.wideLow[this.cellWord[k]] = 1;
      }
    }
    this.base = [];
    this.depth = [];
    this.regWord = [];
    test.threads.forEach((prog, t) => {
      this.base.push(w);
      const regs = new Int32Array(REGISTER_COUNT).fill(-1);
      test.usedRegs[t].forEach((reg, k) => {
        regs[reg] = w + 2 + 2 * k;
      });
      this.regWord.push(regs);
      const depth =
        memory === 'tso' ? prog.reduce((n, i) => n + (isStore(i) ? (i.width === 8 ? 2 : 1) : 0), 0) : 0;
      this.depth.push(depth);
      this.sbWord.push(w + 2 + 2 * test.usedRegs[t].length);
      w += 2 + 2 * test.usedRegs[t].length + storeBufferWords(depth);
    });
    this.words = w;
    this.maxActions = 2 * this.threadCount;
  }

  /** The word of thread t's store buffer. */
  sb(t: number): number {
    return this.sbWord[t];
  }

  init(s: Uint32Array): void {
    s.fill(0);
    const t = this.test;
    for (let k = 0; k < t.cells.length; k++) {
      s[this.cellWord[k]] = t.initMem[k].lo;
      if (t.cells[k].width === 8) s[this.cellWord[k] + 1] = t.initMem[k].hi;
    }
    for (let th = 0; th < this.threadCount; th++)
      for (const reg of t.usedRegs[th]) {
        s[this.regWord[th][reg]] = t.initRegs[th][reg].lo;
        s[this.regWord[th][reg] + 1] = t.initRegs[th][reg].hi;
      }
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

  /** Register `reg` of thread t read at `width` bytes into out[0..1]. */
  readReg(s: Uint32Array, t: number, reg: number, width: Width, out: Uint32Array): void {
    const w = this.regWord[t][reg];
    const lo = s[w];
    out[1] = width === 8 ? s[w + 1] : 0;
    out[0] = width >= 4 ? lo : width === 2 ? lo & 0xffff : lo & 0xff;
  }

  /** A 4-byte write zero-extends into the 64-bit register; 1- and 2-byte writes merge (SDM Vol. 1 3.4.1.1). */
  private writeReg(s: Uint32Array, t: number, reg: number, width: Width, lo: number, hi: number): void {
    const w = this.regWord[t][reg];
    if (width === 8) {
      s[w] = lo;
      s[w + 1] = hi;
    } else if (width === 4) {
      s[w] = lo;
      s[w + 1] = 0;
    } else {
      const m = width === 2 ? 0xffff : 0xff;
      s[w] = ((s[w] & ~m) | (lo & m)) >>> 0;
    }
  }

  private readSource(
    s: Uint32Array,
    t: number,
    src: Source | AluOperand,
    width: Width,
    out: Uint32Array,
  ): void {
    if (src.kind === 'reg') this.readReg(s, t, src.reg, width, out);
    else if (src.kind === 'imm') {
      out[0] = src.value.lo;
      out[1] = src.value.hi;
    }
  }

  /** An ALU operand's value into out; false when its address is not a location (a fault). */
  private readOperand(s: Uint32Array, t: number, op: AluOperand, width: Width, out: Uint32Array): boolean {
    if (op.kind !== 'mem') {
      this.readSource(s, t, op, width, out);
      return true;
    }
    const cell = this.cellAt(s, t, op.addr, width);
    if (cell < 0) return false;
    this.readCell(s, t, cell, out);
    return true;
  }

  /** The cell an address names for a `width`-byte access, or -1 (a fault). */
  cellAt(s: Uint32Array, t: number, addr: Addr, width: Width): number {
    if (addr.kind === 'fixed') return addr.cell;
    let a = addr.disp;
    if (addr.base >= 0) a += this.signedReg(s, t, addr.base);
    if (addr.index >= 0) a += this.signedReg(s, t, addr.index) * addr.scale;
    const k = Math.floor((a - ADDR_BASE) / ADDR_STRIDE);
    const sym = this.test.symbols[k];
    if (sym === undefined || sym.width !== width) return -1;
    const off = a - ADDR_BASE - k * ADDR_STRIDE;
    if (off % width !== 0 || off / width >= sym.count) return -1;
    return sym.firstCell + off / width;
  }

  /** The address a computed operand names (for the fault message). */
  addressAt(s: Uint32Array, t: number, addr: Addr & { kind: 'computed' }): number {
    let a = addr.disp;
    if (addr.base >= 0) a += this.signedReg(s, t, addr.base);
    if (addr.index >= 0) a += this.signedReg(s, t, addr.index) * addr.scale;
    return a;
  }

  private signedReg(s: Uint32Array, t: number, reg: number): number {
    const w = this.regWord[t][reg];
    const hi = s[w + 1];
    return (hi >= 0x80000000 ? hi - TWO32 : hi) * TWO32 + s[w];
  }

  /** A cell as thread t reads it: its newest store in t's buffer, else memory. */
  readCell(s: Uint32Array, t: number, cell: number, out: Uint32Array): void {
    const w = this.cellWord[cell];
    const b = this.sb(t);
    out[0] = sbLoad(s, b, w);
    out[1] = this.wideLow[w] ? sbLoad(s, b, w + 1) : 0;
  }

  private writeMemory(s: Uint32Array, cell: number, lo: number, hi: number): void {
    const w = this.cellWord[cell];
    s[w] = lo;
    if (this.wideLow[w]) s[w + 1] = hi;
  }

  step(s: Uint32Array, action: number): number {
    if (action >= this.threadCount) {
      const b = this.sb(action - this.threadCount);
      const wide = this.wideLow[s[b + 1] - 1];
      sbDrainOldest(s, b);
      // The high half of an 8-byte store is the next entry: both reach memory in this one step.
      if (wide) sbDrainOldest(s, b);
      return 0;
    }
    const t = action;
    const pcw = this.base[t];
    const pc = s[pcw];
    const prog = this.test.threads[t];
    const i = prog[pc];
    const fault = 1 + t * 65536 + pc;
    const { a, b, c, r } = this;
    s[pcw] = pc + 1;
    switch (i.op) {
      case 'store': {
        const cell = this.cellAt(s, t, i.addr, i.width);
        if (cell < 0) return fault;
        this.readSource(s, t, i.src, i.width, a);
        if (this.memory === 'sc') this.writeMemory(s, cell, a[0], a[1]);
        else {
          const w = this.cellWord[cell];
          sbPush(s, this.sb(t), this.depth[t], w, a[0]);
          if (this.wideLow[w]) sbPush(s, this.sb(t), this.depth[t], w + 1, a[1]);
        }
        return 0;
      }
      case 'load': {
        const cell = this.cellAt(s, t, i.addr, i.width);
        if (cell < 0) return fault;
        this.readCell(s, t, cell, a);
        this.writeReg(s, t, i.reg, i.width, a[0], a[1]);
        return 0;
      }
      case 'mov':
        this.readSource(s, t, i.src, i.width, a);
        this.writeReg(s, t, i.reg, i.width, a[0], a[1]);
        return 0;
      case 'mfence':
      case 'nop':
        return 0;
      case 'ret':
        s[pcw] = prog.length;
        return 0;
      case 'jump':
        if (i.cond === null || condHolds(i.cond, s[pcw + 1])) s[pcw] = i.target;
        return 0;
      case 'alu': {
        if (!this.readOperand(s, t, i.dst, i.width, a) || !this.readOperand(s, t, i.src, i.width, b))
          return fault;
        s[pcw + 1] = aluCompute(i.alu, i.width, a[0], a[1], b[0], b[1], s[pcw + 1], r);
        if (i.alu !== 'cmp' && i.alu !== 'test' && i.dst.kind === 'reg')
          this.writeReg(s, t, i.dst.reg, i.width, r[0], r[1]);
        return 0;
      }
      case 'rmw': {
        const cell = this.cellAt(s, t, i.addr, i.width);
        if (cell < 0) return fault;
        // The buffer is empty (enabled), so memory is what every thread sees.
        const w = this.cellWord[cell];
        a[0] = s[w];
        a[1] = this.wideLow[w] ? s[w + 1] : 0;
        this.readSource(s, t, i.src, i.width, b);
        const flags = s[pcw + 1];
        switch (i.rmw) {
          case 'xchg':
            // XCHG changes no flag; the register gets the old value (SDM Vol. 2 XCHG).
            this.writeMemory(s, cell, b[0], b[1]);
            this.writeReg(s, t, i.reg, i.width, a[0], a[1]);
            return 0;
          case 'xadd':
            s[pcw + 1] = aluCompute('add', i.width, a[0], a[1], b[0], b[1], flags, r);
            this.writeMemory(s, cell, r[0], r[1]);
            this.writeReg(s, t, i.reg, i.width, a[0], a[1]);
            return 0;
          case 'cmpxchg':
            // Compares the accumulator with memory and sets the flags as CMP would; equal: memory
            // := the source; else the accumulator := memory (SDM Vol. 2 CMPXCHG).
            this.readReg(s, t, 0, i.width, c);
            s[pcw + 1] = aluCompute('cmp', i.width, c[0], c[1], a[0], a[1], flags, r);
            if (s[pcw + 1] & ZF) this.writeMemory(s, cell, b[0], b[1]);
            else this.writeReg(s, t, 0, i.width, a[0], a[1]);
            return 0;
          default:
            s[pcw + 1] = aluCompute(i.rmw, i.width, a[0], a[1], b[0], b[1], flags, r);
            this.writeMemory(s, cell, r[0], r[1]);
            return 0;
        }
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
    return evalProp(this.test.condition.body, this.eq);
  }

  /** A place's value in memory (not through a store buffer) or a register, at its width. */
  placeValue(s: Uint32Array, at: Loc, out: Uint32Array): void {
    if (at.kind === 'reg') {
      this.readReg(s, at.thread, at.reg, at.width, out);
      return;
    }
    const w = this.cellWord[at.cell];
    out[0] = s[w];
    out[1] = this.wideLow[w] ? s[w + 1] : 0;
  }

  /** The same, as a new Value (for reports; allocates). */
  valueAt(s: Uint32Array, at: Loc): Value {
    const out = new Uint32Array(2);
    this.placeValue(s, at, out);
    return { lo: out[0], hi: out[1] };
  }
}
