import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Stream } from '../../src/sim/random.ts';
import {
  confidenceInterval,
  LogHistogram,
  nearestRank,
  pairedDifference,
  tQuantile,
  Welford,
} from '../../src/sim/stats.ts';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tolerance ${tol})`);

test('t quantiles match the published table (NIST/SEMATECH e-Handbook 1.3.6.7.2, upper 0.025)', () => {
  // Critical values t(0.975, df) as printed to three decimals in the table.
  const table: [number, number][] = [
    [1, 12.706],
    [2, 4.303],
    [3, 3.182],
    [4, 2.776],
    [5, 2.571],
    [10, 2.228],
    [20, 2.086],
    [30, 2.042],
    [100, 1.984],
  ];
  for (const [df, t] of table) close(tQuantile(0.975, df), t, 0.0005, `df ${df}`);
  // Upper 0.05 column (one-sided 95%): df 1 6.314, df 10 1.812.
  close(tQuantile(0.95, 1), 6.314, 0.0005);
  close(tQuantile(0.95, 10), 1.812, 0.0005);
  // As df grows, t tends to the normal quantile 1.959964.
  close(tQuantile(0.975, 1e7), 1.959964, 1e-5);
  // Symmetry.
  close(tQuantile(0.025, 7), -tQuantile(0.975, 7), 1e-9);
  assert.throws(() => tQuantile(1, 3), RangeError);
  assert.throws(() => tQuantile(0.5, 0), RangeError);
});

test('Welford agrees with the two-pass mean and variance, and merging equals one pass', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 200 }),
      fc.nat(),
      (xs, cut) => {
        const w = new Welford();
        for (const x of xs) w.add(x);
        const m = xs.reduce((s, x) => s + x, 0) / xs.length;
        const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
        close(w.mean, m, 1e-6 * (1 + Math.abs(m)));
        close(w.variance, v, 1e-6 * (1 + v));
        const k = cut % xs.length;
        const a = new Welford();
        const b = new Welford();
        xs.slice(0, k).forEach((x) => {
          a.add(x);
        });
        xs.slice(k).forEach((x) => {
          b.add(x);
        });
        a.merge(b);
        assert.equal(a.n, xs.length);
        close(a.mean, m, 1e-6 * (1 + Math.abs(m)));
        close(a.variance, v, 1e-6 * (1 + v));
      },
    ),
  );
});

test('a worked paired difference: mean 0.125, t(0.975, 3) * s / sqrt(4)', () => {
  // d = [0.1, -0.1, 0.2, 0.3]: mean 0.125, sample variance 0.0875 / 3, so s = 0.170783 and
  // the half-width is 3.182446 * 0.170783 / 2 = 0.271752 (computed by hand from the definitions).
  const ci = pairedDifference([1, 2, 3, 4], [0.9, 2.1, 2.8, 3.7]);
  close(ci.mean, 0.125, 1e-12);
  close(ci.halfWidth, 0.271752, 1e-5);
  assert.equal(ci.n, 4);
  assert.throws(() => pairedDifference([1], [1, 2]), RangeError);
  assert.ok(Number.isNaN(confidenceInterval(new Welford()).halfWidth));
});

test('95% intervals cover the true mean about 95% of the time (uniform samples, fixed seed)', () => {
  const rng = new Stream(2026, 0, 0);
  const trials = 4000;
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const w = new Welford();
    for (let i = 0; i < 10; i++) w.add(rng.uniform());
    const ci = confidenceInterval(w);
    if (ci.lo <= 0.5 && 0.5 <= ci.hi) covered++;
  }
  // Binomial(4000, 0.95) has sd 0.0034: the band is about +-4 sd.
  const rate = covered / trials;
  assert.ok(rate > 0.935 && rate < 0.965, `coverage ${rate}`);
});

test('common random numbers: the paired CI is narrow where separate CIs overlap', () => {
  // Variant b costs 2% more than a on the same arrivals; replication-to-replication noise is 20%.
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 20; r++) {
    const s = new Stream(9, r, 0);
    let x = 0;
    for (let i = 0; i < 50; i++) x += s.exponential(100);
    a.push(x);
    b.push(x * 1.02);
  }
  const wa = new Welford();
  const wb = new Welford();
  a.forEach((x) => {
    wa.add(x);
  });
  b.forEach((x) => {
    wb.add(x);
  });
  const ca = confidenceInterval(wa);
  const cb = confidenceInterval(wb);
  assert.ok(ca.hi > cb.lo, 'the separate intervals overlap');
  const d = pairedDifference(b, a);
  assert.ok(d.lo > 0, `paired difference ${d.lo}..${d.hi} excludes 0`);
});

test('histogram percentiles of exponential latencies: within 1/32 above the exact nearest rank', () => {
  const rng = new Stream(11, 0, 0);
  const h = new LogHistogram();
  const xs: number[] = [];
  const mean = 4000;
  for (let i = 0; i < 200000; i++) {
    const x = rng.exponential(mean);
    h.record(x);
    xs.push(x);
  }
  xs.sort((p, q) => p - q);
  for (const q of [0.5, 0.9, 0.99, 0.999, 1]) {
    const exact = nearestRank(xs, q);
    const got = h.percentile(q);
    assert.ok(got >= exact, `p${q * 100}: ${got} below exact ${exact}`);
    assert.ok(got <= exact * (1 + 1 / LogHistogram.SUB), `p${q * 100}: ${got} vs ${exact}`);
  }
  assert.equal(h.percentile(1), xs[xs.length - 1]);
  assert.equal(h.max, xs[xs.length - 1]);
  // Against the distribution itself: median mean ln 2, p99 mean ln 100, mean.
  close(h.percentile(0.5) / (mean * Math.LN2), 1, 0.04, 'p50');
  close(h.percentile(0.99) / (mean * Math.log(100)), 1, 0.06, 'p99');
  close(h.mean / mean, 1, 0.01, 'mean');
});

test('histogram buckets: every value lies in its bucket; octaves sum to the count; merge adds', () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1e15, noNaN: true }), (v) => {
      const { lo, hi } = LogHistogram.bounds(LogHistogram.index(v));
      assert.ok(lo <= v && v < hi, `${v} not in [${lo}, ${hi})`);
      assert.ok(v < 1 || hi - lo <= v / LogHistogram.SUB + 1e-9);
    }),
  );
  const h = new LogHistogram();
  for (const v of [0.5, 3, 3, 1000, 1e6]) h.record(v);
  const oct = h.octaves();
  assert.equal(
    oct.reduce((s, b) => s + b.count, 0),
    5,
  );
  assert.deepEqual(oct[0], { lo: 0, hi: 1, count: 1 });
  const g = new LogHistogram();
  g.record(7);
  g.merge(h);
  assert.equal(g.count, 6);
  assert.equal(g.min, 0.5);
  assert.equal(g.max, 1e6);
  assert.throws(() => h.record(-1), RangeError);
  assert.ok(Number.isNaN(new LogHistogram().percentile(0.5)));
});
