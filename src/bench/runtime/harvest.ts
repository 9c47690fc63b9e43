/**
 * Nanoseconds per PIR harvest for each algorithm and kernel, single-threaded (the PIR line stays
 * in this core's cache: this isolates the instruction cost, not the coherence traffic that the
 * delivery runs include), and the atomic operations each harvest performs.
 *
 * Each timed loop refills PIR with plain stores and harvests; a second loop only refills; the
 * difference divided by the iterations is the harvest's cost (median over the samples).
 */
import {
  createPirHarvester,
  HARVEST_ALGORITHMS,
  HARVEST_KERNELS,
  type HarvestAlgorithm,
  type HarvestKernel,
  PiChannel,
  type PirHarvester,
  popcount32,
} from '../../runtime/index.ts';

export interface HarvestFill {
  /** How the row is labelled. */
  readonly label: string;
  /** The 32-bit PIR words that hold one pending vector each. */
  readonly words: readonly number[];
}

/**
 * 0, 1, 4 and all 8 32-bit words non-empty. Four words come twice: spread over the four 64-bit
 * words (the "one IRQ in each chunk" worst case of seed 000 patch 5/8) and packed into two.
 */
export const HARVEST_FILLS: readonly HarvestFill[] = [
  { label: '0', words: [] },
  { label: '1', words: [7] },
  { label: '4 spread', words: [0, 2, 4, 6] },
  { label: '4 packed', words: [0, 1, 2, 3] },
  { label: '8', words: [0, 1, 2, 3, 4, 5, 6, 7] },
];

export interface HarvestFigures {
  readonly algorithm: HarvestAlgorithm;
  readonly kernel: HarvestKernel;
  readonly fill: string;
  /** Non-empty 32-bit words. */
  readonly nonEmptyWords: number;
  readonly nsPerHarvest: number;
  /** Atomic loads and xchgs one harvest of this fill performs. */
  readonly loads: number;
  readonly xchgs: number;
}

let sink = 0;

function timeHarvest(h: PirHarvester, pir: Uint32Array, pat: Uint32Array, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < 8; i++) pir[i] = pat[i];
    sink ^= h.harvest();
  }
  return Number(process.hrtime.bigint() - t0);
}

function timeRefill(pir: Uint32Array, pat: Uint32Array, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < 8; i++) pir[i] = pat[i];
    sink ^= pir[k & 7];
  }
  return Number(process.hrtime.bigint() - t0);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Measures every algorithm x kernel x fill; `iterations` harvests per sample, `samples` samples (odd). */
export function measureHarvests(iterations: number, samples: number): HarvestFigures[] {
  const out: HarvestFigures[] = [];
  for (const algorithm of HARVEST_ALGORITHMS) {
    for (const kernel of HARVEST_KERNELS) {
      const ch = PiChannel.create();
      const h = createPirHarvester(ch.buffer, ch.memory, ch.byteOffset, algorithm, kernel);
      const pir = new Uint32Array(ch.buffer, ch.byteOffset, 8);
      for (const fill of HARVEST_FILLS) {
        const pat = new Uint32Array(8);
        for (const w of fill.words) pat[w] = 1 << (3 + w);
        pir.set(pat);
        const xchgs = popcount32(h.harvest());
        // Warm up (JIT), then time the two loops back to back in each sample and keep the
        // median of the differences: a burst of load from elsewhere on the machine then spoils
        // one pair, not the figure.
        timeHarvest(h, pir, pat, iterations);
        timeRefill(pir, pat, iterations);
        const diffs: number[] = [];
        for (let s = 0; s < samples; s++) {
          const a = timeHarvest(h, pir, pat, iterations);
          diffs.push(a - timeRefill(pir, pat, iterations));
        }
        out.push({
          algorithm,
          kernel,
          fill: fill.label,
          nonEmptyWords: fill.words.length,
          nsPerHarvest: Math.max(0, median(diffs) / iterations),
          loads: h.loadsPerHarvest,
          xchgs,
        });
      }
    }
  }
  if (sink === 0.5) process.stdout.write('');
  return out;
}
