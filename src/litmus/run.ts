/**
 * Running a litmus test under one memory model: a complete exploration collects every final
 * outcome (the values of the observed places), then, when some final state gives the condition's
 * body the value that decides the test, a second breadth-first search returns a shortest execution
 * that reaches one (the explorer reports terminal states in order of depth). Verdicts come from
 * these explorations only.
 */
import { type Bounds, explore } from '../check/explorer.ts';
import { UserError } from '../errors.ts';
import { condHolds } from './alu.ts';
import { faultOf, LitmusMachine, type LitmusMemory } from './machine.ts';
import {
  fullWidth,
  type LitmusTest,
  type Loc,
  locName,
  REG_CS,
  REG_RIP,
  type Value,
  type Width,
} from './test.ts';
import { fromBig, jsonValue, showValue } from './value.ts';

export interface Outcome {
  /**
   * Observed place -> final value, in the order of LitmusTest.observed: a number, or a string
   * for an address (`t+8`) or an integer beyond 2^53 (herd prints values the same way).
   */
  values: Record<string, number | string>;
  /** Whether the condition's body holds for it. */
  satisfies: boolean;
}

export interface WitnessStep {
  n: number;
  thread: number;
  /** e.g. "MOV [x],$1 (buffered)", "flush x=1", "MOV EAX,[x] -> 0". */
  text: string;
}

export interface Witness {
  /** True: an execution whose final state satisfies the body; false: one that falsifies it. */
  satisfies: boolean;
  /** The explorer's actions: t runs thread t's next instruction, threads + t flushes t's oldest store. */
  path: number[];
  steps: WitnessStep[];
  /** Every memory location and every register a thread names, at the end. */
  final: Record<string, number | string>;
}

export interface ModelResult {
  memory: LitmusMemory;
  /** Whether some execution ends in a state where the condition's body holds (herd: "exists"). */
  verdict: 'allowed' | 'forbidden' | 'incomplete';
  /** Whether the test's own claim holds: herd's Ok / No. */
  claim?: 'ok' | 'no';
  /** herd's "Observation": the body holds in no, some or every final outcome. */
  observation?: 'never' | 'sometimes' | 'always';
  outcomes: Outcome[];
  positive: number;
  negative: number;
  distinct: number;
  generated: number;
  depth: number;
  timeMs: number;
  /**
   * For exists and ~exists, an execution where the body holds (if allowed); for forall, one where
   * it fails (if any). Absent when no such execution exists.
   */
  witness?: Witness;
  reason?: string;
}

export const DEFAULT_BOUNDS: Bounds = { maxStates: 5_000_000, maxDepth: 100_000, maxTimeMs: 600_000 };

/** A place's width and signedness: a cell's declared type; registers are signed. */
function placeType(t: LitmusTest, at: Loc): { width: Width; signed: boolean } {
  return at.kind === 'mem' ? t.cells[at.cell] : { width: at.width, signed: true };
}

function showPlace(t: LitmusTest, at: Loc, v: Value): string {
  const { width, signed } = placeType(t, at);
  return showValue(v, width, signed, t.symbols);
}

function jsonPlace(t: LitmusTest, at: Loc, v: Value): number | string {
  const { width, signed } = placeType(t, at);
  return jsonValue(v, width, signed, t.symbols);
}

function formatValues(m: LitmusMachine, s: Uint32Array): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const at of m.test.observed) out[locName(m.test, at)] = jsonPlace(m.test, at, m.valueAt(s, at));
  return out;
}

/** A register as a whole: 64 bits in X86_64 tests, 32 in X86 ones; RIP 64, CS 16. */
function wholeReg(t: LitmusTest, thread: number, reg: number): Loc {
  const width: Width = reg === REG_RIP ? 8 : reg === REG_CS ? 2 : fullWidth(t.arch);
  return { kind: 'reg', thread, reg, width };
}

/** The final values of every location and every register a thread names. */
function finalValues(m: LitmusMachine, s: Uint32Array): Record<string, number | string> {
  const t = m.test;
  const out: Record<string, number | string> = {};
  t.usedRegs.forEach((regs, th) => {
    for (const r of regs) {
      const at = wholeReg(t, th, r);
      out[locName(t, at)] = jsonPlace(t, at, m.valueAt(s, at));
    }
  });
  t.cells.forEach((c, k) => {
    out[c.name] = jsonPlace(t, { kind: 'mem', cell: k }, m.valueAt(s, { kind: 'mem', cell: k }));
  });
  return out;
}

