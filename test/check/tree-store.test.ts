/**
 * The tree store against a plain Map of state keys: random walks over states of random widths
 * (1 to 40 words, values from a small alphabet so that subtrees repeat, and from the whole 32-bit
 * range), stepping `next` in place as the explorer does. Every state gets the index the Map gives
 * it, `load` brings back exactly the stored words in any order, `find` agrees without storing,
 * and `path` follows the recorded parents.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SharedPairTable, SharedRootTable } from '../../src/check/shared-table.ts';
import { levelLengths, type SharedTrees, TreeStore } from '../../src/check/tree-store.ts';

const SEED = 0x7ee5;

const word = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffffffff }));

const caseArb = fc.integer({ min: 1, max: 40 }).chain((w) =>
  fc.record({
    w: fc.constant(w),
    init: fc.array(word, { minLength: w, maxLength: w }),
    // Each move: which stored state to expand (a fraction of the count), and the words it writes.
    moves: fc.array(
      fc.record({
        from: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        writes: fc.array(fc.tuple(fc.nat(w - 1), word), { maxLength: 4 }),
      }),
      { maxLength: 200 },
    ),
  }),
);

describe('tree store', () => {
  test('indices, load, find and path agree with a Map of the states', () => {
    fc.assert(
      fc.property(caseArb, ({ w, init, moves }) => {
        const st = new TreeStore(w);
        const byKey = new Map<string, number>();
        const states: number[][] = [];
        st.init(Uint32Array.from(init));
        byKey.set(init.join(','), 0);
        states.push(init);
        const parents = [-1];
        const actionOf = [-1];
        for (const [k, m] of moves.entries()) {
          const from = Math.floor(m.from * states.length);
          st.load(from);
          assert.deepEqual(Array.from(st.cur), states[from]);
          assert.deepEqual(Array.from(st.next), states[from]);
          st.fresh();
          for (const [i, v] of m.writes) st.next[i] = v;
          const succ = Array.from(st.next);
          const key = succ.join(',');
          const found = st.lookup();
          assert.equal(found, byKey.get(key) ?? -1);
          assert.equal(st.find(st.next), found);
          if (found < 0) {
            const j = st.insert(from, k, 0);
            assert.equal(j, states.length);
            byKey.set(key, j);
            states.push(succ);
            parents.push(from);
            actionOf.push(k);
          }
        }
        assert.equal(st.count, states.length);
        // Load every state, in reverse order, and once more at random.
        for (let i = states.length - 1; i >= 0; i--) {
          st.load(i);
          assert.deepEqual(Array.from(st.cur), states[i]);
          assert.equal(st.find(Uint32Array.from(states[i])), i);
        }
        const last = states.length - 1;
        const path: number[] = [];
        for (let j = last; parents[j] >= 0; j = parents[j]) path.push(actionOf[j]);
        assert.deepEqual(st.path(last), path.reverse());
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  // The root table starts at 4,096 slots and grows at 3/4 load: 20,000 states make it grow three
  // times (the random walk above stays far below), and every state keeps its index.
  test('20,000 states through the root table growth keep their indices', () => {
    const w = 9;
    const st = new TreeStore(w);
    st.init(new Uint32Array(w));
    const keys = new Map<string, number>([[new Uint32Array(w).join(','), 0]]);
    let x = 1;
    for (let k = 0; k < 20_000; k++) {
      st.load(0);
      st.fresh();
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
      st.next[x % w] = k + 1;
      st.next[(x >>> 8) % w] = x & 7;
      const key = st.next.join(',');
      const found = st.lookup();
      assert.equal(found, keys.get(key) ?? -1);
      if (found < 0) keys.set(key, st.insert(0, k, 1));
    }
    assert.ok(st.count > 12_288, `${st.count} states: past three growths`);
    for (const [key, i] of keys) {
      st.load(i);
      assert.equal(st.cur.join(','), key);
      assert.equal(st.find(Uint32Array.from(key.split(',').map(Number))), i);
    }
  });

  test('a state never stored is not found', () => {
    const st = new TreeStore(5);
    st.init(Uint32Array.from([1, 2, 3, 4, 5]));
    assert.equal(st.find(Uint32Array.from([1, 2, 3, 4, 6])), -1);
    assert.equal(st.find(Uint32Array.from([1, 2, 3, 4, 5])), 0);
  });
});

// A helper thread of the parallel search opens the shared store when it starts and sets up the
// initial state only when it joins its first level; the other threads may have grown the tables
// in between. Setting up with the masks of its start probed the wrong slots: the helper failed
// with "shared table: full (a growth was missed)" when it started with the search (session 10).
test('a store opened on shared tables before they grew sets up the initial state as stored', () => {
  const W = 64;
  const len = levelLengths(W);
  const trees: SharedTrees = {
    levels: len.map((n, l) => SharedPairTable.create(l === 0 ? 1 : 2 * n)),
    root: SharedRootTable.create(2),
  };
  const a = new TreeStore(W, trees);
  const b = new TreeStore(W, trees); // the helper: opened now, set up later
  const init = new Uint32Array(W);
  assert.equal(a.init(init), 0);
  // Thousands of states through the first store, growing the tables as parallel.ts's park does.
  let grew = 0;
  for (let k = 1; k <= 5000; k++) {
    a.fresh();
    a.next[k % W] = k;
    a.next[(7 * k) % W] = k >>> 3;
    a.intern();
    for (const t of a.sharedTables())
      if (t.needsGrowth()) {
        a.releaseNumbers();
        t.grow();
        grew++;
      }
  }
  a.releaseNumbers();
  assert.ok(grew >= 3, `the tables grew ${grew} times`);
  const sizes = a.sharedTables().map((t) => t.size);
  assert.equal(b.init(init), 0, 'the initial state keeps its index');
  assert.deepEqual(
    b.sharedTables().map((t) => t.size),
    sizes,
    'no node of the initial state is stored again',
  );
});
