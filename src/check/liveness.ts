/**
 * Liveness over fair cycles, a separate phase after a complete exploration: is there an infinite,
 * weakly fair run that keeps an obligation outstanding forever although it could be discharged
 * infinitely often? (An obligation: "vCPU x has a posted, undelivered vector", as a bit of the
 * model's `pending(s)`; it is dischargeable where the same bit is in `ready(s)`.)
 *
 * The graph: every explored state with pending(s) != 0, re-expanded once (enabled + step on a
 * scratch copy, the successor looked up by fingerprint) into a compressed edge list. For each
 * obligation bit b that is both pending and ready somewhere, the strongly connected components of
 * the subgraph of states with b pending are computed (iterative Tarjan, no recursion). A component
 * C is a violation for b when:
 *
 * - it is nontrivial (one internal edge at least; a self-loop counts),
 * - b is ready in some state of C (b is pending in all of them by construction),
 * - it is weakly fair: every action enabled in every state of C labels some internal edge of C.
 *
 * Why that is exact. If C passes, a closed walk through every state and every internal edge of C
 * exists (C is strongly connected). Repeated forever it is a run that keeps b pending, passes a
 * ready state infinitely often, takes every action enabled throughout C infinitely often, and
 * visits infinitely often, for every other action, a state of C where it is disabled: so no action
 * stays enabled forever without being taken, which is weak fairness. Conversely, the cycle of a
 * fair run that keeps b pending lies inside one such component C, and whatever action is enabled
 * in all of C is enabled all along that cycle, so the run takes it, on an edge internal to C.
 *
 * Components are computed per bit, not once over all states with pending != 0: there a component
 * may mix states with and without b, and a fair cycle inside its b-part would be missed.
 *
 * The counterexample is a lasso: a path from the initial state to the component's shallowest state
 * e, then a cycle from e back to e within the component (see `lassoCycle`).
 *
 * Memory: per-state typed arrays sized to the number of states, and the edge list (two Int32Arrays
 * of one entry per enabled action of a pending state). Nothing is allocated per state.
 */
import type { CheckModel } from './explorer.ts';

/** A model with the three liveness members present. */
export type LiveModel = CheckModel & {
  pending(s: Uint32Array): number;
  ready(s: Uint32Array): number;
  livenessCode: number;
};

export function isLiveModel(m: CheckModel): m is LiveModel {
  return m.pending !== undefined && m.ready !== undefined && m.livenessCode !== undefined;
}

/** The explored states, by index (the explorer's tree store). */
export interface StateStore {
  readonly count: number;
  /** Depth of state i in the search tree (its path's length). */
  depthOf(i: number): number;
  /** Loads state i into `cur`. */
  load(i: number): void;
  readonly cur: Uint32Array;
  /** The index of a stored state, or -1. */
  find(s: Uint32Array): number;
}

export type FairCycleResult =
  | { kind: 'none' }
  | { kind: 'stopped'; reason: 'time' | 'interrupted' }
  | {
      kind: 'found';
      code: number;
      /** The obligation bit left unmet. */
      bit: number;
      /** Index of the state the loop starts and ends in. */
      entry: number;
      /** Actions of the loop, from `entry` back to `entry` (one at least). */
      cycle: number[];
    };

/** Polled every 256 states while re-expanding; a reason stops the phase. */
export type Poll = () => 'time' | 'interrupted' | null;

/**
 * The state graph restricted to states with pending != 0, in compressed form: the edges of state v
 * are off[v]..off[v+1]-1, edge e goes to tgt[e] under action act[e]. Every enabled action of such
 * a state has an edge, including those to states with pending = 0 (so the edges of v list exactly
 * the actions enabled at v); other states have no edges.
 */
export interface StateGraph {
  readonly n: number;
  readonly off: Int32Array;
  readonly tgt: Int32Array;
  readonly act: Int32Array;
  readonly pend: Int32Array;
  readonly rdy: Int32Array;
}

