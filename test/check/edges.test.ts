/**
 * The exact cycle test of edges.ts against a reference written here: on a random graph, the states
 * on a cycle are those that reach themselves again in one step or more (plain reachability), and
 * the cyclic part is every state reachable from one of them. Then through the explorer: a model
 * with obligations whose graph is acyclic (with merges of paths of different lengths, which the old
 * heuristic took for a possible cycle) never has its fair-cycle phase run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cyclicPart, EdgeLog } from '../../src/check/edges.ts';
import { type CheckModel, explore } from '../../src/check/explorer.ts';

const SEED = 0xc1c1e;

/** Graphs of 1..50 nodes, 0..3 edges each (self-loops and duplicate edges allowed). */
const graphArb = fc
  .integer({ min: 1, max: 50 })
  .chain((m) => fc.array(fc.array(fc.nat(m - 1), { maxLength: 3 }), { minLength: m, maxLength: m }));

function reachableFrom(succ: number[][], from: number[]): Set<number> {
  const seen = new Set<number>(from);
  const stack = [...from];
  while (stack.length > 0) {
    for (const w of succ[stack.pop()!]) {
      if (seen.has(w)) continue;
      seen.add(w);
      stack.push(w);
    }
  }
  return seen;
}

describe('edges: exact cycle test', () => {
  test('the cyclic part is exactly the states reachable from a state on a cycle', () => {
    fc.assert(
      fc.property(graphArb, (succ) => {
        const log = new EdgeLog();
        for (const l of succ) {
          log.begin();
          for (const w of l) log.add(w);
        }
        const onCycle = succ.map((_, v) => reachableFrom(succ, succ[v]).has(v));
        const expect = reachableFrom(
          succ,
          succ.map((_, v) => v).filter((v) => onCycle[v]),
        );
        const part = cyclicPart(log, succ.length);
        if (expect.size === 0) assert.equal(part, null);
        else {
          assert.ok(part !== null);
          assert.deepEqual(
            succ.map((_, v) => part[v] === 1),
            succ.map((_, v) => expect.has(v)),
          );
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  test('a self-loop is a cycle', () => {
    const log = new EdgeLog();
    log.begin();
    log.add(1);
    log.begin();
    log.add(1);
    assert.deepEqual(Array.from(cyclicPart(log, 2)!), [0, 1]);
  });
});

/**
 * A diamond of paths of different lengths: 0 -> 1 -> 2 -> 3 and 0 -> 3 directly, so BFS meets 3
 * from 2 after it was stored at depth 1 (an edge that does not go deeper), and no cycle. Every
 * state has an obligation that is ready: if the fair-cycle phase ran it would call `pending`.
 */
class Diamond implements CheckModel {
  readonly words = 1;
  readonly maxActions = 2;
  readonly livenessCode = 13;
  pendingCalls = 0;
  readonly back: boolean;
  constructor(back: boolean) {
    this.back = back;
  }
  init(s: Uint32Array): void {
    s[0] = 0;
  }
  enabled(s: Uint32Array, out: Int32Array): number {
    if (s[0] === 0) {
      out[0] = 0;
      out[1] = 1;
      return 2;
    }
    if (s[0] < 3 || this.back) {
      out[0] = 0;
      return 1;
    }
    return 0;
  }
  step(s: Uint32Array, a: number): number {
    s[0] = s[0] === 0 && a === 1 ? 3 : s[0] === 3 ? 1 : s[0] + 1;
    return 0;
  }
  invariant(): number {
    return 0;
  }
  terminal(): number {
    return 0;
  }
  pending(): number {
    this.pendingCalls++;
    return 1;
  }
  ready(): number {
    return 1;
  }
}

describe('explorer: the fair-cycle phase runs only where a cycle exists', () => {
  const opts = {
    strategy: 'bfs' as const,
    bounds: { maxStates: 100, maxDepth: 100, maxTimeMs: 1e9 },
    now: () => 0,
  };
  test('acyclic with merges of different lengths: holds, and pending is never asked', () => {
    const m = new Diamond(false);
    const r = explore(m, opts);
    assert.equal(r.outcome.kind, 'holds');
    assert.equal(r.distinct, 4);
    assert.equal(m.pendingCalls, 0);
  });
  test('the same graph with 3 -> 1: the cycle 1 -> 2 -> 3 -> 1 is found as a lasso', () => {
    const m = new Diamond(true);
    const r = explore(m, opts);
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind === 'violated') {
      assert.equal(r.outcome.code, 13);
      assert.deepEqual(r.outcome.path.slice(r.outcome.loopStart), [0, 0, 0]);
    }
    // Only the three states of the cycle are asked (state 0 is on no cycle).
    assert.equal(m.pendingCalls, 3);
  });
});
