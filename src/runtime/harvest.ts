/**
 * PIR harvesting: take every pending bit out of the 256-bit PIR with atomic exchanges, so that a
 * bit set by a poster is returned by exactly one harvest.
 *
 * Two algorithms, after seed 000 ("x86/irq: KVM: Optimize KVM's PIR harvesting", Sean
 * Christopherson, 2025) and the posted-MSI demultiplexer it copied (Jacob Pan, "Coalesced
 * Interrupt Delivery with posted MSI", 2024):
 *
 * - `u32-interleaved`: for each of the 8 32-bit words, load it and, if it is non-zero, xchg it
 *   with zero. This is how `__kvm_apic_update_irr` walked PIR before the series: 8 loads and up
 *   to 8 xchgs, loads and read-modify-writes alternating on the same cache line.
 * - `u64-loads-then-xchg`: load all four 64-bit words first, return early when all are zero, then
 *   xchg only the non-zero words (`pi_harvest_pir` after patches 2, 5, 6 and 8): 4 loads and up to
 *   4 xchgs, pure loads grouped before the RMWs. The series argues that grouping keeps the line's
 *   coherence state stable (shared for the loads, then modified for the xchgs) instead of
 *   bouncing between the two.
 *
 * Each runs on two kernels: `js` (Atomics on typed arrays over the SharedArrayBuffer; the 64-bit
 * words go through a BigInt64Array) and `wasm` (harvest.wat on i32/i64 atomics in a shared
 * WebAssembly.Memory). Both write the harvested words into the channel's scratch area and return
 * the mask of words they exchanged; 0 means PIR was empty.
 *
 * Why a word loaded as zero may be skipped: only the consumer clears PIR bits, so a word can only
 * gain bits between the load and the xchg; a bit that arrives after the load is left for the
 * next harvest, which the poster's ON transition (or the posted-MSI loop's final harvest)
 * guarantees.
 */
import { readFileSync } from 'node:fs';
import { NR_PIR_WORDS32, NR_PIR_WORDS64, OFF_PIR, OFF_SCRATCH } from './layout.ts';
import { Wasm, type WasmMemory, type WasmModule } from './wasm-api.ts';

/** A harvest algorithm; see the module comment. */
export type HarvestAlgorithm = 'u32-interleaved' | 'u64-loads-then-xchg';
/** Where the harvest runs: JS Atomics or the WebAssembly kernel. */
export type HarvestKernel = 'js' | 'wasm';

/** Every harvest algorithm, in the order benchmarks and tests list them. */
export const HARVEST_ALGORITHMS: readonly HarvestAlgorithm[] = ['u32-interleaved', 'u64-loads-then-xchg'];
/** Every harvest kernel. */
export const HARVEST_KERNELS: readonly HarvestKernel[] = ['js', 'wasm'];

/** Checks an algorithm name given at run time (from JS, a CLI flag or a config file). */
export function checkHarvestAlgorithm(value: unknown, what = 'algorithm'): HarvestAlgorithm {
  if (typeof value === 'string' && (HARVEST_ALGORITHMS as readonly string[]).includes(value)) {
    return value as HarvestAlgorithm;
  }
  throw new TypeError(
    `${what}: unknown harvest algorithm ${JSON.stringify(value)} (expected ${HARVEST_ALGORITHMS.join(' | ')})`,
  );
}

/** Checks a kernel name given at run time. */
export function checkHarvestKernel(value: unknown, what = 'kernel'): HarvestKernel {
  if (typeof value === 'string' && (HARVEST_KERNELS as readonly string[]).includes(value)) {
    return value as HarvestKernel;
  }
  throw new TypeError(
    `${what}: unknown harvest kernel ${JSON.stringify(value)} (expected ${HARVEST_KERNELS.join(' | ')})`,
  );
}

/** Atomic loads one harvest performs: 8 for `u32-interleaved`, 4 for `u64-loads-then-xchg`. */
export function harvestLoads(algorithm: HarvestAlgorithm): number {
  return algorithm === 'u32-interleaved' ? NR_PIR_WORDS32 : NR_PIR_WORDS64;
}

/** Number of set bits in a word mask, i.e. the xchgs a harvest that returned `mask` performed. */
export function popcount32(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m !== 0; m &= m - 1) n++;
  return n;
}

/**
 * `u32-interleaved` on JS Atomics. `pir[p .. p+7]` is the PIR, `out[o .. o+7]` receives the
 * harvested words (zero where nothing was taken). Returns the mask of 32-bit words exchanged.
 */
export function harvestU32Interleaved(pir: Uint32Array, p: number, out: Uint32Array, o: number): number {
  let mask = 0;
  for (let i = 0; i < NR_PIR_WORDS32; i++) {
    let w = Atomics.load(pir, p + i);
    if (w !== 0) {
      w = Atomics.exchange(pir, p + i, 0);
      mask |= 1 << i;
    }
    out[o + i] = w;
  }
  return mask;
}

/**
 * `u64-loads-then-xchg` on JS Atomics over 64-bit words. `pir[p .. p+3]` is the PIR; `out[o ..
 * o+3]` receives the harvested words, written only when something was pending. Returns the mask
 * of 64-bit words exchanged (0: all four loads saw zero, and nothing was written).
 */
