/**
 * The SIMD comparison of the tree store's two rows (src/check/state-diff.wat): for rows of any
 * width, whatever words differ and by how much (a single bit, the sign bit, the whole word), `diff`
 * lists exactly the differing indices, in increasing order, against a plain loop over the words.
 * And the committed state-diff.wasm is what the .wat assembles to.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { assembleWatFile, STATE_DIFF_WASM, STATE_DIFF_WAT } from '../../scripts/build-wasm.ts';
import { StateRows } from '../../src/check/state-diff.ts';

const SEED = 0xd1ff;

const word = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffffffff }));

/** A change to a word: a new value, one bit flipped, or the sign bit flipped. */
const change = fc.oneof(
  word.map((v) => (_: number) => v),
  fc.integer({ min: 0, max: 31 }).map((b) => (x: number) => (x ^ (1 << b)) >>> 0),
  fc.constant((x: number) => (x ^ 0x80000000) >>> 0),
);

const caseArb = fc.integer({ min: 1, max: 80 }).chain((w) =>
  fc.record({
    w: fc.constant(w),
    cur: fc.array(word, { minLength: w, maxLength: w }),
    changes: fc.array(fc.tuple(fc.nat(w - 1), change), { maxLength: 12 }),
  }),
);

describe('state diff', () => {
  test('lists exactly the words where next differs from cur, in increasing order', () => {
    fc.assert(
      fc.property(caseArb, ({ w, cur, changes }) => {
        const rows = new StateRows(w);
        rows.cur.set(cur);
        rows.next.set(cur);
        for (const [k, f] of changes) rows.next[k] = f(rows.next[k]);
        const want: number[] = [];
        for (let k = 0; k < w; k++) if (rows.next[k] !== rows.cur[k]) want.push(k);
        const n = rows.diff();
        assert.deepEqual([...rows.dirty.subarray(0, n)], want);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('rows wider than a page of memory, and the last word alone', () => {
    const w = 40_000;
    const rows = new StateRows(w);
    for (let k = 0; k < w; k++) rows.cur[k] = rows.next[k] = k * 2654435761;
    assert.equal(rows.diff(), 0);
    rows.next[w - 1] ^= 1;
    rows.next[0] ^= 0x80000000;
    const n = rows.diff();
    assert.deepEqual([...rows.dirty.subarray(0, n)], [0, w - 1]);
  });

  test('src/check/state-diff.wasm matches a fresh assembly of state-diff.wat', async () => {
    const fresh = await assembleWatFile(STATE_DIFF_WAT);
    const committed = new Uint8Array(await readFile(STATE_DIFF_WASM));
    assert.deepEqual(committed, fresh, 'bytes differ: run npm run build:wasm');
  });
});