/** Re-expands every state with pending != 0. Null if `poll` stopped it (the reason is in `stopped`). */
function buildGraph(
  model: LiveModel,
  states: StateStore,
  poll: Poll | undefined,
  stopped: { reason: 'time' | 'interrupted' | null },
  within: Uint8Array | undefined,
): StateGraph | null {
  const n = states.count;
  const W = model.words;
  const cur = states.cur;
  const next = new Uint32Array(W);
  const acts = new Int32Array(model.maxActions);
  const pend = new Int32Array(n);
  const rdy = new Int32Array(n);
  const off = new Int32Array(n + 1);
  // Pass 1: obligations and degrees (enabled only, no steps), to size the edge list exactly.
  for (let v = 0; v < n; v++) {
    if ((v & 0xff) === 0 && poll) {
      stopped.reason = poll();
      if (stopped.reason !== null) return null;
    }
    if (within !== undefined && within[v] === 0) {
      off[v + 1] = off[v];
      continue;
    }
    states.load(v);
    const p = model.pending(cur) | 0;
    pend[v] = p;
    let deg = 0;
    if (p !== 0) {
      rdy[v] = model.ready(cur) & p;
      deg = model.enabled(cur, acts);
    }
    off[v + 1] = off[v] + deg;
  }
  const tgt = new Int32Array(off[n]);
  const act = new Int32Array(off[n]);
  // Pass 2: successors, looked up by fingerprint (the exploration was complete, so each is there).
  for (let v = 0; v < n; v++) {
    if (pend[v] === 0) continue;
    if ((v & 0xff) === 0 && poll) {
      stopped.reason = poll();
      if (stopped.reason !== null) return null;
    }
    states.load(v);
    const k = model.enabled(cur, acts);
    const e0 = off[v];
    for (let j = 0; j < k; j++) {
      const a = acts[j];
      if (a < 0) throw new Error(`liveness: negative action id ${a}`);
      for (let w = 0; w < W; w++) next[w] = cur[w];
      model.step(next, a);
      const t = states.find(next);
      if (t < 0) throw new Error(`liveness: a successor of state ${v} was never explored`);
      tgt[e0 + j] = t;
      act[e0 + j] = a;
    }
  }
  return { n, off, tgt, act, pend, rdy };
}

/**
 * Strongly connected components (iterative Tarjan) of the subgraph induced by the states v with
 * (member[v] & bit) != 0. After `run`, comp[v] is v's component (-1 for non-members), and the
 * states of component c are order[start[c]..start[c+1]-1]. Components come out in reverse
 * topological order. The arrays are allocated once and reused across runs.
 */
export class Tarjan {
  readonly comp: Int32Array;
  readonly order: Int32Array;
  readonly start: Int32Array;
  comps = 0;
  private readonly index: Int32Array;
  private readonly low: Int32Array;
  private readonly stack: Int32Array;
  private readonly onStack: Uint8Array;
  private readonly callNode: Int32Array;
  private readonly callEdge: Int32Array;

  constructor(n: number) {
    this.comp = new Int32Array(n);
    this.order = new Int32Array(n);
    this.start = new Int32Array(n + 1);
    this.index = new Int32Array(n);
    this.low = new Int32Array(n);
    this.stack = new Int32Array(n);
    this.onStack = new Uint8Array(n);
    this.callNode = new Int32Array(n);
    this.callEdge = new Int32Array(n);
  }

