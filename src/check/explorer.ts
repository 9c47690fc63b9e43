/**
 * Explicit-state exploration of every interleaving of a model. Breadth-first by default, so the
 * first violation found has a shortest trace; depth-first as an option. States are packed
 * Uint32Arrays, stored tree-compressed (tree-store.ts: exact, a few words per state) in an order
 * that is also the BFS queue; each keeps its parent's index and the action that led to it, so a
 * counterexample is rebuilt by replaying actions from the initial state. A successor is stepped in
 * place and only the tree nodes above the words it changed are looked up; the hot loop allocates
 * nothing per state.
 *
 * A model that declares obligations (`pending`, `ready`, `livenessCode`) gets a second phase after
 * a complete exploration without violations: a search for fair cycles that leave an obligation
 * unmet (liveness.ts), reported as a lasso. BFS keeps the edges it computes (edges.ts) so that the
 * phase runs only when the graph has a cycle, and only on the states that may lie on one.
 */
import { cyclicPart, EdgeLog } from './edges.ts';
import { findFairCycle, isLiveModel } from './liveness.ts';
import { ampleFirst, type Reducer } from './reduction.ts';
import { TreeStore } from './tree-store.ts';

/** What the explorer needs from a model. All methods work in place on caller-owned buffers. */
export interface CheckModel {
  /** Words in a packed state. */
  readonly words: number;
  /** Upper bound on the number of actions enabled in one state. */
  readonly maxActions: number;
  init(s: Uint32Array): void;
  /** Writes the enabled action ids into `out`; returns how many. */
  enabled(s: Uint32Array, out: Int32Array): number;
  /** Applies an action in place. Returns a violation code from step monitors (0: none). */
  step(s: Uint32Array, action: number): number;
  /** Invariants over a state: a violation code or 0. */
  invariant(s: Uint32Array): number;
  /** Checks a state with no enabled action (a quiescent end state): a violation code or 0. */
  terminal(s: Uint32Array): number;
  /**
   * Obligations outstanding at s, as a bitmask of up to 31 bits (e.g. "vCPU x has a posted,
   * undelivered vector"). With `ready` and `livenessCode`, enables the fair-cycle phase.
   */
  pending?(s: Uint32Array): number;
  /** Obligations that could be discharged at s, as a bitmask (e.g. "the vector is deliverable now"). */
  ready?(s: Uint32Array): number;
  /** The violation code reported for a fair cycle that leaves an obligation unmet. */
  readonly livenessCode?: number;
}

export interface Bounds {
  maxStates: number;
  maxDepth: number;
  /** Milliseconds. */
  maxTimeMs: number;
}

export interface Progress {
  states: number;
  distinct: number;
  queue: number;
  depth: number;
  elapsedMs: number;
}

export interface ExploreOptions {
  strategy: 'bfs' | 'dfs';
  bounds: Bounds;
  /** Called about every `progressEveryMs` with counters. */
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  /** Polled during the search; returning true stops it (Ctrl-C). */
  shouldStop?: () => boolean;
  /** A clock in milliseconds (the drivers pass performance.now; the model never reads time). */
  now: () => number;
  /**
   * Partial-order reduction (reduction.ts), BFS only: at each state the reducer may name one
   * enabled action to expand alone. The fair-cycle phase is then left to the caller
   * (ExploreResult.cycleUnchecked): it needs the full graph (exploreReduced in reduced.ts).
   */
  reducer?: Reducer;
}

export type Outcome =
  | { kind: 'holds' }
  | {
      kind: 'violated';
      code: number;
      path: number[];
      atTerminal: boolean;
      /**
       * For a fair-cycle violation (a lasso): the index into `path` where the loop starts. The
       * state after all of `path` equals the state after its first `loopStart` actions, so
       * path[loopStart..] repeats forever.
       */
      loopStart?: number;
    }
  | { kind: 'incomplete'; reason: 'states' | 'depth' | 'time' | 'interrupted' };

export interface ExploreResult {
  outcome: Outcome;
  /** States generated (successors computed, including duplicates), distinct states, max depth. */
  generated: number;
  distinct: number;
  depth: number;
  elapsedMs: number;
  collisionProbability: number;
  /** States expanded through one action alone (partial-order reduction), else 0. */
  reducedStates: number;
  /**
   * With a reducer: the search held, the model has obligations and the reduced graph may have a
   * cycle, so the fair-cycle phase was not run.
   */
  cycleUnchecked: boolean;
  /** Bytes held by the state store and the kept edges at the end (tables, chunks, slot arrays). */
  storeBytes: number;
  /**
   * Threads that took part in at least one level of a parallel search (parallel.ts; helpers start
   * only at a wide level), else absent: one.
   */
  threads?: number;
}

/**
 * Explores the model. Invariants are checked on every distinct state (the initial one included),
 * step monitors on every transition, and terminal checks on every state without successors.
 */
