/**
 * Statistics of a simulation experiment (docs/sim.md, "Statistics"):
 * - Welford's running mean and variance, one per measured quantity and replication;
 * - Student t 95% confidence intervals across replications (the replications are independent
 *   streams, so their means are independent and, by the central limit theorem, close to normal);
 * - the paired difference between two variants run on common random numbers: replication i of
 *   both variants saw the same arrivals, so the differences d_i = a_i - b_i are independent and
 *   their CI is usually much narrower than the two separate CIs suggest;
 * - a log-linear histogram of latencies with p50, p99 and the exact max.
 * Recording allocates nothing; summaries allocate their small result objects.
 */
import jStat from 'jstat';

/** Running mean and variance (Welford 1962; the update in Knuth TAOCP vol. 2, 4.2.2). */
export class Welford {
  n = 0;
  mean = 0;
  private m2 = 0;

  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }

  /** The sample variance (divisor n - 1); NaN below two values. */
  get variance(): number {
    return this.n < 2 ? Number.NaN : this.m2 / (this.n - 1);
  }

  get sd(): number {
    return Math.sqrt(this.variance);
  }

  /** Adds another accumulator's values (Chan, Golub and LeVeque's pairwise combination). */
  merge(o: Welford): void {
    if (o.n === 0) return;
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.mean += (d * o.n) / n;
    this.n = n;
  }
}

/** The p-quantile of Student's t distribution with df degrees of freedom (jstat's inverse CDF). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  return jStat.studentt.inv(p, df);
}

export interface Interval {
  n: number;
  mean: number;
  /** Half the width of the interval: the mean is mean ± halfWidth. NaN below two values. */
  halfWidth: number;
  lo: number;
  hi: number;
}

/** The two-sided confidence interval of the mean of the values in w (default 95%). */
export function confidenceInterval(w: Welford, level = 0.95): Interval {
  const half = w.n < 2 ? Number.NaN : tQuantile(1 - (1 - level) / 2, w.n - 1) * Math.sqrt(w.variance / w.n);
  return { n: w.n, mean: w.mean, halfWidth: half, lo: w.mean - half, hi: w.mean + half };
}

/**
 * The confidence interval of the mean difference a_i - b_i between two variants' replication
 * results, paired by replication (common random numbers).
 */
export function pairedDifference(a: readonly number[], b: readonly number[], level = 0.95): Interval {
  if (a.length !== b.length)
    throw new RangeError(`paired samples need equal lengths, got ${a.length} and ${b.length}`);
  const w = new Welford();
  for (let i = 0; i < a.length; i++) w.add(a[i] - b[i]);
  return confidenceInterval(w, level);
}

/** The nearest-rank q-quantile (0 < q <= 1) of sorted values: the smallest v with F(v) >= q. */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const k = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[k - 1];
}

/**
 * A histogram with logarithmic octaves, each split into SUB equal linear buckets (the layout of
 * HdrHistogram), so a bucket's width is at most 1/SUB of its values: a percentile read from it is
 * within a relative error of 1/SUB above the true nearest-rank value (docs/decisions/0153-
 * statistics.md). Values below 1 share bucket 0 (a latency below one cycle). Recording is O(1) and
 * allocates nothing; min, max, count and sum are exact.
 */
export class LogHistogram {
  static readonly SUB = 32;
  /** Octaves 2^0 .. 2^63: far beyond any simulated latency in cycles. */
  static readonly OCTAVES = 64;
  readonly counts = new Float64Array(1 + LogHistogram.OCTAVES * LogHistogram.SUB);
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  /** The bucket of a value. */
  static index(v: number): number {
    if (!(v >= 1)) return 0;
    let e = Math.floor(Math.log2(v));
    // Math.log2 may round across a power of two; correct it exactly.
    if (2 ** e > v) e--;
    else if (2 ** (e + 1) <= v) e++;
    if (e >= LogHistogram.OCTAVES) return LogHistogram.OCTAVES * LogHistogram.SUB;
    const sub = Math.floor((v / 2 ** e - 1) * LogHistogram.SUB);
    return 1 + e * LogHistogram.SUB + sub;
  }

  /** The half-open value range [lo, hi) of bucket i. */
  static bounds(i: number): { lo: number; hi: number } {
    if (i === 0) return { lo: 0, hi: 1 };
    const e = Math.floor((i - 1) / LogHistogram.SUB);
    const sub = (i - 1) % LogHistogram.SUB;
    const w = 2 ** e / LogHistogram.SUB;
    return { lo: 2 ** e + sub * w, hi: 2 ** e + (sub + 1) * w };
  }

  record(v: number): void {
    if (Number.isNaN(v) || v < 0) throw new RangeError(`latency must be a non-negative number, got ${v}`);
    this.counts[LogHistogram.index(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  /**
   * The nearest-rank q-quantile, read as the upper edge of its bucket, clamped to [min, max]: never
   * below the true value, and above it by at most 1/SUB of it.
   */
  percentile(q: number): number {
    if (this.count === 0) return Number.NaN;
    if (!(q > 0 && q <= 1)) throw new RangeError(`q must be in (0, 1], got ${q}`);
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, LogHistogram.bounds(i).hi));
    }
    return this.max;
  }

  merge(o: LogHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += o.counts[i];
    this.count += o.count;
    this.sum += o.sum;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }

  /** Counts per octave [2^e, 2^(e+1)), from the first non-empty to the last: the printed histogram. */
  octaves(): { lo: number; hi: number; count: number }[] {
    const out: { lo: number; hi: number; count: number }[] = [];
    if (this.counts[0] > 0) out.push({ lo: 0, hi: 1, count: this.counts[0] });
    for (let e = 0; e < LogHistogram.OCTAVES; e++) {
      let c = 0;
      for (let s = 0; s < LogHistogram.SUB; s++) c += this.counts[1 + e * LogHistogram.SUB + s];
      out.push({ lo: 2 ** e, hi: 2 ** (e + 1), count: c });
    }
    let first = out.findIndex((b) => b.count > 0);
    let last = out.length - 1;
    while (last >= 0 && out[last].count === 0) last--;
    if (first < 0) first = 0;
    return out.slice(first, last + 1);
  }
}