  run(off: Int32Array, tgt: Int32Array, member: Int32Array, bit: number): void {
    const { comp, order, start, index, low, stack, onStack, callNode, callEdge } = this;
    const n = comp.length;
    index.fill(-1);
    comp.fill(-1);
    let comps = 0;
    let emitted = 0;
    let counter = 0;
    let sp = 0;
    for (let root = 0; root < n; root++) {
      if ((member[root] & bit) === 0 || index[root] >= 0) continue;
      index[root] = low[root] = counter++;
      stack[sp++] = root;
      onStack[root] = 1;
      callNode[0] = root;
      callEdge[0] = off[root];
      let cp = 1;
      while (cp > 0) {
        const v = callNode[cp - 1];
        let e = callEdge[cp - 1];
        const end = off[v + 1];
        let descended = false;
        while (e < end) {
          const w = tgt[e++];
          if ((member[w] & bit) === 0) continue;
          if (index[w] < 0) {
            callEdge[cp - 1] = e;
            index[w] = low[w] = counter++;
            stack[sp++] = w;
            onStack[w] = 1;
            callNode[cp] = w;
            callEdge[cp] = off[w];
            cp++;
            descended = true;
            break;
          }
          if (onStack[w] === 1 && index[w] < low[v]) low[v] = index[w];
        }
        if (descended) continue;
        if (low[v] === index[v]) {
          start[comps] = emitted;
          let x: number;
          do {
            x = stack[--sp];
            onStack[x] = 0;
            comp[x] = comps;
            order[emitted++] = x;
          } while (x !== v);
          comps++;
        }
        cp--;
        if (cp > 0) {
          const u = callNode[cp - 1];
          if (low[v] < low[u]) low[u] = low[v];
        }
      }
    }
    start[comps] = emitted;
    this.comps = comps;
  }
}

/**
 * Per-component bookkeeping over action ids: which actions a component's states enable, in how
 * many of its states, and which label internal edges. Stamps avoid clearing between components.
 */
class ActionTally {
  readonly enabledIn: Int32Array;
  private readonly compStamp: Int32Array;
  private readonly takenStamp: Int32Array;
  private readonly stateStamp: Int32Array;
  private stamp = 0;
  private stateCounter = 0;
  /** Distinct actions enabled somewhere in the last tallied component. */
  readonly actions: number[] = [];

  constructor(maxId: number) {
    this.enabledIn = new Int32Array(maxId + 1);
    this.compStamp = new Int32Array(maxId + 1);
    this.takenStamp = new Int32Array(maxId + 1);
    this.stateStamp = new Int32Array(maxId + 1);
  }

  /** Tallies component c of `t`; returns whether it is weakly fair. */
  fair(g: StateGraph, t: Tarjan, c: number): boolean {
    const s = ++this.stamp;
    this.actions.length = 0;
    const { off, tgt, act } = g;
    const lo = t.start[c];
    const hi = t.start[c + 1];
    for (let i = lo; i < hi; i++) {
      const v = t.order[i];
      const st = ++this.stateCounter;
      for (let e = off[v]; e < off[v + 1]; e++) {
        const a = act[e];
        if (this.compStamp[a] !== s) {
          this.compStamp[a] = s;
          this.enabledIn[a] = 0;
          this.actions.push(a);
        }
        if (this.stateStamp[a] !== st) {
          this.stateStamp[a] = st;
          this.enabledIn[a]++;
        }
        if (t.comp[tgt[e]] === c) this.takenStamp[a] = s;
      }
    }
    for (const a of this.actions) if (this.enabledIn[a] === hi - lo && this.takenStamp[a] !== s) return false;
    return true;
  }

  /** After `fair`: is action a enabled in every state of the component? */
  required(a: number, size: number): boolean {
    return this.enabledIn[a] === size;
  }
}

/** Nontrivial: more than one state, or a self-loop. */
function nontrivial(g: StateGraph, t: Tarjan, c: number): boolean {
  const lo = t.start[c];
  if (t.start[c + 1] - lo > 1) return true;
  const v = t.order[lo];
  for (let e = g.off[v]; e < g.off[v + 1]; e++) if (g.tgt[e] === v) return true;
  return false;
}

function someReady(g: StateGraph, t: Tarjan, c: number, bit: number): boolean {
  for (let i = t.start[c]; i < t.start[c + 1]; i++) if ((g.rdy[t.order[i]] & bit) !== 0) return true;
  return false;
}

/**
 * Looks for a fair cycle that leaves an obligation unmet, over all explored states. Requires a
 * complete exploration (every successor of a stored state is stored). Of all violating components
 * it reports the one whose shallowest state is shallowest, so that with BFS the lasso's stem is
 * short.
 *
 * `within` (1 per state) limits the search to the states that may lie on a cycle (edges.ts): the
 * others are treated as having no obligation. That changes no nontrivial component, since every
 * state of one lies on a cycle, and so no verdict and no lasso.
 */
