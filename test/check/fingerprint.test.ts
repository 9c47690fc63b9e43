/**
 * 64-bit state fingerprints and the open-addressing set that stores them, against a Map as the
 * reference. Properties run with a fixed seed, so the suite is deterministic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  collisionProbability,
  FingerprintSet,
  fingerprint,
  fpHi,
  fpLo,
} from '../../src/check/fingerprint.ts';

const SEED = 0xf1f0;

function fp(s: Uint32Array, from = 0, n = s.length): bigint {
  fingerprint(s, from, n);
  return (BigInt(fpHi) << 32n) | BigInt(fpLo);
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/**
 * 64-bit keys as (hi, lo) lanes: full-range values, and small ones that crowd a few slots so that
 * probing runs long and wraps around. (0, 0) is the empty-slot marker, which fingerprint() never
 * produces, so it is not a key.
 */
const lane = fc.oneof(u32, fc.integer({ min: 0, max: 7 }), fc.constantFrom(0, 0xffffffff, 0x80000000));
const key = fc.tuple(lane, lane).filter(([h, l]) => h !== 0 || l !== 0);
const payload = fc.integer({ min: 0, max: 0x7fffffff });

describe('FingerprintSet', () => {
  test('findOrInsert agrees with a Map over random keys, through many growths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, payload), { maxLength: 600, size: 'max' }),
        fc.constantFrom(1, 2, 4, 16, 1 << 12),
        fc.nat(),
        (ops, cap, pick) => {
          // Repeat some earlier keys so that hits happen often, not only on random coincidences.
          const seq = ops.map(([k, p], i) =>
            i > 0 && (pick + i) % 3 === 0 ? ([ops[(pick * 7 + i) % i][0], p] as const) : ([k, p] as const),
          );
          const set = new FingerprintSet(cap);
          const ref = new Map<string, number>();
          for (const [[hi, lo], p] of seq) {
            const k = `${hi}:${lo}`;
            const expected = ref.has(k) ? ref.get(k)! : -1;
            assert.equal(set.findOrInsert(hi, lo, p), expected, `key ${k}`);
            if (expected === -1) ref.set(k, p);
            assert.equal(set.size, ref.size);
          }
          // Every key is still there with its first payload, and finding it inserts nothing.
          for (const [k, p] of ref) {
            const [hi, lo] = k.split(':').map(Number);
            assert.equal(set.findOrInsert(hi, lo, 0x7fffffff), p);
          }
          assert.equal(set.size, ref.size);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  test('100 000 distinct keys from a capacity of 1, payloads are the insertion indices', () => {
    const set = new FingerprintSet(1);
    const n = 100_000;
    // Distinct by construction: hi = i, lo a bijective scramble of i.
    for (let i = 0; i < n; i++) assert.equal(set.findOrInsert(i, Math.imul(i, 0x9e3779b1) >>> 0 || 1, i), -1);
    assert.equal(set.size, n);
    for (let i = 0; i < n; i++) {
      const got = set.findOrInsert(i, Math.imul(i, 0x9e3779b1) >>> 0 || 1, 0);
      if (got !== i) assert.fail(`key ${i}: payload ${got}`);
    }
    assert.equal(set.size, n);
  });

  test('keys that differ in one lane only are distinct', () => {
    const set = new FingerprintSet(4);
    assert.equal(set.findOrInsert(5, 9, 1), -1);
    assert.equal(set.findOrInsert(9, 5, 2), -1);
    assert.equal(set.findOrInsert(5, 10, 3), -1);
    assert.equal(set.findOrInsert(6, 9, 4), -1);
    assert.deepEqual(
      [
        set.findOrInsert(5, 9, 0),
        set.findOrInsert(9, 5, 0),
        set.findOrInsert(5, 10, 0),
        set.findOrInsert(6, 9, 0),
      ],
      [1, 2, 3, 4],
    );
  });
});

describe('fingerprint', () => {
  const state = fc.uint32Array({ minLength: 1, maxLength: 400, size: 'medium' });

  test('a change to any single word changes the fingerprint (3000 samples, no collision allowed)', () => {
    fc.assert(
      fc.property(state, fc.nat(), u32, (s, at, v) => {
        const i = at % s.length;
        const t = s.slice();
        t[i] = v === s[i] ? (v ^ (1 << (at % 32))) >>> 0 : v;
        assert.notEqual(fp(t), fp(s), `word ${i} of ${s.length}: ${s[i]} -> ${t[i]}`);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test('a single-bit flip changes the fingerprint, in every bit of a few words', () => {
    for (const len of [1, 2, 31, 90]) {
      const s = new Uint32Array(len).map((_, i) => Math.imul(i + 1, 0x2545f491) >>> 0);
      const base = fp(s);
      const seen = new Set<bigint>([base]);
      for (let i = 0; i < len; i++) {
        for (let b = 0; b < 32; b++) {
          const t = s.slice();
          t[i] ^= 1 << b;
          const f = fp(t);
          assert.ok(!seen.has(f), `len ${len}, word ${i}, bit ${b} collides`);
          seen.add(f);
        }
      }
    }
  });

  test('distinct random states of one length have distinct fingerprints (3000 samples)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }).chain((len) =>
          fc.uniqueArray(fc.uint32Array({ minLength: len, maxLength: len }), {
            minLength: 3000,
            maxLength: 3000,
            selector: (a) => Array.from(a).join(','),
          }),
        ),
        (states) => {
          const fps = new Set(states.map((s) => fp(s)));
          assert.equal(fps.size, states.length);
        },
      ),
      { seed: SEED, numRuns: 3 },
    );
  });

  test('sparse states (all zero but one small word) do not collide', () => {
    // The states a model packs are mostly zeros; each single non-zero word at each position.
    const fps = new Set<bigint>();
    const len = 64;
    for (let i = 0; i < len; i++) {
      for (let v = 0; v < 64; v++) {
        const s = new Uint32Array(len);
        s[i] = v;
        fps.add(fp(s));
      }
    }
    assert.equal(fps.size, len * 63 + 1); // the all-zero state appears once per position
  });

  test('deterministic, depends on the window only, never the empty marker', () => {
    fc.assert(
      fc.property(state, fc.nat(), fc.nat(), (s, a, b) => {
        const from = a % s.length;
        const n = b % (s.length - from + 1);
        const windowed = fp(s, from, n);
        assert.equal(fp(s.slice(from, from + n)), windowed);
        assert.equal(fp(s, from, n), windowed);
        assert.ok(fpHi !== 0 || fpLo !== 0);
      }),
      { seed: SEED, numRuns: 500 },
    );
    // The length takes part: [] and [0], [0] and [0, 0] differ.
    assert.notEqual(fp(new Uint32Array(0)), fp(new Uint32Array(1)));
    assert.notEqual(fp(new Uint32Array(1)), fp(new Uint32Array(2)));
  });

  test('collisionProbability is n(n-1)/2 over 2^64', () => {
    assert.equal(collisionProbability(1), 0);
    assert.equal(collisionProbability(2), 2 ** -64);
    assert.equal(collisionProbability(1_000_000), (1e6 * 999_999) / 2 / 2 ** 64);
  });
});
