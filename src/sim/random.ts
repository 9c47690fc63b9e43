/**
 * Seeded random numbers for the simulator: independent streams per replication and per source, so
 * that every variant of an experiment sees the same random numbers (common random numbers) and a
 * run is reproducible from its seed alone (docs/decisions/0151-random-streams.md).
 *
 * The generator is pure-rand's xoroshiro128+ (Blackman and Vigna), which advances in place and
 * allocates nothing per draw. A stream is named by (seed, replication, source):
 * - the replication's 128-bit state is the seed and the replication number mixed by MurmurHash3's
 *   32-bit finalizer (fmix32), so replication r needs no work proportional to r;
 * - source s of that replication is the replication's state advanced by s + 1 jumps of 2^64 draws
 *   (xoroshiro128+'s jump polynomial), so the sources of one replication never overlap.
 * A source is a fixed position in the workload (the i-th device, the IPI pattern, the scheduler...),
 * never the order in which events happen, so a variant that changes the order of events still
 * draws the same numbers for the same source.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** The largest source index a stream may have: one jump per source keeps this cheap. */
export const MAX_SOURCES = 1024;

/** MurmurHash3's 32-bit finalizer (Austin Appleby, public domain): a bijection with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * The four 32-bit words of a replication's starting state. Each word hashes all three inputs
 * with a different constant, so neighbouring seeds or replications start far apart.
 */
export function replicationState(seed: number, replication: number): [number, number, number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(replication) || replication < 0 || replication > 0xffffffff)
    throw new RangeError(`replication must be an integer 0..2^32-1, got ${replication}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  const words: [number, number, number, number] = [0, 0, 0, 0];
  let h = 0x9e3779b9;
  for (let i = 0; i < 4; i++) {
    h = fmix32(h ^ Math.imul(i + 1, 0x632be5ab));
    h = fmix32(h ^ lo);
    h = fmix32(h ^ hi);
    h = fmix32(h ^ replication);
    words[i] = h;
  }
  // xoroshiro128+ must not start from the all-zero state (it would stay there).
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1;
  return words;
}

/** One independent stream of uniform numbers. Drawing allocates nothing. */
export class Stream {
  private readonly g: JumpableRandomGenerator;

  constructor(seed: number, replication: number, source: number) {
    if (!Number.isInteger(source) || source < 0 || source >= MAX_SOURCES)
      throw new RangeError(`source must be an integer 0..${MAX_SOURCES - 1}, got ${source}`);
    this.g = xoroshiro128plusFromState(replicationState(seed, replication));
    for (let j = 0; j <= source; j++) this.g.jump();
  }

  /** Uniform on [0, 1), a multiple of 2^-53. */
  uniform(): number {
    return uniformFloat64(this.g);
  }

  /** Uniform on [a, b). */
  between(a: number, b: number): number {
    return a + (b - a) * uniformFloat64(this.g);
  }

  /** Exponential with the given mean (inverse transform: -mean * ln(1 - U), U in [0, 1)). */
  exponential(mean: number): number {
    return -mean * Math.log1p(-uniformFloat64(this.g));
  }

  /** An integer uniform on 0..n-1 (n <= 2^32), e.g. the target of a broadcast-free IPI. */
  below(n: number): number {
    return Math.floor(uniformFloat64(this.g) * n);
  }

  /** The generator's state, for a checkpoint in a trace header. */
  state(): readonly number[] {
    return this.g.getState();
  }
}

/**
 * When events of one source happen: each `next(t)` returns the time of the first event after an
 * event at t (or after the start, t = 0 for the first call). Implementations keep their state in
 * numbers and allocate nothing per call.
 */
export interface Arrivals {
  next(t: number): number;
}

/** Poisson arrivals: exponential gaps with the given mean (1 / rate). */
export class PoissonArrivals implements Arrivals {
  private readonly rng: Stream;
  private readonly meanGap: number;
  constructor(rng: Stream, meanGap: number) {
    this.rng = rng;
    this.meanGap = meanGap;
    if (!(meanGap > 0)) throw new RangeError(`mean gap must be positive, got ${meanGap}`);
  }
  next(t: number): number {
    return t + this.rng.exponential(this.meanGap);
  }
}

/**
 * Periodic arrivals with jitter: the k-th event is due at phase + k * period + J_k, J_k uniform on
 * [-jitter, +jitter]. The jitter does not accumulate (a timer's ticks stay on the grid), and events
 * keep their order because the jitter is at most half a period.
 */
export class PeriodicArrivals implements Arrivals {
  private k = 0;
  private readonly rng: Stream;
  private readonly period: number;
  private readonly jitter: number;
  private readonly phase: number;
  constructor(rng: Stream, period: number, jitter = 0, phase = 0) {
    this.rng = rng;
    this.period = period;
    this.jitter = jitter;
    this.phase = phase;
    if (!(period > 0)) throw new RangeError(`period must be positive, got ${period}`);
    if (!(jitter >= 0 && jitter <= period / 2))
      throw new RangeError(`jitter must be 0..period/2, got ${jitter} for period ${period}`);
  }
  next(_t: number): number {
    const base = this.phase + this.k * this.period;
    this.k++;
    const j = this.jitter === 0 ? 0 : this.rng.between(-this.jitter, this.jitter);
    return Math.max(0, base + j);
  }
}

/**
 * Bursty (on/off) arrivals: the source alternates between on periods (exponential, mean meanOn),
 * during which events are Poisson with mean gap meanGap, and silent off periods (exponential, mean
 * meanOff). An interrupted Poisson process, the usual model of a bursty device. The source starts in
 * an on period.
 */
export class BurstyArrivals implements Arrivals {
  private onUntil: number;
  private readonly rng: Stream;
  private readonly meanGap: number;
  private readonly meanOn: number;
  private readonly meanOff: number;
  constructor(rng: Stream, meanGap: number, meanOn: number, meanOff: number) {
    this.rng = rng;
    this.meanGap = meanGap;
    this.meanOn = meanOn;
    this.meanOff = meanOff;
    if (!(meanGap > 0 && meanOn > 0 && meanOff >= 0))
      throw new RangeError('bursty arrivals need meanGap > 0, meanOn > 0 and meanOff >= 0');
    this.onUntil = rng.exponential(meanOn);
  }
  next(t: number): number {
    let at = t + this.rng.exponential(this.meanGap);
    // Past the end of the on period: skip the off period and draw again from the next on period
    // (memorylessness makes the restart exact).
    while (at > this.onUntil) {
      const offEnd = this.onUntil + this.rng.exponential(this.meanOff);
      this.onUntil = offEnd + this.rng.exponential(this.meanOn);
      at = offEnd + this.rng.exponential(this.meanGap);
    }
    return at;
  }
}

/** Uniform gaps on [lo, hi). */
export class UniformArrivals implements Arrivals {
  private readonly rng: Stream;
  private readonly lo: number;
  private readonly hi: number;
  constructor(rng: Stream, lo: number, hi: number) {
    this.rng = rng;
    this.lo = lo;
    this.hi = hi;
    if (!(lo >= 0 && hi > lo)) throw new RangeError(`uniform gaps need 0 <= lo < hi, got ${lo}, ${hi}`);
  }
  next(t: number): number {
    return t + this.rng.between(this.lo, this.hi);
  }
}