export function harvestU64LoadsThenXchg(
  pir: BigInt64Array,
  p: number,
  out: BigInt64Array,
  o: number,
): number {
  // All pure loads first (patch 6/8), then the early return (patch 2/8).
  const w0 = Atomics.load(pir, p);
  const w1 = Atomics.load(pir, p + 1);
  const w2 = Atomics.load(pir, p + 2);
  const w3 = Atomics.load(pir, p + 3);
  if (w0 === 0n && w1 === 0n && w2 === 0n && w3 === 0n) return 0;
  let mask = 0;
  if (w0 !== 0n) {
    out[o] = Atomics.exchange(pir, p, 0n);
    mask |= 1;
  } else out[o] = 0n;
  if (w1 !== 0n) {
    out[o + 1] = Atomics.exchange(pir, p + 1, 0n);
    mask |= 2;
  } else out[o + 1] = 0n;
  if (w2 !== 0n) {
    out[o + 2] = Atomics.exchange(pir, p + 2, 0n);
    mask |= 4;
  } else out[o + 2] = 0n;
  if (w3 !== 0n) {
    out[o + 3] = Atomics.exchange(pir, p + 3, 0n);
    mask |= 8;
  } else out[o + 3] = 0n;
  return mask;
}

/** The exports of harvest.wat. Addresses are byte offsets into the shared memory. */
export interface HarvestWasmExports {
  harvest_u32(pir: number, out: number): number;
  harvest_u64(pir: number, out: number): number;
}

let wasmModule: WasmModule | undefined;
const wasmInstances = new WeakMap<WasmMemory, HarvestWasmExports>();

/** The compiled harvest.wasm (compiled once per thread, on first use). */
export function harvestWasmModule(): WasmModule {
  if (wasmModule === undefined) {
    // Synchronous compile is fine in Node for a module of a few hundred bytes, and it keeps
    // the consumer API synchronous (Atomics.wait consumers never await).
    wasmModule = new Wasm.Module(readFileSync(new URL('./harvest.wasm', import.meta.url)));
  }
  return wasmModule;
}

/** The wasm kernel bound to `memory` (one instance per memory per thread). */
export function harvestWasm(memory: WasmMemory): HarvestWasmExports {
  let inst = wasmInstances.get(memory);
  if (inst === undefined) {
    const instance = new Wasm.Instance(harvestWasmModule(), { env: { memory } });
    inst = instance.exports as unknown as HarvestWasmExports;
    wasmInstances.set(memory, inst);
  }
  return inst;
}

/** One algorithm on one kernel, bound to one channel's PIR and scratch area. */
export interface PirHarvester {
  readonly algorithm: HarvestAlgorithm;
  readonly kernel: HarvestKernel;
  /** Atomic loads per harvest (constant); the xchgs are `popcount32(harvest())`. */
  readonly loadsPerHarvest: number;
  /**
   * The harvested PIR as 8 x u32 (vector v in bit v & 31 of word v >> 5). Valid after a harvest
   * that returned a non-zero mask; a view of the channel's scratch area.
   */
  readonly words: Uint32Array;
  /** Harvests PIR into `words`; returns the mask of words exchanged (0: PIR was empty). */
  harvest(): number;
}

/**
 * Binds an algorithm and kernel to the channel at byte offset `base` of `buffer`. The wasm kernel
 * needs the WebAssembly.Memory that owns `buffer`.
 */
export function createPirHarvester(
  buffer: SharedArrayBuffer,
  memory: WasmMemory | null,
  base: number,
  algorithm: HarvestAlgorithm,
  kernel: HarvestKernel,
): PirHarvester {
  checkHarvestAlgorithm(algorithm);
  checkHarvestKernel(kernel);
  const words = new Uint32Array(buffer, base + OFF_SCRATCH, NR_PIR_WORDS32);
  const loadsPerHarvest = harvestLoads(algorithm);
  let harvest: () => number;
  if (kernel === 'wasm') {
    if (memory === null) {
      throw new TypeError(
        "kernel: 'wasm' needs a channel in a WebAssembly.Memory (create it with PiChannel.create)",
      );
    }
    const wasm = harvestWasm(memory);
    const pirAddr = base + OFF_PIR;
    const outAddr = base + OFF_SCRATCH;
    harvest =
      algorithm === 'u32-interleaved'
        ? () => wasm.harvest_u32(pirAddr, outAddr)
        : () => wasm.harvest_u64(pirAddr, outAddr);
  } else if (algorithm === 'u32-interleaved') {
    const pir = new Uint32Array(buffer, base + OFF_PIR, NR_PIR_WORDS32);
    harvest = () => harvestU32Interleaved(pir, 0, words, 0);
  } else {
    const pir = new BigInt64Array(buffer, base + OFF_PIR, NR_PIR_WORDS64);
    const out = new BigInt64Array(buffer, base + OFF_SCRATCH, NR_PIR_WORDS64);
    harvest = () => harvestU64LoadsThenXchg(pir, 0, out, 0);
  }
  return { algorithm, kernel, loadsPerHarvest, words, harvest };
}
