/**
 * The parallel search's root table (src/check/shared-table.ts) as two threads see it: two views
 * of one table that take state numbers in blocks, give back the rest of a block (holes) and grow.
 * Against a Map of the tuples: every tuple keeps one entry seen alike from both views, `stored`
 * counts the tuples and not the holes, and a growth places every tuple and no hole (neither the
 * holes' tuple nor an unwritten one of zeros). A level's pair table likewise: every pair keeps its
 * entry through the growths, which re-place the keys from the old slots (no entry is read).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SharedPairTable, SharedRootTable } from '../../src/check/shared-table.ts';

// Node numbers from 1: the tuple of zeros is never interned, so finding it would be a hole's.
const tuple = fc.tuple(
  fc.integer({ min: 1, max: 40 }),
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 3 }),
);

test('two views of the root table: one entry per tuple, holes uncounted, growth keeps them', () => {
  fc.assert(
    fc.property(
      // Long enough for the table (1,024 slots to begin with) to grow during the steps; a block
      // given back at one step in 20, as a thread does at a park or a level's end.
      fc.array(
        fc.tuple(
          fc.boolean(),
          tuple,
          fc.nat(19).map((k) => k === 0),
        ),
        { minLength: 1000, maxLength: 3000 },
      ),
      (steps) => {
        const h = SharedRootTable.create(2);
        const views = [new SharedRootTable(h), new SharedRootTable(h)];
        let full = false;
        for (const v of views) v.onFull = () => (full = true);
        const entry = new Map<string, number>();
        for (const [which, [a, b, c, d], release] of steps) {
          const v = views[which ? 1 : 0];
          const e = v.intern(a, b, c, d);
          const k = `${a},${b},${c},${d}`;
          assert.equal(v.lastAdded, !entry.has(k));
          if (entry.has(k)) assert.equal(e, entry.get(k));
          else entry.set(k, e);
          if (release) v.release();
          if (full) {
            // What parallel.ts does at a park: every thread gives its block back, one grows.
            for (const w of views) w.release();
            views[0].grow();
            views[1].refresh();
            full = false;
          }
        }
        for (const v of views) v.release();
        assert.equal(views[0].stored, entry.size);
        assert.ok(views[0].size >= entry.size);
        for (const [k, e] of entry) {
          const [a, b, c, d] = k.split(',').map(Number);
          for (const v of views) assert.equal(v.find(a, b, c, d), e);
        }
        // A growth after holes: every tuple found again, the holes' tuple nowhere.
        views[0].grow();
        views[1].refresh();
        for (const [k, e] of entry) {
          const [a, b, c, d] = k.split(',').map(Number);
          assert.equal(views[1].find(a, b, c, d), e);
        }
        assert.equal(views[1].find(-1, -1, -1, -1), -1);
        assert.equal(views[1].find(0, 0, 0, 0), -1);
      },
    ),
    // No shrinking: a failure of thousands of steps takes minutes to shrink, and the seed replays it.
    { seed: 0x5ba7e, numRuns: 60, endOnFailure: true },
  );
});

test('two views of a pair table: one entry per pair, in order, kept by every growth', () => {
  fc.assert(
    fc.property(
      // At least 1,200 steps over 2,400 pairs: the table (1,024 slots to begin with) grows at least
      // once.
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 59 }), fc.integer({ min: -3, max: 36 })), {
        minLength: 1200,
        maxLength: 2400,
      }),
      (steps) => {
        const h = SharedPairTable.create(4);
        const views = [new SharedPairTable(h), new SharedPairTable(h)];
        let full = false;
        let grown = 0;
        for (const v of views) v.onFull = () => (full = true);
        const entry = new Map<string, number>();
        for (const [which, a, b] of steps) {
          const v = views[which ? 1 : 0];
          const e = v.intern(a, b);
          const k = `${a},${b}`;
          assert.equal(v.lastAdded, !entry.has(k));
          // Entries are numbered in insertion order.
          if (entry.has(k)) assert.equal(e, entry.get(k));
          else {
            assert.equal(e, entry.size);
            entry.set(k, e);
          }
          if (full) {
            views[grown++ % 2].grow();
            for (const w of views) w.refresh();
            full = false;
          }
        }
        assert.ok(grown > 0, 'the table grew');
        assert.equal(views[0].stored, entry.size);
        for (const [k, e] of entry) {
          const [a, b] = k.split(',').map(Number);
          for (const v of views) {
            assert.equal(v.find(a, b), e);
            assert.equal(v.left(e), a);
            assert.equal(v.right(e), b);
          }
        }
        assert.equal(views[0].find(100, 0), -1);
      },
    ),
    // No shrinking: a failure of thousands of steps takes minutes to shrink, and the seed replays it.
    { seed: 0x9a17, numRuns: 40, endOnFailure: true },
  );
});
