/**
 * The explorer against toy models whose state spaces are known independently of it:
 *
 * - Counters: a and b in 0..n; action 0 increments a (a < n), action 1 increments b (b < a). The
 *   reachable states are {(a, b) : 0 <= b <= a <= n}, (n+1)(n+2)/2 of them; (a, b) is at distance
 *   a + b from (0, 0); the only state without successors is (n, n).
 * - Random graphs: nodes 0..m-1 with random successor lists (some empty), node 0 initial; a plain
 *   breadth-first search over a JS array (written here, sharing nothing with the explorer) gives
 *   the reachable set, the distances and the dead ends.
 *
 * Every fast-check property runs with a fixed seed, so the suite is deterministic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type CheckModel, type ExploreOptions, explore } from '../../src/check/explorer.ts';

const SEED = 0x1c0de;
const BAD = 7;
const BAD_STEP = 9;
const BAD_END = 11;

const WIDE: ExploreOptions['bounds'] = { maxStates: 1 << 22, maxDepth: 1 << 20, maxTimeMs: 1e9 };

function opts(over: Partial<ExploreOptions> = {}): ExploreOptions {
  return { strategy: 'bfs', bounds: WIDE, now: () => 0, ...over };
}

/** Counts of model calls per state key, to check what the explorer visited. */
class Calls {
  enabled = new Map<string, number>();
  invariant = new Map<string, number>();
  terminal = new Map<string, number>();
  steps = 0;
  static bump(m: Map<string, number>, k: string): void {
    m.set(k, (m.get(k) ?? 0) + 1);
  }
}

/** Two counters; a third word is a constant so the packed state spans several words. */
class Counters implements CheckModel {
  readonly words = 3;
  readonly maxActions = 2;
  readonly n: number;
  bad: [number, number] | null = null;
  badStep: { a: number; b: number; action: number } | null = null;
  badEnd = false;
  calls = new Calls();
  constructor(n: number) {
    this.n = n;
  }
  static key(s: Uint32Array): string {
    return `${s[0]},${s[1]}`;
  }
  init(s: Uint32Array): void {
    s[0] = 0;
    s[1] = 0;
    s[2] = 0xfeedface;
  }
  enabled(s: Uint32Array, out: Int32Array): number {
    Calls.bump(this.calls.enabled, Counters.key(s));
    let k = 0;
    if (s[0] < this.n) out[k++] = 0;
    if (s[1] < s[0]) out[k++] = 1;
    return k;
  }
  step(s: Uint32Array, action: number): number {
    this.calls.steps++;
    const b = this.badStep;
    const hit = b !== null && b.a === s[0] && b.b === s[1] && b.action === action;
    s[action]++;
    return hit ? BAD_STEP : 0;
  }
  invariant(s: Uint32Array): number {
    Calls.bump(this.calls.invariant, Counters.key(s));
    return this.bad !== null && s[0] === this.bad[0] && s[1] === this.bad[1] ? BAD : 0;
  }
  terminal(s: Uint32Array): number {
    Calls.bump(this.calls.terminal, Counters.key(s));
    return this.badEnd ? BAD_END : 0;
  }
  get reachable(): number {
    return ((this.n + 1) * (this.n + 2)) / 2;
  }
}

/** Replays a path through a model's own enabled/step; fails if an action is not enabled. */
function walk(model: CheckModel, path: readonly number[]): { s: Uint32Array; codes: number[] } {
  const s = new Uint32Array(model.words);
  const acts = new Int32Array(model.maxActions);
  model.init(s);
  const codes: number[] = [];
  for (const a of path) {
    const n = model.enabled(s, acts);
    assert.ok(Array.from(acts.subarray(0, n)).includes(a), `action ${a} not enabled on the path`);
    codes.push(model.step(s, a));
  }
  return { s, codes };
}