export function findFairCycle(
  model: LiveModel,
  states: StateStore,
  poll?: Poll,
  within?: Uint8Array,
): FairCycleResult {
  const stopped: { reason: 'time' | 'interrupted' | null } = { reason: null };
  const g = buildGraph(model, states, poll, stopped, within);
  if (g === null) return { kind: 'stopped', reason: stopped.reason ?? 'interrupted' };
  let candidates = 0;
  for (let v = 0; v < g.n; v++) candidates |= g.rdy[v];
  if (candidates === 0) return { kind: 'none' };
  let maxId = 0;
  for (let e = 0; e < g.act.length; e++) if (g.act[e] > maxId) maxId = g.act[e];
  const t = new Tarjan(g.n);
  const tally = new ActionTally(maxId);
  let best = -1;
  let bestBit = 0;
  for (let b = 0; b < 32; b++) {
    const bit = 1 << b;
    if ((candidates & bit) === 0) continue;
    t.run(g.off, g.tgt, g.pend, bit);
    for (let c = 0; c < t.comps; c++) {
      if (!someReady(g, t, c, bit) || !nontrivial(g, t, c) || !tally.fair(g, t, c)) continue;
      let e = t.order[t.start[c]];
      for (let i = t.start[c] + 1; i < t.start[c + 1]; i++) {
        const v = t.order[i];
        if (states.depthOf(v) < states.depthOf(e) || (states.depthOf(v) === states.depthOf(e) && v < e))
          e = v;
      }
      if (
        best < 0 ||
        states.depthOf(e) < states.depthOf(best) ||
        (states.depthOf(e) === states.depthOf(best) && e < best)
      ) {
        best = e;
        bestBit = bit;
      }
    }
  }
  if (best < 0) return { kind: 'none' };
  // The components of the chosen bit again (later bits reused the arrays), then the loop.
  t.run(g.off, g.tgt, g.pend, bestBit);
  const c = t.comp[best];
  tally.fair(g, t, c);
  return {
    kind: 'found',
    code: model.livenessCode,
    bit: 31 - Math.clz32(bestBit),
    entry: best,
    cycle: lassoCycle(g, t, tally, c, bestBit, best),
  };
}

/**
 * A cycle from `entry` back to `entry` inside component c that is weakly fair as a lasso loop and
 * passes a state where `bit` is ready. Built greedily from shortest paths inside the component:
 *
 * 1. to the nearest ready state (unless `entry` is one);
 * 2. for each action enabled in every state of c that the walk has not taken yet: to the nearest
 *    state with an internal edge under that action, then along that edge;
 * 3. tentatively back to `entry`; if some action is enabled in every state of the walk so far and
 *    never taken (it is not enabled everywhere in c, or step 2 would have taken it), detour to the
 *    nearest state of c where it is disabled and repeat step 3. Each detour removes one action for
 *    good, so this ends.
 *
 * The result need not be a shortest fair cycle, but every leg is a shortest path.
 */
