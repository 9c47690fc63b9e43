import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  newReg,
  regClear,
  regCount,
  regEmpty,
  regHighest,
  regMerge,
  regSet,
  regTest,
  regTestAndSet,
  regVectors,
  word64,
  word64Empty,
} from '../../../src/model/hw/bits.ts';

const vec = fc.integer({ min: 0, max: 255 });

test('set, test, clear and highest agree with a reference set', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(vec, { maxLength: 40 }),
      fc.uniqueArray(vec, { maxLength: 20 }),
      (set, clr) => {
        const r = newReg(set);
        for (const v of clr) regClear(r, 0, v);
        const ref = set.filter((v) => !clr.includes(v)).sort((a, b) => a - b);
        assert.deepEqual(regVectors(r, 0), ref);
        assert.equal(regHighest(r, 0), ref.length ? ref[ref.length - 1] : -1);
        assert.equal(regEmpty(r, 0), ref.length === 0);
        assert.equal(regCount(r, 0), ref.length);
      },
    ),
  );
});

test('the 8x32 and 4x64 views are the same bits', () => {
  fc.assert(
    fc.property(fc.uniqueArray(vec, { maxLength: 40 }), (set) => {
      const r = newReg(set);
      for (let j = 0; j < 4; j++) {
        let ref = 0n;
        for (const v of set) if (v >> 6 === j) ref |= 1n << BigInt(v & 63);
        assert.equal(word64(r, 0, j), ref);
        assert.equal(word64Empty(r, 0, j), ref === 0n);
      }
    }),
  );
});

test('test-and-set returns the old bit; merge is a union', () => {
  const r = newReg([0x31]);
  assert.equal(regTestAndSet(r, 0, 0x31), true);
  assert.equal(regTestAndSet(r, 0, 0xff), false);
  assert.equal(regTest(r, 0, 0xff), true);
  const d = newReg([0x20]);
  regMerge(d, 0, r, 0);
  assert.deepEqual(regVectors(d, 0), [0x20, 0x31, 0xff]);
  regSet(d, 0, 0);
  assert.equal(regHighest(d, 0), 0xff);
});