/** A directed graph as a model: state [node, node ^ salt]; action k follows the k-th edge. */
class Graph implements CheckModel {
  readonly words = 2;
  readonly maxActions: number;
  readonly succ: number[][];
  badNode = -1;
  badEdge: { from: number; k: number } | null = null;
  badEnd = -1;
  calls = new Calls();
  constructor(succ: number[][]) {
    this.succ = succ;
    this.maxActions = Math.max(1, ...succ.map((l) => l.length));
  }
  init(s: Uint32Array): void {
    s[0] = 0;
    s[1] = 0x5a5a5a5a;
  }
  enabled(s: Uint32Array, out: Int32Array): number {
    Calls.bump(this.calls.enabled, String(s[0]));
    const l = this.succ[s[0]];
    for (let k = 0; k < l.length; k++) out[k] = k;
    return l.length;
  }
  step(s: Uint32Array, action: number): number {
    this.calls.steps++;
    const from = s[0];
    s[0] = this.succ[from][action];
    s[1] = (s[0] ^ 0x5a5a5a5a) >>> 0;
    const e = this.badEdge;
    return e !== null && e.from === from && e.k === action ? BAD_STEP : 0;
  }
  invariant(s: Uint32Array): number {
    Calls.bump(this.calls.invariant, String(s[0]));
    return s[0] === this.badNode ? BAD : 0;
  }
  terminal(s: Uint32Array): number {
    Calls.bump(this.calls.terminal, String(s[0]));
    return s[0] === this.badEnd ? BAD_END : 0;
  }
}

/** Reference breadth-first search: distance of every node from node 0 (-1: unreachable). */
function distances(succ: number[][]): number[] {
  const dist = succ.map(() => -1);
  dist[0] = 0;
  const queue = [0];
  for (let h = 0; h < queue.length; h++) {
    const u = queue[h];
    for (const v of succ[u]) {
      if (dist[v] < 0) {
        dist[v] = dist[u] + 1;
        queue.push(v);
      }
    }
  }
  return dist;
}

/** Graphs of 1..60 nodes, 0..3 edges each (self-loops and duplicate edges allowed). */
const graphArb = fc
  .integer({ min: 1, max: 60 })
  .chain((m) => fc.array(fc.array(fc.nat(m - 1), { maxLength: 3 }), { minLength: m, maxLength: m }));

const keys = (m: Map<string, number>) => [...m.keys()].sort();
const ones = (m: Map<string, number>) => [...m.values()].every((c) => c === 1);

