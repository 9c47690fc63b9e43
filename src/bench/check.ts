/**
 * `irqlab bench check`: checker throughput. Figures are printed, never asserted
 * (test/cli/bench-check.test.ts checks the structure only).
 *
 * For every built-in scenario with actors and every preset (as `irqlab check --all` runs them):
 * verdict, distinct and generated states, depth, the median time to verdict over a few runs after
 * warm-up runs, and generated and distinct states per second; then the same search with
 * partial-order reduction (`--reduce ample`, src/check/reduced.ts): the reduced search's distinct
 * states, the generated states and time of the whole work (including the unreduced re-run the
 * reduction needs for a shortest trace or for fair cycles), and why it re-ran. Then scaled
 * scenarios generated here (not built-ins): seed 004 on n vCPUs, where each of n preempted vCPUs
 * (SN=1) is scheduled back in and enters the guest while a device posts one vector to each and a
 * software sender posts one more through vmx_deliver_posted_interrupt (n + 1 vectors). The 2-vCPU
 * one is a small data point and the warm-up for the 3-vCPU ones, which run under sequential
 * consistency and under x86-TSO; --quick runs the 2-vCPU one under both instead. The checker is
 * single-threaded; the core count is printed for context.
 *
 * Time to verdict is explore() alone, timed with performance.now() on every run: building the
 * model (a few milliseconds) is not included. Most of a full run (about 5 minutes on 2 cores) is
 * the 3-vCPU scenarios: 1.3 million distinct states under sc and 1.8 million under tso, of ~1.5 KB
 * each; the process peaks at about 4 GB resident.
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { type Bounds, type ExploreResult, explore } from '../check/explorer.ts';
import { exploreReduced } from '../check/reduced.ts';
import { isConcurrent, presetsOf, resolveVariant } from '../check/session.ts';
import type { MemoryModel } from '../model/kvm/program.ts';
import { DEFAULT_VARIANT, type Variant } from '../model/kvm/variants.ts';
import { PROP_INFO } from '../model/system/properties.ts';
import { buildModel } from '../scenarios/compile.ts';
import { builtinNames, loadScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { scaledScenario } from './scaled.ts';

export { scaledScenario };

export interface CheckBenchOptions {
  /** A smoke run of a few seconds: 1 warm-up, 1 run, no 3-vCPU scenario (figures not meaningful). */
  readonly quick: boolean;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
  /**
   * Also the 4-vCPU scaled scenario (5 vectors, 68.6 million states under sc): one run, without the
   * reduced run, with the state bound raised to 200 million. Tens of minutes and several GB.
   */
  readonly scaled4?: boolean;
}

/** Warm-up runs and measured runs of one row. */
interface Plan {
  readonly warmup: number;
  readonly reps: number;
}

/** The same search with `--reduce ample`: one measured run. */
export interface ReducedRow {
  /** Distinct states of the reduced search. */
  readonly distinct: number;
  /** States expanded through one step alone. */
  readonly ampleStates: number;
  /** Generated states of the whole work, the unreduced re-run included. */
  readonly generated: number;
  readonly ms: number;
  readonly statesPerSecond: number;
  /** Why an unreduced search ran after the reduced one, or null. */
  readonly rerun: 'shortest-trace' | 'liveness' | null;
  /** The verdict equals the unreduced one (it must: test/check/reduction.test.ts). */
  readonly sameVerdict: boolean;
}

