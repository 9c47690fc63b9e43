/**
 * Running a litmus test under one memory model: a complete exploration collects every final
 * outcome (the values of the observed places), then, when some final state gives the condition's
 * body the value that decides the test, a second breadth-first search returns a shortest execution
 * that reaches one (the explorer reports terminal states in order of depth). Verdicts come from
 * these explorations only.
 */
import { type Bounds, explore } from '../check/explorer.ts';
import { sbLoad } from '../model/hw/store-buffer.ts';
import { LitmusMachine, type LitmusMemory } from './machine.ts';
import { type LitmusTest, locName, REGISTERS } from './test.ts';

export interface Outcome {
  /** Observed place -> final value, in the order of LitmusTest.observed. */
  values: Record<string, number>;
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
  final: Record<string, number>;
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

/** A value as herd prints it: a signed 32-bit integer. */
export function showValue(v: number): string {
  return String(v | 0);
}

function formatValues(m: LitmusMachine, s: Uint32Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (const at of m.test.observed) out[locName(m.test, at)] = m.valueAt(s, at) | 0;
  return out;
}

/** The final values of every location and every register a thread names. */
function finalValues(m: LitmusMachine, s: Uint32Array): Record<string, number> {
  const t = m.test;
  const out: Record<string, number> = {};
  t.usedRegs.forEach((regs, th) => {
    for (const r of regs)
      out[`${th}:${REGISTERS[r]}`] = m.valueAt(s, { kind: 'reg', thread: th, reg: r }) | 0;
  });
  t.locations.forEach((name, k) => {
    out[name] = s[k] | 0;
  });
  return out;
}

/** One line per action, computed from the state before it. */
export function describeAction(m: LitmusMachine, s: Uint32Array, action: number): WitnessStep {
  const T = m.threadCount;
  if (action >= T) {
    const t = action - T;
    const b = m.sb(t);
    const at = s[b + 1] - 1;
    return { n: 0, thread: t, text: `flush ${m.test.locations[at]}=${showValue(s[b + 2])}` };
  }
  const t = action;
  const i = m.next(s, t)!;
  switch (i.op) {
    case 'store':
      return { n: 0, thread: t, text: m.memory === 'tso' ? `${i.text} (buffered)` : i.text };
    case 'load': {
      const v = sbLoad(s, m.sb(t), i.loc);
      const forwarded = bufferHas(m, s, t, i.loc);
      return {
        n: 0,
        thread: t,
        text: `${i.text} -> ${showValue(v)}${forwarded ? ' (from its own store buffer)' : ''}`,
      };
    }
    case 'rmw':
      return {
        n: 0,
        thread: t,
        text: `${i.text} (locked, read ${m.test.locations[i.loc]}=${showValue(s[i.loc])})`,
      };
    default:
      return { n: 0, thread: t, text: i.text };
  }
}

function bufferHas(m: LitmusMachine, s: Uint32Array, t: number, loc: number): boolean {
  const b = m.sb(t);
  for (let k = 0; k < s[b]; k++) if (s[b + 1 + 2 * k] === loc + 1) return true;
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

function compareOutcomes(a: Record<string, number>, b: Record<string, number>): number {
  const ka = Object.values(a);
  const kb = Object.values(b);
  for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return ka[k] - kb[k];
  return 0;
}
