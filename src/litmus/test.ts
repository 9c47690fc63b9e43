/**
 * A parsed x86 litmus test (the herdtools7 format, http://diy.inria.fr/doc/litmus.html): typed
 * memory locations, one program per thread, an initial state and a condition on final states.
 * `X86` tests are written in Intel syntax, `X86_64` tests in AT&T syntax (herdtools7's
 * catalogue/x86_64 and herd/tests/instructions/X86_64); both are read into this one form.
 * Everything is resolved to indices here, so the model (machine.ts) reads numbers only.
 *
 * Values are 64-bit two's complement words held as two unsigned 32-bit halves (lo, hi), so the
 * model computes on them without allocating.
 */
import { GPR_COUNT, REG_CS, REG_RIP, regName } from './registers.ts';

export type Arch = 'X86' | 'X86_64';

/** An access or operand size in bytes (AT&T suffixes b, w, l, q). */
export type Width = 1 | 2 | 4 | 8;

/** A 64-bit value as two unsigned 32-bit halves. */
export interface Value {
  lo: number;
  hi: number;
}

/** A named location of the test (`int x`, `int64_t t[2]`): one cell per element. */
export interface MemSymbol {
  name: string;
  /** The declared type as written (`int` when the test does not declare it, herd's default). */
  type: string;
  /** Bytes per element. */
  width: Width;
  signed: boolean;
  /** Elements: 1 for a scalar, N for `T name[N]`. */
  count: number;
  /** The index of its first cell in LitmusTest.cells; the elements follow in order. */
  firstCell: number;
}

/** One scalar in memory: a location or an array element. */
export interface Cell {
  /** `x`, or `t[1]` for an array element. */
  name: string;
  symbol: number;
  width: Width;
  signed: boolean;
}

/**
 * A memory operand: a cell known when the test is read (`(x)`, `[x]`, `x(%rip)`), or an address
 * computed when the instruction runs, `disp + base + index * scale` (`0(%rax,%rbx,8)`), with base
 * and index register numbers or -1.
 */
export type Addr =
  | { kind: 'fixed'; cell: number }
  | { kind: 'computed'; base: number; index: number; scale: number; disp: number };

/** A register (its number in registers.ts) or an immediate, as an instruction's source. */
export type Source = { kind: 'reg'; reg: number } | { kind: 'imm'; value: Value };

/** An operand of an ALU instruction that may also read memory (`cmpl $1,(x)`). */
export type AluOperand = Source | { kind: 'mem'; addr: Addr };

/**
 * The locked read-modify-writes. XCHG with a memory operand is locked without a prefix; the
 * others need LOCK (SDM Vol. 3A 9.1.2.2 "Software Controlled Bus Locking").
 */
export type Rmw = 'xchg' | 'add' | 'sub' | 'and' | 'or' | 'xor' | 'inc' | 'dec' | 'xadd' | 'cmpxchg';

/** Register arithmetic (SDM Vol. 2: ADD, SUB, AND, OR, XOR, CMP, TEST, SHL/SAL, SHR, SAR, INC, DEC). */
export type Alu =
  | 'add'
  | 'sub'
  | 'and'
  | 'or'
  | 'xor'
  | 'cmp'
  | 'test'
  | 'shl'
  | 'shr'
  | 'sar'
  | 'inc'
  | 'dec';

/** Jcc conditions (SDM Vol. 2 "Jcc"), read from the flags. */
export type Cond = 'e' | 'ne' | 'l' | 'le' | 'g' | 'ge' | 'b' | 'be' | 'a' | 'ae' | 's' | 'ns' | 'o' | 'no';

export type Instr = (
  | { op: 'store'; width: Width; addr: Addr; src: Source }
  | { op: 'load'; width: Width; reg: number; addr: Addr }
  | { op: 'mov'; width: Width; reg: number; src: Source }
  | { op: 'mfence' }
  | { op: 'rmw'; rmw: Rmw; width: Width; addr: Addr; reg: number; src: Source }
  /** `dst` is a register, or memory for CMP and TEST, which only read it. */
  | { op: 'alu'; alu: Alu; width: Width; dst: AluOperand; src: AluOperand }
  /** `cond` null: JMP. `target` is an instruction index (the program's length: its end). */
  | { op: 'jump'; cond: Cond | null; target: number }
  /** The thread's function returns: its program ends. */
  | { op: 'ret' }
  /** NOP and its forms, ENDBR64, LFENCE and SFENCE: nothing the model observes. */
  | { op: 'nop' }
) & {
  /** The instruction as written in the test, normalised (no extra blanks, LOCK/lock prefix kept). */
  text: string;
  line: number;
};

/**
 * A place whose final value a condition reads: a memory cell or a thread's register, read at
 * `width` bytes (`0:eax` is the low 4 bytes of rax).
 */
export type Loc = { kind: 'mem'; cell: number } | { kind: 'reg'; thread: number; reg: number; width: Width };

export type Prop =
  | { kind: 'const'; value: boolean }
  /** The place equals `value`, truncated to the place's width when read. */
  | { kind: 'eq'; at: Loc; value: Value }
  | { kind: 'not'; p: Prop }
  | { kind: 'and' | 'or'; a: Prop; b: Prop };

/**
 * `exists P`: some execution ends in P. `~exists P`: none does. `forall P`: every one does.
 */
export type Quantifier = 'exists' | 'not-exists' | 'forall';

export interface Condition {
  quantifier: Quantifier;
  body: Prop;
  /** The condition as written (one line, blanks collapsed). */
  text: string;
}

export interface LitmusTest {
  file: string;
  arch: Arch;
  name: string;
  doc?: string;
  /** key=value lines of the header (Generator, Com, Orig, Variant, ...): kept, not interpreted. */
  meta: Record<string, string>;
  symbols: MemSymbol[];
  cells: Cell[];
  initMem: Value[];
  /** Per thread, the initial value of each register (indexed by register number). */
  initRegs: Value[][];
  threads: Instr[][];
  /** Per thread, the registers it names anywhere (code, initial state, condition), in order. */
  usedRegs: number[][];
  condition: Condition;
  /** The places an outcome lists: those of a `locations [...]` line, then the condition's. */
  observed: Loc[];
}

/** The registers a thread's state holds: the 16 general-purpose ones, RIP and CS. */
export const REGISTER_COUNT = GPR_COUNT + 2;
export { REG_CS, REG_RIP };

/** A register's full width in the test's architecture (X86 tests have 32-bit registers). */
export function fullWidth(arch: Arch): Width {
  return arch === 'X86' ? 4 : 8;
}

export function locName(t: LitmusTest, at: Loc): string {
  return at.kind === 'mem' ? t.cells[at.cell].name : `${at.thread}:${regName(t.arch, at.reg, at.width)}`;
}

export function isLocked(i: Instr): boolean {
  return i.op === 'rmw';
}

/** Whether the instruction may write a plain (buffered) store: the store buffer's depth counts these. */
export function isStore(i: Instr): i is Instr & { op: 'store' } {
  return i.op === 'store';
}
