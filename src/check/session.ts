/**
 * The check session: what every user of the checker does the same way, the CLI, the tests, the
 * benchmarks and the scripts alike. Which variants a scenario is checked in (a preset, "current",
 * knob=value pairs, every preset), which built-ins `--all` covers, one check with its cost
 * reports and its counterexample, the precedence of verdicts when one command runs several
 * checks, and random simulation for configurations too large to exhaust. src/cli/check.ts only
 * parses arguments and prints.
 */

import { writeSync } from 'node:fs';
import { RandomChooser } from '../drive/chooser.ts';
import { drive } from '../drive/drive.ts';
import { UserError } from '../errors.ts';
import type { MemoryModel } from '../model/kvm/program.ts';
import type { Variant } from '../model/kvm/variants.ts';
import { PROP_INFO, PROPERTY_NAMES } from '../model/system/properties.ts';
import type { SystemModel } from '../model/system/system.ts';
import { startTsWorker } from '../runtime/ts-worker.ts';
import {
  buildModel,
  type HarvestCosts,
  harvestCosts,
  type PostingPathCost,
  postingPathCosts,
} from '../scenarios/compile.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { type NamedVariant, presetsOf, resolveVariant, variantsOf } from '../scenarios/variants.ts';
import { TRACE_FORMAT_VERSION, type TraceFile } from '../trace/format.ts';
import type { TraceEntry } from '../trace/record.ts';
import { replay } from './counterexample.ts';
import type { Bounds, Progress } from './explorer.ts';
import { type GaLogCost, gaLogCost } from './ga-log-cost.ts';
import { type IrqWindowCost, irqWindowCost } from './irq-window-cost.ts';
import { type LockEdge, lockOrderCycle } from './lock-order.ts';
import {
  exitWord,
  exploreParallel,
  MAX_WORKERS,
  type ParallelOptions,
  type ParallelShared,
} from './parallel.ts';
import { exploreReduced, type ReducedResult, type ReductionReport, type Search } from './reduced.ts';
import type { ReductionName } from './reduction.ts';

/** The checker's default bounds (`irqlab check` without --max-*). */
// Variant resolution moved down to src/scenarios/variants.ts (the simulator uses it too).
export { type NamedVariant, presetsOf, resolveVariant, variantsOf };

export const DEFAULT_BOUNDS: Bounds = { maxStates: 2_000_000, maxDepth: 10_000, maxTimeMs: 600_000 };

/** A scenario the checker explores: one with actors (interleavings to explore). */
export function isConcurrent(sc: Scenario): boolean {
  return (sc.actors?.length ?? 0) > 0;
}

export interface CheckOptions {
  strategy?: 'bfs' | 'dfs';
  bounds?: Bounds;
  /** Property names (default: the scenario's, else all). */
  properties?: readonly string[];
  /** Default: the scenario's memory model, else sc. */
  memory?: MemoryModel;
  reduce?: ReductionName;
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  shouldStop?: () => boolean;
  /**
   * Threads for the search (default 1): more than one explores breadth-first in parallel over one
   * shared state store, with the same answer (parallel.ts), reduced or not. DFS uses one.
   */
  workers?: number;
}

/** What a helper thread of a parallel search is given (bfs-worker.ts). */
export interface BfsHelperJob {
  scenario: Scenario;
  variant: Variant;
  properties: readonly string[];
  memory: MemoryModel;
  /** The search's reduction: the helper builds its own reducer over its own model. */
  reduce: ReductionName;
  shared: ParallelShared;
  id: number;
}

export type Verdict = 'holds' | 'violated' | 'incomplete';

export interface CheckResult {
  scenario: string;
  variant: NamedVariant;
  verdict: Verdict;
  property?: string;
  kind?: 'invariant' | 'liveness';
  /** The bound that stopped an incomplete check ("states", "depth", "time", "interrupted"). */
  reason?: string;
  generated: number;
  distinct: number;
  depth: number;
  timeMs: number;
  collisionProbability: number;
  counterexample?: { path: number[]; entries: TraceEntry[]; loopStart?: number };
  properties: readonly string[];
  memory: MemoryModel;
  reduction: ReductionReport;
  /** Per guest ICR write: steps and full barriers from the VM exit to setting the PIR bit. */
  postingPath?: PostingPathCost[];
  /** apicv_update_lock write acquisitions per IRQ window, over every end state (seed 002). */
  irqWindowLocks?: IrqWindowCost;
  /** PIR loads and xchgs per harvest in this variant (seed 000). */
  harvest?: HarvestCosts;
  /** A lock-order violation: the cycle, each edge with the steps that made it (lock-order.ts). */
  lockCycle?: LockEdge[];
  /** For a scenario about GA-log interrupts: GA-log entries handled over the end states. */
  gaLog?: GaLogCost;
  /**
   * Threads that took part in the search: 1 unless `workers` is above 1 and a level was wide
   * enough to start helpers (parallel.ts SPAWN_WIDTH) and they joined before the end. Absent
   * when the search did not answer (an interrupted search that ended without its result).
   */
  threads?: number;
}