/** One line per action, computed from the state before it. */
export function describeAction(m: LitmusMachine, s: Uint32Array, action: number): WitnessStep {
  const T = m.threadCount;
  const test = m.test;
  if (action >= T) {
    const t = action - T;
    const b = m.sb(t);
    const word = s[b + 1] - 1;
    const cell = m.wordCell[word];
    const v = { lo: s[b + 2], hi: m.wideLow[word] ? s[b + 4] : 0 };
    return {
      n: 0,
      thread: t,
      text: `flush ${test.cells[cell].name}=${showPlace(test, { kind: 'mem', cell }, v)}`,
    };
  }
  const t = action;
  const i = m.next(s, t)!;
  switch (i.op) {
    case 'store':
      return { n: 0, thread: t, text: m.memory === 'tso' ? `${i.text} (buffered)` : i.text };
    case 'load': {
      const cell = m.cellAt(s, t, i.addr, i.width);
      const out = new Uint32Array(2);
      m.readCell(s, t, cell, out);
      const v = { lo: out[0], hi: out[1] };
      const forwarded = bufferHas(m, s, t, m.cellWord[cell]);
      const shown = showPlace(test, { kind: 'reg', thread: t, reg: i.reg, width: i.width }, v);
      return {
        n: 0,
        thread: t,
        text: `${i.text} -> ${shown}${forwarded ? ' (from its own store buffer)' : ''}`,
      };
    }
    case 'rmw': {
      const cell = m.cellAt(s, t, i.addr, i.width);
      const at: Loc = { kind: 'mem', cell };
      return {
        n: 0,
        thread: t,
        text: `${i.text} (locked, read ${test.cells[cell].name}=${showPlace(test, at, m.valueAt(s, at))})`,
      };
    }
    case 'jump': {
      if (i.cond === null) return { n: 0, thread: t, text: i.text };
      const taken = condHolds(i.cond, s[m.base[t] + 1]);
      return { n: 0, thread: t, text: `${i.text} (${taken ? 'taken' : 'not taken'})` };
    }
    default:
      return { n: 0, thread: t, text: i.text };
  }
}

function bufferHas(m: LitmusMachine, s: Uint32Array, t: number, word: number): boolean {
  const b = m.sb(t);
  for (let k = 0; k < s[b]; k++) if (s[b + 1 + 2 * k] === word + 1) return true;
  return false;
}

function replayWitness(m: LitmusMachine, path: readonly number[], satisfies: boolean): Witness {
  const s = new Uint32Array(m.words);
  m.init(s);
  const steps: WitnessStep[] = path.map((a, k) => {
    const d = describeAction(m, s, a);
    m.step(s, a);
    return { ...d, n: k + 1 };
  });
  return { satisfies, path: [...path], steps, final: finalValues(m, s) };
}

/** A fault (an address that is not a location) as the one-line error of bad input. */
function faultError(m: LitmusMachine, path: readonly number[], code: number): UserError {
  const s = new Uint32Array(m.words);
  m.init(s);
  for (const a of path.slice(0, -1)) m.step(s, a);
  const { thread, pc } = faultOf(code);
  const i = m.test.threads[thread][pc];
  let where = 'its address';
  const addrs = i.op === 'alu' ? [i.dst, i.src].filter((o) => o.kind === 'mem').map((o) => o.addr) : [];
  const addr = i.op === 'store' || i.op === 'load' || i.op === 'rmw' ? i.addr : addrs[0];
  const width = 'width' in i ? i.width : 8;
  if (addr?.kind === 'computed') {
    const a = m.addressAt(s, thread, addr);
    const v = fromBig(BigInt(a));
    where = `the address ${showValue(v, 8, false, m.test.symbols)}${a < 0 ? ` (${a})` : ''}`;
  }
  return new UserError(
    `${m.test.file}:${i.line}: P${thread}: ${i.text}: ${where} is not a ${width}-byte location of the test`,
  );
}

export function runLitmus(
  test: LitmusTest,
  memory: LitmusMemory,
  bounds: Bounds = DEFAULT_BOUNDS,
): ModelResult {
  const m = new LitmusMachine(test, memory);
  const outcomes = new Map<string, Outcome>();
  // Only final states reach this (a handful per test), so building a key string here is fine.
  m.onFinal = (s) => {
    const values = formatValues(m, s);
    const key = JSON.stringify(values);
    if (!outcomes.has(key)) outcomes.set(key, { values, satisfies: m.holds(s) });
  };
  const opts = { strategy: 'bfs' as const, bounds, now: () => performance.now() };
  const all = explore(m, opts);
  const base = {
    memory,
    distinct: all.distinct,
    generated: all.generated,
    depth: all.depth,
    timeMs: Math.round(all.elapsedMs),
  };
  if (all.outcome.kind === 'violated') throw faultError(m, all.outcome.path, all.outcome.code);
  if (all.outcome.kind === 'incomplete') {
    return {
      ...base,
      verdict: 'incomplete',
      reason: all.outcome.reason,
      outcomes: [],
      positive: 0,
      negative: 0,
    };
  }
  const list = [...outcomes.values()].sort((a, b) => compareOutcomes(a.values, b.values));
  const positive = list.filter((o) => o.satisfies).length;
  const negative = list.length - positive;
  const q = test.condition.quantifier;
  const claim = q === 'exists' ? positive > 0 : q === 'not-exists' ? positive === 0 : negative === 0;
  const result: ModelResult = {
    ...base,
    verdict: positive > 0 ? 'allowed' : 'forbidden',
    claim: claim ? 'ok' : 'no',
    observation: positive === 0 ? 'never' : negative === 0 ? 'always' : 'sometimes',
    outcomes: list,
    positive,
    negative,
  };
  const wanted = q !== 'forall';
  if (wanted ? positive > 0 : negative > 0) {
    m.onFinal = null;
    m.target = wanted;
    const w = explore(m, opts);
    if (w.outcome.kind !== 'violated')
      throw new Error(`litmus ${test.name}: the witness search found no final state`);
    result.witness = replayWitness(m, w.outcome.path, wanted);
  }
  return result;
}

function compareOutcomes(a: Record<string, number | string>, b: Record<string, number | string>): number {
  const ka = Object.values(a);
  const kb = Object.values(b);
  for (let k = 0; k < ka.length; k++) {
    const x = ka[k];
    const y = kb[k];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}