describe('explorer: reachable states', () => {
  test('BFS and DFS visit exactly the (n+1)(n+2)/2 reachable counter states, each once', () => {
    for (const strategy of ['bfs', 'dfs'] as const) {
      for (const n of [0, 1, 2, 5, 17, 40]) {
        const m = new Counters(n);
        const r = explore(m, opts({ strategy }));
        assert.deepEqual(r.outcome, { kind: 'holds' }, `${strategy} n=${n}`);
        assert.equal(r.distinct, m.reachable, `${strategy} n=${n}`);
        const expected: string[] = [];
        for (let a = 0; a <= n; a++) for (let b = 0; b <= a; b++) expected.push(`${a},${b}`);
        assert.deepEqual(keys(m.calls.enabled), expected.sort());
        assert.ok(ones(m.calls.enabled), 'every state is expanded once');
        assert.deepEqual(keys(m.calls.invariant), expected, 'invariant on every distinct state');
        assert.ok(ones(m.calls.invariant), 'invariant once per distinct state');
        // Every state but (n, n) has one successor per enabled action; generated counts them.
        const generated = expected.reduce((acc, k) => {
          const [a, b] = k.split(',').map(Number);
          return acc + (a < n ? 1 : 0) + (b < a ? 1 : 0);
        }, 0);
        assert.equal(r.generated, generated);
        assert.equal(m.calls.steps, generated);
        if (strategy === 'bfs') assert.equal(r.depth, 2 * n);
      }
    }
  });

  test('on random graphs, BFS and DFS find exactly the nodes a reference BFS reaches', () => {
    fc.assert(
      fc.property(graphArb, fc.constantFrom('bfs' as const, 'dfs' as const), (succ, strategy) => {
        const dist = distances(succ);
        const reach = succ.map((_, i) => i).filter((i) => dist[i] >= 0);
        const g = new Graph(succ);
        const r = explore(g, opts({ strategy }));
        assert.deepEqual(r.outcome, { kind: 'holds' });
        assert.equal(r.distinct, reach.length);
        assert.deepEqual(keys(g.calls.enabled), reach.map(String).sort());
        assert.ok(ones(g.calls.enabled));
        assert.equal(
          r.generated,
          reach.reduce((acc, u) => acc + succ[u].length, 0),
        );
        if (strategy === 'bfs') assert.equal(r.depth, Math.max(...dist));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('explorer: counterexamples', () => {
  test('BFS: the first invariant violation has a shortest path (counters, random n and bad state)', () => {
    const arb = fc.integer({ min: 0, max: 30 }).chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.integer({ min: 0, max: n }).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a }))),
      ),
    );
    fc.assert(
      fc.property(arb, ([n, [a, b]]) => {
        const m = new Counters(n);
        m.bad = [a, b];
        const r = explore(m, opts());
        assert.equal(r.outcome.kind, 'violated');
        if (r.outcome.kind !== 'violated') return;
        assert.equal(r.outcome.code, BAD);
        assert.equal(r.outcome.atTerminal, false);
        assert.equal(r.outcome.path.length, a + b, 'the shortest path to (a, b) has a + b steps');
        const { s } = walk(new Counters(n), r.outcome.path);
        assert.deepEqual([s[0], s[1]], [a, b], 'the path reaches the bad state');
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  test('BFS: an unreachable bad state gives holds over the whole space', () => {
    const m = new Counters(12);
    m.bad = [3, 4]; // b > a is never reached
    const r = explore(m, opts());
    assert.deepEqual(r.outcome, { kind: 'holds' });
    assert.equal(r.distinct, m.reachable);
  });

  test('BFS on random graphs: a bad node yields a path of exactly its reference distance', () => {
    fc.assert(
      fc.property(
        graphArb.chain((succ) => fc.tuple(fc.constant(succ), fc.nat(succ.length - 1))),
        ([succ, bad]) => {
          const dist = distances(succ);
          const g = new Graph(succ);
          g.badNode = bad;
          const r = explore(g, opts());
          if (dist[bad] < 0) {
            assert.deepEqual(r.outcome, { kind: 'holds' });
            return;
          }
          assert.equal(r.outcome.kind, 'violated');
          if (r.outcome.kind !== 'violated') return;
          assert.equal(r.outcome.path.length, dist[bad]);
          assert.equal(walk(new Graph(succ), r.outcome.path).s[0], bad);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('DFS finds a violation too, with a path that reaches the bad state (not necessarily shortest)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc
              .integer({ min: 0, max: n })
              .chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a }))),
          ),
        ),
        ([n, [a, b]]) => {
          const m = new Counters(n);
          m.bad = [a, b];
          const r = explore(m, opts({ strategy: 'dfs' }));
          assert.equal(r.outcome.kind, 'violated');
          if (r.outcome.kind !== 'violated') return;
          assert.equal(r.outcome.code, BAD);
          const { s } = walk(new Counters(n), r.outcome.path);
          assert.deepEqual([s[0], s[1]], [a, b]);
          assert.ok(r.outcome.path.length >= a + b);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    fc.assert(
      fc.property(
        graphArb.chain((succ) => fc.tuple(fc.constant(succ), fc.nat(succ.length - 1))),
        ([succ, bad]) => {
          const g = new Graph(succ);
          g.badNode = bad;
          const r = explore(g, opts({ strategy: 'dfs' }));
          if (distances(succ)[bad] < 0) {
            assert.deepEqual(r.outcome, { kind: 'holds' });
            return;
          }
          assert.equal(r.outcome.kind, 'violated');
          if (r.outcome.kind !== 'violated') return;
          assert.equal(walk(new Graph(succ), r.outcome.path).s[0], bad);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('a step-monitor violation reports the path up to and including the violating action', () => {
    // A reachable state other than (n, n) and one of its enabled actions.
    const arb = fc
      .integer({ min: 1, max: 25 })
      .chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc
            .integer({ min: 0, max: n })
            .chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a }))),
        ),
      )
      .chain(([n, [a, b0]]) => {
        const b = a === n && b0 === n ? n - 1 : b0;
        const actions = [...(a < n ? [0] : []), ...(b < a ? [1] : [])];
        return fc.tuple(
          fc.constant(n),
          fc.tuple(fc.constant(a), fc.constant(b), fc.constantFrom(...actions)),
        );
      });
    fc.assert(
      fc.property(arb, fc.constantFrom('bfs' as const, 'dfs' as const), ([n, [a, b, action]], strategy) => {
        const m = new Counters(n);
        m.badStep = { a, b, action };
        const r = explore(m, opts({ strategy }));
        assert.equal(r.outcome.kind, 'violated');
        if (r.outcome.kind !== 'violated') return;
        assert.equal(r.outcome.code, BAD_STEP);
        assert.equal(r.outcome.atTerminal, false);
        const path = r.outcome.path;
        assert.equal(path.at(-1), action, 'the path ends with the violating action');
        if (strategy === 'bfs')
          assert.equal(path.length, a + b + 1, 'shortest: a + b steps, then the action');
        const replayModel = new Counters(n);
        replayModel.badStep = { a, b, action };
        const before = walk(replayModel, path.slice(0, -1)).s;
        assert.deepEqual([before[0], before[1]], [a, b], 'the action is taken from the monitored state');
        const { codes } = walk(replayModel, path);
        assert.deepEqual(
          codes.map((c, i) => (c !== 0 ? i : -1)).filter((i) => i >= 0),
          [path.length - 1],
          'only the last step violates',
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('a step-monitor violation on an edge into an already-seen state still reports that edge', () => {
    // 0 -> 1 -> 2 and 0 -> 2: when node 1's edge to 2 is taken, node 2 is already known.
    const g = new Graph([[1, 2], [2], []]);
    g.badEdge = { from: 1, k: 0 };
    const r = explore(g, opts());
    assert.deepEqual(r.outcome, { kind: 'violated', code: BAD_STEP, path: [0, 0], atTerminal: false });
  });

  test('a violation in the initial state has an empty path', () => {
    const m = new Counters(3);
    m.bad = [0, 0];
    const r = explore(m, opts());
    assert.deepEqual(r.outcome, { kind: 'violated', code: BAD, path: [], atTerminal: false });
    assert.equal(r.distinct, 1);
  });
});

describe('explorer: terminal checks', () => {
  test('run exactly on the reachable states with no enabled action, once each', () => {
    fc.assert(
      fc.property(graphArb, fc.constantFrom('bfs' as const, 'dfs' as const), (succ, strategy) => {
        const dist = distances(succ);
        const ends = succ
          .map((_, i) => i)
          .filter((i) => dist[i] >= 0 && succ[i].length === 0)
          .map(String)
          .sort();
        const g = new Graph(succ);
        explore(g, opts({ strategy }));
        assert.deepEqual(keys(g.calls.terminal), ends);
        assert.ok(ones(g.calls.terminal));
      }),
      { seed: SEED, numRuns: 300 },
    );
    const m = new Counters(6);
    explore(m, opts());
    assert.deepEqual([...m.calls.terminal.entries()], [['6,6', 1]]);
  });

  test('a terminal violation is reported at the dead end, with atTerminal', () => {
    const m = new Counters(5);
    m.badEnd = true;
    const r = explore(m, opts());
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    assert.equal(r.outcome.code, BAD_END);
    assert.equal(r.outcome.atTerminal, true);
    assert.equal(r.outcome.path.length, 10);
    const { s } = walk(new Counters(5), r.outcome.path);
    assert.deepEqual([s[0], s[1]], [5, 5]);
  });

  test('BFS: a terminal violation shorter than an invariant violation is the one reported', () => {
    // 0 -> [2, 1]; 1 is a dead end whose terminal check fails (1 step); 2 -> 3, 3 is bad (2 steps).
    const g = new Graph([[2, 1], [], [3], []]);
    g.badNode = 3;
    g.badEnd = 1;
    const r = explore(g, opts());
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    assert.equal(r.outcome.path.length, 1);
  });
});

describe('explorer: bounds', () => {
  const nArb = fc.integer({ min: 2, max: 30 });

  test('maxStates below the reachable count gives incomplete(states), never holds; above it, holds', () => {
    fc.assert(
      fc.property(
        nArb.chain((n) => {
          const r = ((n + 1) * (n + 2)) / 2;
          return fc.tuple(
            fc.constant(n),
            fc.integer({ min: 1, max: r - 1 }),
            fc.integer({ min: r + 1, max: 4 * r }),
          );
        }),
        fc.constantFrom('bfs' as const, 'dfs' as const),
        ([n, below, above], strategy) => {
          const small = explore(new Counters(n), opts({ strategy, bounds: { ...WIDE, maxStates: below } }));
          assert.deepEqual(small.outcome, { kind: 'incomplete', reason: 'states' });
          assert.ok(
            small.distinct <= Math.max(below, 2),
            `stored ${small.distinct} with a bound of ${below}`,
          );
          const big = explore(new Counters(n), opts({ strategy, bounds: { ...WIDE, maxStates: above } }));
          assert.deepEqual(big.outcome, { kind: 'holds' });
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  test('maxDepth below the longest path gives incomplete(depth), never holds; at or above it, holds', () => {
    fc.assert(
      fc.property(
        nArb.chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: 2 * n - 1 }))),
        fc.constantFrom('bfs' as const, 'dfs' as const),
        ([n, d], strategy) => {
          const m = new Counters(n);
          const r = explore(m, opts({ strategy, bounds: { ...WIDE, maxDepth: d } }));
          assert.deepEqual(r.outcome, { kind: 'incomplete', reason: 'depth' });
          // No state deeper than the bound is reached through an expansion (a DFS discovery depth
          // is at least the distance a + b).
          for (const k of m.calls.enabled.keys()) {
            const [a, b] = k.split(',').map(Number);
            assert.ok(a + b <= d, `state ${k} is deeper than ${d}`);
          }
          const full = explore(new Counters(n), opts({ strategy, bounds: { ...WIDE, maxDepth: 2 * n } }));
          assert.deepEqual(full.outcome, { kind: 'holds' });
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  test('BFS with maxDepth: a bad state within the bound is found, one beyond it gives incomplete', () => {
    fc.assert(
      fc.property(
        nArb.chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc
              .integer({ min: 0, max: n })
              .chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a }))),
            fc.integer({ min: 1, max: 2 * n - 1 }),
          ),
        ),
        ([n, [a, b], d]) => {
          const m = new Counters(n);
          m.bad = [a, b];
          const r = explore(m, opts({ bounds: { ...WIDE, maxDepth: d } }));
          if (a + b <= d) assert.equal(r.outcome.kind, 'violated');
          else assert.deepEqual(r.outcome, { kind: 'incomplete', reason: 'depth' });
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  test('maxTime: a clock past the budget gives incomplete(time), never holds', () => {
    for (const strategy of ['bfs', 'dfs'] as const) {
      // The clock advances 1 ms per step the model takes: deterministic "time".
      const m = new Counters(60); // 1891 states, 3600 steps
      const r = explore(m, opts({ strategy, now: () => m.calls.steps, bounds: { ...WIDE, maxTimeMs: 500 } }));
      assert.deepEqual(r.outcome, { kind: 'incomplete', reason: 'time' }, strategy);
      assert.ok(r.elapsedMs > 500);
      assert.ok(r.distinct < m.reachable);
      const m2 = new Counters(60);
      const r2 = explore(
        m2,
        opts({ strategy, now: () => m2.calls.steps, bounds: { ...WIDE, maxTimeMs: 1e6 } }),
      );
      assert.deepEqual(r2.outcome, { kind: 'holds' }, strategy);
    }
    // A budget of 0 ms is already exceeded at the first poll.
    let t = 0;
    const r0 = explore(new Counters(3), opts({ now: () => t++, bounds: { ...WIDE, maxTimeMs: 0 } }));
    assert.deepEqual(r0.outcome, { kind: 'incomplete', reason: 'time' });
  });

  test('shouldStop gives incomplete(interrupted), never holds', () => {
    for (const strategy of ['bfs', 'dfs'] as const) {
      let polls = 0;
      const m = new Counters(60);
      const r = explore(m, opts({ strategy, shouldStop: () => ++polls >= 3 }));
      assert.deepEqual(r.outcome, { kind: 'incomplete', reason: 'interrupted' }, strategy);
      assert.equal(polls, 3);
      assert.ok(r.distinct < m.reachable);
      const now = explore(new Counters(60), opts({ strategy, shouldStop: () => true }));
      assert.deepEqual(now.outcome, { kind: 'incomplete', reason: 'interrupted' });
      assert.ok(now.distinct <= 3);
      const never = explore(new Counters(60), opts({ strategy, shouldStop: () => false }));
      assert.deepEqual(never.outcome, { kind: 'holds' });
    }
  });

  test('progress reports grow monotonically and stay within the final counts', () => {
    const m = new Counters(80);
    const seen: { distinct: number; states: number }[] = [];
    const r = explore(
      m,
      opts({ now: () => m.calls.steps, progressEveryMs: 100, onProgress: (p) => seen.push(p) }),
    );
    assert.deepEqual(r.outcome, { kind: 'holds' });
    assert.ok(seen.length > 3);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i].distinct >= seen[i - 1].distinct && seen[i].states >= seen[i - 1].states);
    }
    assert.ok(seen.at(-1)!.distinct <= r.distinct && seen.at(-1)!.states <= r.generated);
  });

  test('states are stored exactly (tree store, decision 0121): no collision to estimate', () => {
    const r = explore(new Counters(10), opts());
    assert.equal(r.distinct, 66);
    assert.equal(r.collisionProbability, 0);
  });
});