/** The model of one check, as `checkScenario` builds it (for callers that drive it themselves). */
export function modelFor(
  sc: Scenario,
  v: Variant,
  o: Pick<CheckOptions, 'properties' | 'memory'> = {},
): SystemModel {
  return buildModel(sc, v, o.properties ?? sc.properties ?? PROPERTY_NAMES, o.memory ?? sc.memory ?? 'sc');
}

/**
 * Starts the helper threads of a parallel search (parallel.ts) on the model `modelFor` builds
 * from the same scenario, variant, properties and memory model, with the same reduction.
 */
export function helperSpawner(
  sc: Scenario,
  variant: Variant,
  properties: readonly string[],
  memory: MemoryModel,
  reduce: ReductionName = 'none',
): (id: number, shared: ParallelShared) => { terminate(): unknown } {
  return (id, shared) => {
    const job: BfsHelperJob = { scenario: sc, variant, properties, memory, reduce, shared, id };
    const w = startTsWorker(new URL('./bfs-worker.ts', import.meta.url), job, {
      exitFlag: { buffer: shared.ctl, index: exitWord(id) },
    });
    // A helper that fails says so in shared memory (parallel.ts); the event is only its echo.
    // With IRQLAB_PARALLEL_TRACE=1 the events are written out when this thread sees them.
    const trace = process.env.IRQLAB_PARALLEL_TRACE === '1';
    const say = (what: string) => {
      if (trace) writeSync(2, `${new Date().toISOString()} parallel search: helper ${id} ${what}\n`);
    };
    w.on('error', (e) => say(`error: ${String(e)}`));
    w.on('online', () => say('online'));
    w.on('exit', (code) => say(`exit ${code}`));
    return w;
  };
}

/**
 * The search on several threads (parallel.ts), for exploreReduced: each search of a reduction's
 * work (the reduced one, an unreduced re-run) starts helpers that build the same reduction, or
 * none.
 */
export function parallelSearch(
  sc: Scenario,
  variant: Variant,
  properties: readonly string[],
  memory: MemoryModel,
  reduce: ReductionName,
  threads: Pick<ParallelOptions, 'workers' | 'waitForHelpers' | 'spawnWidth' | 'onPublish'>,
): Search {
  return (m, o) =>
    exploreParallel(m, {
      ...o,
      ...threads,
      spawn: helperSpawner(sc, variant, properties, memory, o.reducer ? reduce : 'none'),
    });
}

/** Explores every interleaving of one variant of a scenario. */
export function checkScenario(sc: Scenario, nv: NamedVariant, o: CheckOptions = {}): CheckResult {
  if (!isConcurrent(sc))
    throw new UserError(`${sc.name}: has no actors to interleave (irqlab run executes its steps instead)`);
  const properties = o.properties ?? sc.properties ?? PROPERTY_NAMES;
  const memory = o.memory ?? sc.memory ?? 'sc';
  const model = modelFor(sc, nv.variant, { properties, memory });
  const bounds = o.bounds ?? DEFAULT_BOUNDS;
  const strategy = o.strategy ?? 'bfs';
  const reduce = o.reduce ?? 'none';
  const workers = Math.min(MAX_WORKERS, o.workers ?? 1);
  const eo = {
    strategy,
    bounds,
    now: () => performance.now(),
    onProgress: o.onProgress,
    progressEveryMs: o.progressEveryMs,
    shouldStop: o.shouldStop,
  };
  const run =
    workers > 1 && strategy === 'bfs'
      ? parallelSearch(sc, nv.variant, properties, memory, reduce, { workers })
      : undefined;
  const res: ReducedResult = exploreReduced(model, sc, reduce, eo, run);
  const r: CheckResult = {
    scenario: sc.name,
    variant: nv,
    verdict: res.outcome.kind,
    generated: res.generated,
    distinct: res.distinct,
    depth: res.depth,
    timeMs: Math.round(res.elapsedMs),
    collisionProbability: res.collisionProbability,
    properties,
    memory,
    reduction: res.reduction,
    threads: res.threads ?? 1,
  };
  if (res.outcome.kind === 'violated') {
    const info = PROP_INFO[res.outcome.code];
    r.property = info.name;
    r.kind = info.kind;
    const { path, loopStart } = res.outcome;
    r.counterexample = { path, entries: replay(model, path, loopStart).entries };
    if (loopStart !== undefined) r.counterexample.loopStart = loopStart;
    if (info.name === 'lock-order') r.lockCycle = lockOrderCycle(model, path);
  }
  if (res.outcome.kind === 'incomplete') r.reason = res.outcome.reason;
  const costs = postingPathCosts(sc, nv.variant);
  if (costs.length > 0) r.postingPath = costs;
  if (opensIrqWindows(sc) && res.outcome.kind !== 'incomplete') {
    const c = irqWindowCost(model, bounds.maxStates);
    if (c !== undefined) r.irqWindowLocks = c;
  }
  if (res.outcome.kind !== 'incomplete') {
    const g = gaLogCost(model, bounds.maxStates);
    if (g !== undefined) r.gaLog = g;
  }
  const harvest = harvestCosts(sc, nv.variant);
  if (harvest) r.harvest = harvest;
  return r;
}