export interface CheckBenchRow {
  readonly scenario: string;
  readonly preset: string;
  readonly memory: MemoryModel;
  readonly verdict: 'holds' | 'violated' | 'incomplete';
  /** The violated property's name, else null. */
  readonly property: string | null;
  /** Why the search stopped early (a bound was hit), else null. */
  readonly reason: string | null;
  readonly distinct: number;
  readonly generated: number;
  readonly depth: number;
  /** Warm-up runs before the measured ones (the 3-vCPU row's warm-up is the 2-vCPU row). */
  readonly warmup: number;
  /** Time to verdict of each measured run, in milliseconds: explore() alone. */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** Generated states (successors computed, duplicates included) per second of median time. */
  readonly statesPerSecond: number;
  /** Distinct states per second of median time. */
  readonly distinctPerSecond: number;
  /** The same search with --reduce ample; null for the 4-vCPU row (not run: too long). */
  readonly reduced: ReducedRow | null;
  /** Bytes the state store held at the end, per distinct state (ExploreResult.storeBytes). */
  readonly storeBytesPerState: number;
}

export interface CheckBenchResult {
  readonly mode: 'full' | 'quick';
  readonly machine: {
    readonly cores: number;
    readonly cpu: string;
    readonly node: string;
    readonly platform: string;
    readonly totalMemoryBytes: number;
  };
  readonly strategy: 'bfs';
  readonly bounds: Bounds;
  readonly plan: { readonly builtin: Plan; readonly scaled2: Plan; readonly scaled3: Plan | null };
  /** The memory models of the scaled scenarios: sc and tso (3 vCPUs; 2 with --quick). */
  /** One row per built-in scenario with actors and preset (`current` when it has none). */
  readonly builtins: readonly CheckBenchRow[];
  /** The generated seed-004 scenarios: 2 vCPUs; then 3 vCPUs under sc and tso, or 2 under tso with --quick. */
  readonly scaled: readonly CheckBenchRow[];
  /** Over all rows: generated states, summed median time to verdict, and their ratio. */
  readonly totals: {
    readonly generated: number;
    readonly medianMs: number;
    readonly statesPerSecond: number;
  };
  readonly elapsedMs: number;
}

const BOUNDS: Bounds = { maxStates: 5_000_000, maxDepth: 10_000, maxTimeMs: 600_000 };

const FULL = {
  builtin: { warmup: 3, reps: 7 },
  scaled2: { warmup: 2, reps: 3 },
  scaled3: { warmup: 0, reps: 1 },
} as const;

const QUICK = {
  builtin: { warmup: 1, reps: 1 },
  scaled2: { warmup: 1, reps: 1 },
  scaled3: null,
} as const;

/** The 4-vCPU scaled scenario's bounds: 68.6 million states, depth 80. */
const BOUNDS4: Bounds = { maxStates: 200_000_000, maxDepth: 10_000, maxTimeMs: 4 * 3600_000 };

function run(
  sc: Scenario,
  v: Variant,
  memory?: MemoryModel,
  bounds: Bounds = BOUNDS,
): { res: ExploreResult; ms: number } {
  const model = buildModel(sc, v, undefined, memory);
  const t0 = performance.now();
  const res = explore(model, { strategy: 'bfs', bounds, now: () => performance.now() });
  return { res, ms: performance.now() - t0 };
}

