/**
 * A parsed x86 litmus test (the herdtools7 format, http://diy.inria.fr/doc/litmus.html): shared
 * memory locations, one program per thread, an initial state and a condition on final states.
 * Everything is resolved to indices here, so the model (machine.ts) reads numbers only.
 */

/** The registers a thread may use: the 32-bit general-purpose registers (SDM Vol. 1 3.4.1). */
export const REGISTERS = ['EAX', 'EBX', 'ECX', 'EDX', 'ESI', 'EDI'] as const;

/** A value written or combined: a register of the same thread (reg >= 0) or an immediate. */
export interface Source {
  reg: number;
  imm: number;
}

/**
 * The locked read-modify-writes. XCHG with a memory operand is locked without a prefix; the
 * others need LOCK (SDM Vol. 3A 9.1.2.2 "Software Controlled Bus Locking").
 */
export type Rmw = 'xchg' | 'add' | 'sub' | 'and' | 'or' | 'xor' | 'xadd' | 'cmpxchg';

export type Instr = (
  | { op: 'store'; loc: number; src: Source }
  | { op: 'load'; reg: number; loc: number }
  | { op: 'mov'; reg: number; src: Source }
  | { op: 'mfence' }
  | { op: 'rmw'; rmw: Rmw; loc: number; reg: number; src: Source }
) & {
  /** The instruction as written in the test, normalised (upper case, no extra blanks). */
  text: string;
  line: number;
};

/** A place whose final value a condition reads: a memory location or a thread's register. */
export type Loc = { kind: 'mem'; loc: number } | { kind: 'reg'; thread: number; reg: number };

export type Prop =
  | { kind: 'const'; value: boolean }
  | { kind: 'eq'; at: Loc; value: number }
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
  name: string;
  doc?: string;
  /** key=value lines of the header (Generator, Com, Orig, ...): kept, not interpreted. */
  meta: Record<string, string>;
  /** Memory location names; the index is the location's word in the model's state. */
  locations: string[];
  initMem: number[];
  /** Per thread, the initial value of each register of REGISTERS. */
  initRegs: number[][];
  threads: Instr[][];
  /** Per thread, the registers it names anywhere (code, initial state, condition), in order. */
  usedRegs: number[][];
  condition: Condition;
  /** The places an outcome lists: those of a `locations [...]` line, then the condition's. */
  observed: Loc[];
}

export function locName(t: LitmusTest, at: Loc): string {
  return at.kind === 'mem' ? t.locations[at.loc] : `${at.thread}:${REGISTERS[at.reg]}`;
}

export function isLocked(i: Instr): boolean {
  return i.op === 'rmw';
}
