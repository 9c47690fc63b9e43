/**
 * Reading pan's counts (src/bench/spin.ts): pan prints them with "%9.8g" (pan.c), so from 10^8 on
 * a count is in exponent form with 8 significant digits and equal to irqlab's only to half a unit
 * of its last digit. The 4-vCPU scaled scenario's 338,326,832 transitions print as
 * 3.3832683e+08: the comparison must call that the same state space, and a count one unit of the
 * last digit away a different one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { roundRatio, sameCount, spinCount } from '../../src/bench/spin.ts';

/** What C's printf("%.8g", v) prints for a whole number v (trailing zeros dropped). */
function percent8g(v: number): string {
  if (v < 1e8) return String(v);
  const [m, e] = v.toExponential(7).split('e');
  const exp = Number(e);
  const mant = m.replace(/\.?0+$/, '');
  return `${mant}e+${exp < 10 ? `0${exp}` : exp}`;
}

test('a whole count is exact', () => {
  assert.deepEqual(spinCount('5204920'), { value: 5_204_920, within: 0 });
  assert.ok(sameCount(5_204_919, 0, 5_204_919));
  assert.ok(!sameCount(5_204_919, 0, 5_204_920));
});

test('a count in exponent form is known to half a unit of its last digit', () => {
  const t = spinCount('3.3832683e+08');
  assert.equal(t.value, 338_326_830);
  assert.equal(t.within, 5);
  assert.ok(sameCount(t.value - 1, t.within, 338_326_831), 'the 4-vCPU scenario: same');
  assert.ok(!sameCount(t.value - 1, t.within, 338_326_831 + 10), 'a unit of the last digit away: not');
  // %g drops trailing zeros: "1e+08" is 1.0000000e+08, as precise as any other.
  assert.deepEqual(spinCount('1e+08'), { value: 1e8, within: 5 });
  assert.deepEqual(spinCount('1.2e+09'), { value: 1.2e9, within: 50 });
});

test('every count printed as %.8g reads back within its precision', () => {
  for (const v of [99_999_999, 100_000_000, 100_000_004, 338_326_832, 1_234_567_891, 68_570_818]) {
    const text = percent8g(v);
    const c = spinCount(text);
    assert.ok(Math.abs(c.value - v) <= c.within, `${v} printed as ${text}`);
  }
});

// The rounds of `bench check --spin` (decision 0259): a ratio is the median of each round's own.
test('a drift of the machine between rounds cancels out of the ratios by round', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.1, max: 10, noNaN: true }),
      fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: 1, maxLength: 9 }),
      (ratio, drift) => {
        // Both tools slowed alike in each round (the drift); one takes `ratio` times the other.
        const spin = drift.map((d) => 1.8 * d);
        const irqlab = spin.map((x) => ratio * x);
        const q = roundRatio(irqlab, spin);
        for (const v of [q.median, q.min, q.max]) assert.ok(Math.abs(v - ratio) <= 1e-9 * ratio);
      },
    ),
  );
});

test('the ratio by round is the lower middle of the rounds, with their range', () => {
  assert.deepEqual(roundRatio([2, 3, 10], [1, 1, 1]), { median: 3, min: 2, max: 10 });
  assert.deepEqual(roundRatio([2, 3, 10, 4], [1, 1, 1, 1]), { median: 3, min: 2, max: 10 });
  // Medians of the sides would say 3 / 2 = 1.5: the rounds say each run took twice the other's.
  assert.equal(roundRatio([2, 6, 4], [1, 3, 2]).median, 2);
});

test('a round whose pan took 0.00 s (GNU time counts hundredths) has no ratio', () => {
  assert.deepEqual(roundRatio([0.5, 0.6], [0, 0.01]), { median: 60, min: 60, max: 60 });
  assert.ok(Number.isNaN(roundRatio([0.5], [0]).median));
  assert.throws(() => roundRatio([1, 2], [1]));
});