/** One run with --reduce ample. */
function runReduced(sc: Scenario, v: Variant, memory: MemoryModel, unreduced: ExploreResult): ReducedRow {
  const model = buildModel(sc, v, undefined, memory);
  const t0 = performance.now();
  const res = exploreReduced(model, sc, 'ample', {
    strategy: 'bfs',
    bounds: BOUNDS,
    now: () => performance.now(),
  });
  const ms = performance.now() - t0;
  const same = (a: ExploreResult['outcome'], b: ExploreResult['outcome']) =>
    a.kind === b.kind && (a.kind !== 'violated' || (b.kind === 'violated' && a.code === b.code));
  return {
    distinct: res.reduction.reduced?.distinct ?? res.distinct,
    ampleStates: res.reduction.reduced?.ampleStates ?? 0,
    generated: res.generated,
    ms,
    statesPerSecond: res.generated / (ms / 1000),
    rerun: res.reduction.rerun?.reason ?? null,
    sameVerdict: same(res.outcome, unreduced.outcome),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function measure(
  sc: Scenario,
  preset: string,
  v: Variant,
  plan: Plan,
  memory?: MemoryModel,
  big = false,
): CheckBenchRow {
  const mm = memory ?? sc.memory ?? 'sc';
  const bounds = big ? BOUNDS4 : BOUNDS;
  for (let i = 0; i < plan.warmup; i++) run(sc, v, mm, bounds);
  const runsMs: number[] = [];
  let last: ExploreResult | undefined;
  for (let i = 0; i < plan.reps; i++) {
    const { res, ms } = run(sc, v, mm, bounds);
    runsMs.push(ms);
    last = res;
  }
  if (last === undefined) throw new Error('bench check: a row needs at least one measured run');
  const o = last.outcome;
  const medianMs = median(runsMs);
  return {
    scenario: sc.name,
    preset,
    memory: mm,
    verdict: o.kind,
    property: o.kind === 'violated' ? PROP_INFO[o.code].name : null,
    reason: o.kind === 'incomplete' ? o.reason : null,
    distinct: last.distinct,
    generated: last.generated,
    depth: last.depth,
    warmup: plan.warmup,
    runsMs,
    medianMs,
    statesPerSecond: last.generated / (medianMs / 1000),
    distinctPerSecond: last.distinct / (medianMs / 1000),
    reduced: big ? null : runReduced(sc, v, mm, last),
    storeBytesPerState: last.storeBytes / Math.max(1, last.distinct),
  };
}

function runs(plan: Plan): string {
  return `${plan.warmup} warm-up + ${plan.reps} run${plan.reps === 1 ? '' : 's'}`;
}

/** Runs the whole benchmark (synchronously: the checker is single-threaded). */
export function runCheckBench(opts: CheckBenchOptions): CheckBenchResult {
  const started = performance.now();
  const plan = opts.quick ? QUICK : FULL;
  const progress = opts.progress ?? (() => {});

  const builtins: CheckBenchRow[] = [];
  for (const name of builtinNames()) {
    const sc = loadScenario(name).scenario;
    if (!isConcurrent(sc)) continue;
    for (const preset of presetsOf(sc)) {
      const v = resolveVariant(sc, preset).variant;
      progress(`check: ${name} ${preset}: ${runs(plan.builtin)}`);
      builtins.push(measure(sc, preset, v, plan.builtin));
    }
  }

  const scaled: CheckBenchRow[] = [];
  const scaled2 = scaledScenario(2);
  progress(`check: ${scaled2.name} sc: ${runs(plan.scaled2)}`);
  scaled.push(measure(scaled2, 'current', DEFAULT_VARIANT, plan.scaled2, 'sc'));
  if (plan.scaled3 === null) {
    progress(`check: ${scaled2.name} tso: ${runs(plan.scaled2)}`);
    scaled.push(measure(scaled2, 'current', DEFAULT_VARIANT, plan.scaled2, 'tso'));
  } else {
    const scaled3 = scaledScenario(3);
    for (const mm of ['sc', 'tso'] as const) {
      progress(
        `check: ${scaled3.name} ${mm}: ${runs(plan.scaled3)}, then one reduced run (the longest rows)`,
      );
      scaled.push(measure(scaled3, 'current', DEFAULT_VARIANT, plan.scaled3, mm));
    }
  }
  if (opts.scaled4 === true) {
    const scaled4 = scaledScenario(4);
    progress(`check: ${scaled4.name} sc: 1 run, no reduced run (tens of minutes)`);
    scaled.push(measure(scaled4, 'current', DEFAULT_VARIANT, { warmup: 0, reps: 1 }, 'sc', true));
  }

  const all = [...builtins, ...scaled];
  const generated = all.reduce((a, r) => a + r.generated, 0);
  const medianMs = all.reduce((a, r) => a + r.medianMs, 0);
  return {
    mode: opts.quick ? 'quick' : 'full',
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      totalMemoryBytes: totalmem(),
    },
    strategy: 'bfs',
    bounds: BOUNDS,
    plan,
    builtins,
    scaled,
    totals: { generated, medianMs, statesPerSecond: generated / (medianMs / 1000) },
    elapsedMs: performance.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

function verdictText(r: CheckBenchRow): string {
  if (r.verdict === 'violated') return `violated: ${r.property}`;
  if (r.verdict === 'incomplete') return `incomplete: ${r.reason}`;
  return 'holds';
}

function table(rows: readonly CheckBenchRow[]): string {
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : int(x));
  const head = [
    'scenario',
    'preset',
    'mem',
    'verdict',
    'distinct',
    'generated',
    'depth',
    'median ms',
    'generated/s',
    'distinct/s',
    'runs',
    'store B/state',
    'ample: distinct',
    'alone',
    'generated',
    'ms',
    'generated/s',
    're-run',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.preset,
    r.memory,
    verdictText(r),
    int(r.distinct),
    int(r.generated),
    String(r.depth),
    ms(r.medianMs),
    int(r.statesPerSecond),
    int(r.distinctPerSecond),
    String(r.runsMs.length),
    int(r.storeBytesPerState),
    ...(r.reduced === null
      ? ['-', '-', '-', '-', '-', 'not run']
      : [
          int(r.reduced.distinct),
          int(r.reduced.ampleStates),
          int(r.reduced.generated),
          ms(r.reduced.ms),
          int(r.reduced.statesPerSecond),
          `${r.reduced.rerun ?? '-'}${r.reduced.sameVerdict ? '' : ' VERDICT DIFFERS'}`,
        ]),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const left = new Set([0, 1, 2, 3, 17]);
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (left.has(i) ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (left.has(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

function planText(p: Plan): string {
  return p.reps === 1
    ? `1 run after ${p.warmup} warm-up run${p.warmup === 1 ? '' : 's'}`
    : `median of ${p.reps} runs after ${p.warmup} warm-up runs`;
}

/** The human-readable report: machine context, how rows were timed, the table, the totals. */
export function formatCheckBench(r: CheckBenchResult): string {
  const m = r.machine;
  const scaled =
    r.plan.scaled3 === null
      ? `scaled: 2 vCPUs under sc and tso, ${planText(r.plan.scaled2)} (3 vCPUs skipped with --quick)`
      : `scaled: 2 vCPUs ${planText(r.plan.scaled2)}; 3 vCPUs (4 vectors) under sc and tso, median of ${r.plan.scaled3.reps} runs after the 2-vCPU warm-up`;
  const out = [
    `irqlab bench check (${r.mode}${r.mode === 'quick' ? ': smoke run, figures not meaningful' : ''}) · node ${m.node} · ${m.cores} cores (${m.cpu}) · ${Math.round(m.totalMemoryBytes / 2 ** 30)} GiB · checker single-threaded, BFS`,
    `built-ins: ${planText(r.plan.builtin)}; ${scaled}`,
    '',
    table([...r.builtins, ...r.scaled]),
    '',
    "ample: the same search with --reduce ample, one run: the reduced search's distinct states, the states it expanded through one step alone, and the generated states and time of the whole work, including the unreduced re-run for a shortest trace or for fair cycles (re-run).",
    `all rows: ${int(r.totals.generated)} generated states in ${int(r.totals.medianMs)} ms of median time to verdict (${int(r.totals.statesPerSecond)} generated/s); bench wall time ${(r.elapsedMs / 1000).toFixed(1)} s`,
  ];
  return `${out.join('\n')}\n`;
}

/** The --json document (one JSON value; no colour, no progress). */
export function checkBenchJson(r: CheckBenchResult, version: string): object {
  return {
    schemaVersion: 1,
    tool: 'irqlab',
    version,
    seed: null,
    command: 'bench check',
    result: r,
    stats: { elapsedMs: r.elapsedMs },
    counterexample: null,
  };
}