export function explore(model: CheckModel, opts: ExploreOptions): ExploreResult {
  const { maxStates, maxDepth, maxTimeMs } = opts.bounds;
  const store = new TreeStore(model.words);
  const cur = store.cur;
  const next = store.next;
  const acts = new Int32Array(model.maxActions);
  const t0 = opts.now();
  let lastProgress = t0;
  const every = opts.progressEveryMs ?? 2000;
  let generated = 0;
  let maxSeenDepth = 0;
  const reducer = opts.strategy === 'bfs' ? opts.reducer : undefined;
  let reducedStates = 0;
  let cycleUnchecked = false;
  // BFS of a model with obligations keeps its edges, to decide exactly whether a cycle exists
  // (edges.ts) and so whether the fair-cycle phase has anything to look at.
  const live = isLiveModel(model);
  const edges = live && opts.strategy === 'bfs' ? new EdgeLog() : null;

  const result = (outcome: Outcome): ExploreResult => ({
    outcome,
    generated,
    distinct: store.count,
    depth: maxSeenDepth,
    elapsedMs: opts.now() - t0,
    // The tree store is exact: equal indices mean equal states.
    collisionProbability: 0,
    reducedStates,
    cycleUnchecked,
    storeBytes: store.bytes() + (edges?.bytes() ?? 0),
  });

  const init = new Uint32Array(model.words);
  model.init(init);
  store.init(init);
  const v0 = model.invariant(cur);
  if (v0 !== 0) return result({ kind: 'violated', code: v0, path: [], atTerminal: false });

  // BFS walks the store in insertion order; DFS keeps a stack of state indices.
  const stack: number[] = [];
  if (opts.strategy === 'dfs') stack.push(0);
  let head = 0;
  let depthLimited = false;
  let pending: Outcome | null = null;
  let pendingLength = 0;

  for (;;) {
    let i: number;
    if (opts.strategy === 'bfs') {
      if (head === store.count) break;
      i = head++;
    } else {
      if (stack.length === 0) break;
      i = stack.pop()!;
    }
    if ((i & 0xff) === 0) {
      const t = opts.now();
      if (opts.shouldStop?.()) return result({ kind: 'incomplete', reason: 'interrupted' });
      if (t - t0 > maxTimeMs) return result({ kind: 'incomplete', reason: 'time' });
      if (opts.onProgress && t - lastProgress >= every) {
        lastProgress = t;
        const queue = opts.strategy === 'bfs' ? store.count - head : stack.length;
        opts.onProgress({
          states: generated,
          distinct: store.count,
          queue,
          depth: maxSeenDepth,
          elapsedMs: t - t0,
        });
      }
    }
    const d = store.depthOf(i);
    // A violation found one level deeper is reported only once every state of this level has had
    // its terminal check: a quiescent end state here would give a shorter counterexample.
    if (pending !== null && d >= pendingLength) return result(pending);
    edges?.begin();
    store.load(i);
    const n = model.enabled(cur, acts);
    if (n === 0) {
      const v = model.terminal(cur);
      if (v !== 0) return result({ kind: 'violated', code: v, path: store.path(i), atTerminal: true });
      continue;
    }
    if (pending !== null) continue;
    if (d >= maxDepth) {
      depthLimited = true;
      continue;
    }
    // An ample set of one action goes first; the rest only if its successor was expanded already
    // (C3, below).
    let limit = n;
    if (reducer !== undefined && n > 1 && ampleFirst(reducer, cur, acts, n)) {
      limit = 1;
      reducedStates++;
    }
    for (let k = 0; k < limit; k++) {
      store.fresh();
      const sv = model.step(next, acts[k]);
      generated++;
      const found = store.lookup();
      if (found < 0 && store.count >= maxStates) return result({ kind: 'incomplete', reason: 'states' });
      // The BFS cycle proviso: the last state of a cycle to be expanded finds its successor on the
      // cycle expanded already (index ≤ i), so expanding such states in full leaves no cycle
      // reduced all along; a successor stored but still queued (index > i) needs nothing
      // (Bošnački, Holzmann, "Improving Spin's Partial-Order Reduction for Breadth-First Search",
      // SPIN 2005).
      if (found >= 0 && found <= i && limit === 1 && n > 1) {
        limit = n;
        reducedStates--;
      }
      const j = found < 0 ? store.insert(i, acts[k], d + 1) : -1;
      edges?.add(found < 0 ? j : found);
      if (j >= 0 && d + 1 > maxSeenDepth) maxSeenDepth = d + 1;
      let code = sv;
      if (code === 0 && j >= 0) code = model.invariant(next);
      if (code !== 0) {
        const path = j >= 0 ? store.path(j) : [...store.path(i), acts[k]];
        const outcome: Outcome = { kind: 'violated', code, path, atTerminal: false };
        if (opts.strategy === 'dfs') return result(outcome);
        pending = outcome;
        pendingLength = d + 1;
        break;
      }
      if (j >= 0 && opts.strategy === 'dfs') stack.push(j);
    }
  }
  if (pending !== null) return result(pending);
  if (depthLimited) return result({ kind: 'incomplete', reason: 'depth' });
  // The states that may lie on a cycle: all of them after DFS (no edges kept), none when the BFS
  // graph is acyclic.
  let part: Uint8Array | null | undefined;
  if (live) part = edges?.ok ? cyclicPart(edges, store.count) : undefined;
  if (live && part !== null) {
    if (reducer !== undefined) {
      cycleUnchecked = true;
      return result({ kind: 'holds' });
    }
    const poll = () => {
      if (opts.shouldStop?.()) return 'interrupted' as const;
      return opts.now() - t0 > maxTimeMs ? ('time' as const) : null;
    };
    const f = findFairCycle(model, store, poll, part);
    if (f.kind === 'stopped') return result({ kind: 'incomplete', reason: f.reason });
    if (f.kind === 'found') {
      const stem = store.path(f.entry);
      return result({
        kind: 'violated',
        code: f.code,
        path: [...stem, ...f.cycle],
        atTerminal: false,
        loopStart: stem.length,
      });
    }
  }
  return result({ kind: 'holds' });
}
