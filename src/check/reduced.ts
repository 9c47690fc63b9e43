/**
 * A search with partial-order reduction that answers as the full search does (reduction.ts):
 *
 * - a violation found on the reduced graph is a real one, but BFS on a reduced graph need not find
 *   a shortest path to it, so an unreduced BFS bounded by the depth found runs again and reports
 *   the shortest counterexample, the one `--reduce none` prints;
 * - the fair-cycle phase needs the full graph. When the reduced graph is acyclic, so is the full
 *   one (an infinite path of the full graph has an infinite counterpart in a graph reduced with
 *   persistent sets: Clarke, Grumberg, Peled, "Model Checking", 10.4), every run ends in a
 *   quiescent state and the terminal checks covered them all. Otherwise the whole search runs again
 *   unreduced and its answer is the verdict.
 */

import type { SystemModel } from '../model/system/system.ts';
import { buildModel } from '../scenarios/compile.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { type ExploreOptions, type ExploreResult, explore } from './explorer.ts';
import { AmpleReducer, type ReductionName } from './reduction.ts';

/** Why an unreduced search ran after the reduced one. */
export type RerunReason = 'shortest-trace' | 'liveness';

export interface ReductionReport {
  readonly name: ReductionName;
  /** The reduced search (absent with `none`). */
  readonly reduced?: {
    readonly distinct: number;
    readonly generated: number;
    readonly elapsedMs: number;
    /** States expanded through one action alone. */
    readonly ampleStates: number;
  };
  /** The unreduced search run after it, if any. */
  readonly rerun?: {
    readonly reason: RerunReason;
    readonly maxDepth: number;
    readonly distinct: number;
    readonly generated: number;
    readonly elapsedMs: number;
  };
}

export type ReducedResult = ExploreResult & { readonly reduction: ReductionReport };

/** A search of the model: explore (one thread) or a parallel one (parallel.ts), same answers. */
export type Search = (model: SystemModel, opts: ExploreOptions) => ExploreResult;

/**
 * Explores a scenario's model with the named reduction. The counts and time of the result are the
 * whole work: the reduced search plus any unreduced one after it; `distinct` is the reduced
 * search's unless an unreduced search gave the verdict. `search` runs each of them (default:
 * explore, on this thread).
 */
export function exploreReduced(
  model: SystemModel,
  sc: Scenario,
  reduce: ReductionName,
  opts: ExploreOptions,
  search: Search = explore,
): ReducedResult {
  if (reduce === 'none' || opts.strategy !== 'bfs') {
    return { ...search(model, opts), reduction: { name: 'none' } };
  }
  const first = search(model, { ...opts, reducer: new AmpleReducer(model, sc) });
  const reduced = {
    distinct: first.distinct,
    generated: first.generated,
    elapsedMs: first.elapsedMs,
    ampleStates: first.reducedStates,
  };
  const o = first.outcome;
  let reason: RerunReason | null = null;
  let maxDepth = opts.bounds.maxDepth;
  if (o.kind === 'violated') {
    reason = 'shortest-trace';
    maxDepth = Math.min(maxDepth, o.path.length);
  } else if (o.kind === 'holds' && first.cycleUnchecked) {
    reason = 'liveness';
  }
  if (reason === null) return { ...first, reduction: { name: reduce, reduced } };
  const timeLeft = Math.max(1, opts.bounds.maxTimeMs - first.elapsedMs);
  const again = search(model, { ...opts, bounds: { ...opts.bounds, maxDepth, maxTimeMs: timeLeft } });
  // A depth-bounded search that found nothing shorter would be a bug in the reduction: the reduced
  // path is a path of the full graph. Report the reduced search's violation rather than hide it.
  const outcome = reason === 'shortest-trace' && again.outcome.kind !== 'violated' ? o : again.outcome;
  return {
    ...again,
    outcome,
    generated: first.generated + again.generated,
    elapsedMs: first.elapsedMs + again.elapsedMs,
    reduction: {
      name: reduce,
      reduced,
      rerun: {
        reason,
        maxDepth,
        distinct: again.distinct,
        generated: again.generated,
        elapsedMs: again.elapsedMs,
      },
    },
  };
}

/** buildModel and exploreReduced in one, for tests and benchmarks. */
export function checkScenario(
  sc: Scenario,
  v: Parameters<typeof buildModel>[1],
  reduce: ReductionName,
  opts: ExploreOptions,
  memory?: 'sc' | 'tso',
): ReducedResult {
  return exploreReduced(buildModel(sc, v, undefined, memory), sc, reduce, opts);
}
