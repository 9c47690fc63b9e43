import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BurstyArrivals,
  PeriodicArrivals,
  PoissonArrivals,
  replicationState,
  Stream,
  UniformArrivals,
} from '../../src/sim/random.ts';

function draws(s: Stream, n: number): number[] {
  return Array.from({ length: n }, () => s.uniform());
}

test('a stream is a function of (seed, replication, source)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 20 }),
      (seed, r, s) => {
        assert.deepEqual(draws(new Stream(seed, r, s), 8), draws(new Stream(seed, r, s), 8));
      },
    ),
    { numRuns: 50 },
  );
});

test('different seeds, replications and sources give different streams', () => {
  const base = draws(new Stream(1, 0, 0), 4);
  assert.notDeepEqual(draws(new Stream(2, 0, 0), 4), base);
  assert.notDeepEqual(draws(new Stream(1, 1, 0), 4), base);
  assert.notDeepEqual(draws(new Stream(1, 0, 1), 4), base);
  // Seeds above 2^32 are not truncated to their low word.
  assert.notDeepEqual(replicationState(2 ** 32 + 1, 0), replicationState(1, 0));
});

test('streams of neighbouring seeds are uncorrelated (sample correlation near 0)', () => {
  const n = 20000;
  const a = draws(new Stream(41, 0, 0), n);
  const b = draws(new Stream(42, 0, 0), n);
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / n;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  const r = sab / Math.sqrt(saa * sbb);
  // For independent streams r is about N(0, 1/n): |r| < 4/sqrt(n) = 0.028 almost surely.
  assert.ok(Math.abs(r) < 4 / Math.sqrt(n), `correlation ${r}`);
  // Uniform on [0, 1): mean 1/2 within 4 standard errors (sd 1/sqrt(12)).
  assert.ok(Math.abs(ma - 0.5) < 4 / Math.sqrt(12 * n));
});

test('bad stream coordinates are refused', () => {
  assert.throws(() => new Stream(-1, 0, 0), RangeError);
  assert.throws(() => new Stream(1.5, 0, 0), RangeError);
  assert.throws(() => new Stream(1, -1, 0), RangeError);
  assert.throws(() => new Stream(1, 0, 5000), RangeError);
});

test('Poisson arrivals: mean gap and the exponential quantiles at a fixed seed', () => {
  const n = 100000;
  const mean = 250;
  const p = new PoissonArrivals(new Stream(7, 0, 3), mean);
  const gaps: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    const u = p.next(t);
    gaps.push(u - t);
    t = u;
  }
  const m = gaps.reduce((s, g) => s + g, 0) / n;
  // The sample mean of n exponentials has standard error mean/sqrt(n) = 0.79: 1% is > 3 SE.
  assert.ok(Math.abs(m - mean) / mean < 0.01, `mean ${m}`);
  gaps.sort((x, y) => x - y);
  // Exponential quantiles: q(p) = -mean ln(1 - p): median mean ln 2, p99 mean ln 100.
  const q = (pr: number) => gaps[Math.floor(pr * n)];
  assert.ok(Math.abs(q(0.5) / (mean * Math.LN2) - 1) < 0.02, `p50 ${q(0.5)}`);
  assert.ok(Math.abs(q(0.99) / (mean * Math.log(100)) - 1) < 0.05, `p99 ${q(0.99)}`);
  assert.ok(gaps[0] >= 0);
});

test('periodic arrivals stay on their grid within the jitter', () => {
  const a = new PeriodicArrivals(new Stream(1, 0, 0), 1000, 50, 10);
  let t = 0;
  let sawJitter = false;
  for (let k = 0; k < 1000; k++) {
    const u = a.next(t);
    const off = u - (10 + k * 1000);
    assert.ok(Math.abs(off) <= 50, `tick ${k} off by ${off}`);
    if (off !== 0) sawJitter = true;
    assert.ok(u > t || k === 0);
    t = u;
  }
  assert.ok(sawJitter);
  const exact = new PeriodicArrivals(new Stream(1, 0, 0), 100);
  assert.deepEqual([exact.next(0), exact.next(0), exact.next(0)], [0, 100, 200]);
  assert.throws(() => new PeriodicArrivals(new Stream(1, 0, 0), 100, 60), RangeError);
});

test('bursty arrivals: long-run rate is rate * on / (on + off), and gaps come in bursts', () => {
  const meanGap = 10;
  const meanOn = 1000;
  const meanOff = 3000;
  const a = new BurstyArrivals(new Stream(3, 0, 0), meanGap, meanOn, meanOff);
  const horizon = 2e7;
  let t = 0;
  let n = 0;
  let long = 0;
  while (true) {
    const u = a.next(t);
    if (u > horizon) break;
    if (u - t > 10 * meanGap) long++;
    t = u;
    n++;
  }
  const rate = n / horizon;
  const want = (1 / meanGap) * (meanOn / (meanOn + meanOff));
  // About 5,000 on/off cycles: the count's relative error is a few percent.
  assert.ok(Math.abs(rate / want - 1) < 0.08, `rate ${rate} want ${want}`);
  // Off periods show up as long gaps: about one per cycle (horizon / (on + off) = 5000).
  assert.ok(long > 3000 && long < 7000, `long gaps ${long}`);
});

test('uniform gaps lie in [lo, hi) with mean (lo + hi) / 2', () => {
  const a = new UniformArrivals(new Stream(5, 2, 1), 100, 300);
  let t = 0;
  let sum = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const u = a.next(t);
    const g = u - t;
    assert.ok(g >= 100 && g < 300);
    sum += g;
    t = u;
  }
  // sd of a gap is 200/sqrt(12) = 57.7; SE of the mean 0.41: 2 is ~5 SE.
  assert.ok(Math.abs(sum / n - 200) < 2);
});