function opensIrqWindows(sc: Scenario): boolean {
  return (sc.actors ?? []).some((a) => a.steps.some((st) => st.do === 'svm.irqWindow.open'));
}

/** The trace file of a check's counterexample (src/trace/file.ts), or undefined. */
export function traceFileOf(r: CheckResult, file?: string): TraceFile | undefined {
  const c = r.counterexample;
  if (c === undefined || r.property === undefined || r.kind === undefined) return undefined;
  const t: TraceFile = {
    kind: 'irqlab-trace',
    formatVersion: TRACE_FORMAT_VERSION,
    scenario: r.scenario,
    memory: r.memory,
    variant: { ...r.variant.variant },
    properties: [...r.properties],
    claim: { verdict: 'violated', property: r.property, kind: r.kind },
    steps: c.path.map((action, i) => ({
      action,
      actor: c.entries[i].actor,
      fn: c.entries[i].fn,
      label: c.entries[i].label,
    })),
  };
  if (file !== undefined) t.file = file;
  if (c.loopStart !== undefined) t.loopStart = c.loopStart;
  return t;
}

/**
 * The outcome of several checks, by one documented precedence: a violation over an incomplete
 * check over holds; among violations an invariant (12) over a liveness property (13); among
 * incomplete checks an interruption (130) over a bound (3).
 */
export function combinedVerdict(rs: readonly Pick<CheckResult, 'verdict' | 'kind' | 'reason'>[]): {
  verdict: Verdict;
  kind?: 'invariant' | 'liveness';
  reason?: string;
} {
  const v = rs.filter((r) => r.verdict === 'violated');
  if (v.length > 0)
    return { verdict: 'violated', kind: v.some((r) => r.kind === 'invariant') ? 'invariant' : 'liveness' };
  const inc = rs.filter((r) => r.verdict === 'incomplete');
  if (inc.length > 0)
    return {
      verdict: 'incomplete',
      reason: inc.some((r) => r.reason === 'interrupted') ? 'interrupted' : inc[0].reason,
    };
  return { verdict: 'holds' };
}

export interface SimulateOptions {
  seed: number;
  runs: number;
  /** Steps per run at most. */
  depth: number;
  properties?: readonly string[];
  memory?: MemoryModel;
  shouldStop?: () => boolean;
}

export interface SimulateResult {
  scenario: string;
  variant: NamedVariant;
  seed: number;
  /** Runs done (fewer than asked when a violation was found or the user stopped). */
  runs: number;
  /** Steps taken over all runs. */
  steps: number;
  /** Runs that ended with nothing enabled, and runs cut at the depth bound. */
  quiescent: number;
  bounded: number;
  timeMs: number;
  interrupted: boolean;
  properties: readonly string[];
  memory: MemoryModel;
  violation?: {
    run: number;
    property: string;
    kind: 'invariant' | 'liveness';
    path: number[];
    entries: TraceEntry[];
  };
}

/**
 * Random simulation (TLC's -simulate, Spin's random simulation): `runs` schedules of at most
 * `depth` steps, each action picked uniformly among the enabled ones by a generator seeded with
 * seed + run, through the same model and monitors as the exhaustive search. A violation stops
 * the simulation and comes back as a path that replays like any counterexample. Finding none is
 * not a proof; liveness is judged only at states where nothing is enabled (no fair cycles).
 */
export function simulateScenario(sc: Scenario, nv: NamedVariant, o: SimulateOptions): SimulateResult {
  if (!isConcurrent(sc))
    throw new UserError(`${sc.name}: has no actors to interleave (irqlab run executes its steps instead)`);
  const properties = o.properties ?? sc.properties ?? PROPERTY_NAMES;
  const memory = o.memory ?? sc.memory ?? 'sc';
  const model = modelFor(sc, nv.variant, { properties, memory });
  const start = performance.now();
  const res: SimulateResult = {
    scenario: sc.name,
    variant: nv,
    seed: o.seed,
    runs: 0,
    steps: 0,
    quiescent: 0,
    bounded: 0,
    timeMs: 0,
    interrupted: false,
    properties,
    memory,
  };
  for (let run = 0; run < o.runs; run++) {
    if (o.shouldStop?.() === true) {
      res.interrupted = true;
      break;
    }
    const r = drive(model, new RandomChooser((o.seed + run) | 0), {
      maxSteps: o.depth,
      interrupted: o.shouldStop,
    });
    res.runs++;
    res.steps += r.path.length;
    if (r.end === 'interrupted') {
      res.interrupted = true;
      break;
    }
    if (r.end === 'quiescent') res.quiescent++;
    if (r.end === 'bound') res.bounded++;
    if (r.end === 'violation') {
      const info = PROP_INFO[r.violation];
      res.violation = {
        run,
        property: info.name,
        kind: info.kind,
        path: r.path,
        entries: replay(model, r.path).entries,
      };
      break;
    }
  }
  res.timeMs = Math.round(performance.now() - start);
  return res;
}
