/**
 * The lock-order and deadlock properties (src/model/kvm/locks.ts) on small lock graphs whose
 * answers follow from the graphs themselves: opposite orders of two locks can deadlock; the same
 * opposite orders under a common outer lock cannot, yet lockdep still reports the cycle; one order
 * everywhere is clean; three actors in a ring deadlock in three steps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { lockOrderCycle } from '../../src/check/lock-order.ts';
import { cycleIn, cycleThrough } from '../../src/model/kvm/locks.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { check } from './support.ts';

/** A scenario whose actors only take and release locks: each actor is a list like "A B -B -A". */
function lockScenario(actors: Record<string, string>) {
  const sc = {
    name: 'locks',
    description: 'lock graph',
    source: 'test',
    machine: { pcpus: 1, vcpus: [{}] },
    actors: Object.entries(actors).map(([name, ops]) => ({
      name,
      steps: ops
        .split(' ')
        .map((op) => (op.startsWith('-') ? { do: 'unlock', lock: op.slice(1) } : { do: 'lock', lock: op })),
    })),
  };
  return parseScenarioText(JSON.stringify(sc), 'locks.json');
}

function verdict(actors: Record<string, string>, props: string[]): string {
  const r = check(buildModel(lockScenario(actors), DEFAULT_VARIANT, props));
  const o = r.outcome;
  return o.kind === 'violated' ? `${PROP_INFO[o.code].name} after ${o.path.length}` : o.kind;
}

const ABBA = { t1: 'A B -B -A', t2: 'B A -A -B' };
const GATED = { t1: 'G A B -B -A -G', t2: 'G B A -A -B -G' };
const SAME_ORDER = { t1: 'A B -B -A', t2: 'A B -B -A' };
const RING = { t1: 'A B -B -A', t2: 'B C -C -B', t3: 'C A -A -C' };
const ONE_ACTOR = { t1: 'A B -B -A B A -A -B' };

describe('deadlock', () => {
  test('A->B against B->A deadlocks after each actor took its first lock: 2 steps', () => {
    assert.equal(verdict(ABBA, ['deadlock']), 'deadlock after 2');
  });
  test('the same two orders under a common outer lock G never deadlock', () => {
    assert.equal(verdict(GATED, ['deadlock']), 'holds');
  });
  test('one order everywhere never deadlocks', () => {
    assert.equal(verdict(SAME_ORDER, ['deadlock']), 'holds');
  });
  test('a ring of three actors deadlocks after each took its first lock: 3 steps', () => {
    assert.equal(verdict(RING, ['deadlock']), 'deadlock after 3');
  });
  test('one actor alone cannot deadlock, whatever its orders', () => {
    assert.equal(verdict(ONE_ACTOR, ['deadlock']), 'holds');
  });
});

describe('lock-order', () => {
  test('A->B against B->A: a cycle once both orders ran, 6 steps (take A, B, release both, take B, A)', () => {
    assert.equal(verdict(ABBA, ['lock-order']), 'lock-order after 6');
  });
  test('under the outer lock G too, although no schedule deadlocks: 9 steps', () => {
    // One actor takes G, A, B and releases all three (6 steps) before the other can take G; the
    // other then takes G, B, A (3 more), and the cycle closes at its A: step 9.
    const r = check(buildModel(lockScenario(GATED), DEFAULT_VARIANT, ['lock-order']));
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    assert.equal(r.outcome.path.length, 9);
    const m = buildModel(lockScenario(GATED), DEFAULT_VARIANT, ['lock-order']);
    const cycle = lockOrderCycle(m, r.outcome.path);
    assert.deepEqual(
      cycle.map((e) => `${e.actor}: ${e.held}@${e.heldAt} -> ${e.taken}@${e.takenAt}`).sort(),
      ['t1: A@2 -> B@3', 't2: B@8 -> A@9'],
    );
  });
  test('one order everywhere has no cycle', () => {
    assert.equal(verdict(SAME_ORDER, ['lock-order']), 'holds');
  });
  test('a ring of three: the cycle has three edges, one per actor', () => {
    const sc = lockScenario(RING);
    const r = check(buildModel(sc, DEFAULT_VARIANT, ['lock-order']));
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    const cycle = lockOrderCycle(buildModel(sc, DEFAULT_VARIANT, ['lock-order']), r.outcome.path);
    assert.deepEqual(cycle.map((e) => `${e.held}->${e.taken}`).sort(), ['A->B', 'B->C', 'C->A']);
    assert.deepEqual(cycle.map((e) => e.actor).sort(), ['t1', 't2', 't3']);
  });
  test('one actor taking A->B and later B->A: a cycle (as lockdep reports), 6 steps', () => {
    assert.equal(verdict(ONE_ACTOR, ['lock-order']), 'lock-order after 6');
  });
  test('with both properties the deadlock of A->B against B->A is the shorter counterexample', () => {
    assert.equal(verdict(ABBA, ['deadlock', 'lock-order']), 'deadlock after 2');
  });
});

describe('cycleIn', () => {
  /** Brute force: some lock reaches itself through one or more edges. */
  function hasCycle(edges: number, n: number): boolean {
    for (let s = 0; s < n; s++) {
      let reach = 0;
      let frontier = 1 << s;
      for (let k = 0; k < n; k++) {
        let next = 0;
        for (let i = 0; i < n; i++)
          if ((frontier >>> i) & 1)
            for (let j = 0; j < n; j++) if ((edges >>> (i * n + j)) & 1) next |= 1 << j;
        reach |= next;
        frontier = next;
      }
      if ((reach >>> s) & 1) return true;
    }
    return false;
  }

  test('finds a lock on a cycle exactly when the graph has one, and cycleThrough follows edges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.nat(), (n, bits) => {
        const edges = (bits & (n * n === 32 ? 0xffffffff : (1 << (n * n)) - 1)) >>> 0;
        const x = cycleIn(edges, n);
        assert.equal(x >= 0, hasCycle(edges, n));
        if (x < 0) return;
        const c = cycleThrough(edges, n, x);
        assert.ok(c.length >= 1 && c[0] === x);
        c.forEach((from, j) => {
          const to = c[(j + 1) % c.length];
          assert.equal((edges >>> (from * n + to)) & 1, 1, `edge ${from}->${to}`);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