function lassoCycle(
  g: StateGraph,
  t: Tarjan,
  tally: ActionTally,
  c: number,
  bit: number,
  entry: number,
): number[] {
  const { off, tgt, act } = g;
  const size = t.start[c + 1] - t.start[c];
  const inC = (v: number) => t.comp[v] === c;
  const enabledAt = (v: number, a: number) => {
    for (let e = off[v]; e < off[v + 1]; e++) if (act[e] === a) return true;
    return false;
  };
  const actions = [...tally.actions];
  const walk: number[] = []; // edge indices
  const taken = new Set<number>();
  const disabledOnWalk = new Set<number>();
  let pos = entry;
  const visit = (v: number) => {
    for (const a of actions) if (!enabledAt(v, a)) disabledOnWalk.add(a);
  };
  const follow = (edges: number[]) => {
    for (const e of edges) {
      walk.push(e);
      taken.add(act[e]);
      pos = tgt[e];
      visit(pos);
    }
  };
  // Shortest paths inside c, breadth-first. Scratch arrays are allocated once per lasso; a stamp
  // per search marks the states it reached.
  const reached = new Int32Array(g.n);
  const prevEdge = new Int32Array(g.n);
  const prevNode = new Int32Array(g.n);
  const queue = new Int32Array(size);
  let search = 0;
  const bfs = (from: number, goal: (v: number) => boolean, nonEmpty: boolean): number[] => {
    if (!nonEmpty && goal(from)) return [];
    const mark = ++search;
    reached[from] = mark;
    queue[0] = from;
    let tail = 1;
    for (let h = 0; h < tail; h++) {
      const u = queue[h];
      for (let e = off[u]; e < off[u + 1]; e++) {
        const w = tgt[e];
        if (!inC(w)) continue;
        if (goal(w)) {
          const path = [e];
          for (let x = u; x !== from; x = prevNode[x]) path.push(prevEdge[x]);
          return path.reverse();
        }
        if (reached[w] !== mark) {
          reached[w] = mark;
          prevEdge[w] = e;
          prevNode[w] = u;
          queue[tail++] = w;
        }
      }
    }
    throw new Error('liveness: no path inside a strongly connected component');
  };

  visit(entry);
  if ((g.rdy[entry] & bit) === 0) follow(bfs(pos, (v) => (g.rdy[v] & bit) !== 0, false));
  for (const a of actions) {
    if (!tally.required(a, size) || taken.has(a)) continue;
    const hasEdge = (v: number) => {
      for (let e = off[v]; e < off[v + 1]; e++) if (act[e] === a && inC(tgt[e])) return true;
      return false;
    };
    follow(bfs(pos, hasEdge, false));
    for (let e = off[pos]; e < off[pos + 1]; e++) {
      if (act[e] === a && inC(tgt[e])) {
        follow([e]);
        break;
      }
    }
  }
  for (;;) {
    const back = bfs(pos, (v) => v === entry, walk.length === 0);
    const deficit = actions.find((a) => {
      if (taken.has(a) || disabledOnWalk.has(a)) return false;
      for (const e of back) if (act[e] === a || !enabledAt(tgt[e], a)) return false;
      return true;
    });
    if (deficit === undefined) {
      follow(back);
      break;
    }
    follow(bfs(pos, (v) => !enabledAt(v, deficit), false));
  }
  return walk.map((e) => act[e]);
}

/**
 * Independent check of a lasso by replaying it: returns the model's liveness code if the loop
 * (actions loopStart..end) closes, keeps some obligation bit pending in every state of the loop,
 * passes a state where that bit is ready, and is weakly fair (every action enabled in every state
 * of the loop is taken in it); 0 otherwise, or if the model has no liveness members. Throws if an
 * action of the path is not enabled.
 */
export function lassoViolation(model: CheckModel, path: readonly number[], loopStart: number): number {
  if (!isLiveModel(model) || loopStart < 0 || loopStart >= path.length) return 0;
  const s = new Uint32Array(model.words);
  const acts = new Int32Array(model.maxActions);
  model.init(s);
  let start: Uint32Array | null = null;
  let allPending = -1;
  let anyReady = 0;
  const enabledIn = new Map<number, number>();
  const taken = new Set<number>();
  for (let i = 0; i < path.length; i++) {
    const n = model.enabled(s, acts);
    const en = new Set<number>(acts.subarray(0, n));
    if (!en.has(path[i])) throw new Error(`lasso: step ${i + 1} (action ${path[i]}) is not enabled`);
    if (i >= loopStart) {
      if (i === loopStart) start = s.slice();
      const p = model.pending(s);
      allPending &= p;
      anyReady |= model.ready(s) & p;
      for (const a of en) enabledIn.set(a, (enabledIn.get(a) ?? 0) + 1);
      taken.add(path[i]);
    }
    model.step(s, path[i]);
  }
  if (start === null || !s.every((w, k) => w === start![k])) return 0;
  if ((allPending & anyReady) === 0) return 0;
  for (const [a, k] of enabledIn) if (k === path.length - loopStart && !taken.has(a)) return 0;
  return model.livenessCode;
}
