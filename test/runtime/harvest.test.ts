/**
 * Single-threaded tests of the harvest algorithms on both kernels: every set of pending vectors is
 * returned exactly once, in priority order, with the atomic-operation counts of seed 000.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  createPirHarvester,
  HARVEST_ALGORITHMS,
  HARVEST_KERNELS,
  type HarvestAlgorithm,
  type HarvestKernel,
  harvestLoads,
  harvestU32Interleaved,
  harvestU64LoadsThenXchg,
  PiChannel,
  popcount32,
} from '../../src/runtime/index.ts';

const vectors = fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 64 });
const combos: [HarvestAlgorithm, HarvestKernel][] = HARVEST_ALGORITHMS.flatMap((a) =>
  HARVEST_KERNELS.map((k): [HarvestAlgorithm, HarvestKernel] => [a, k]),
);

function wordsOf(set: readonly number[]): number[] {
  const w = new Array<number>(8).fill(0);
  for (const v of set) w[v >> 5] = (w[v >> 5] | (1 << (v & 31))) >>> 0;
  return w;
}

/** Expected xchgs: non-empty 32-bit words, or non-empty 64-bit words. */
function expectedXchgs(algorithm: HarvestAlgorithm, set: readonly number[]): number {
  const shift = algorithm === 'u32-interleaved' ? 5 : 6;
  return new Set(set.map((v) => v >> shift)).size;
}

for (const [algorithm, kernel] of combos) {
  test(`${algorithm}/${kernel}: a harvest returns exactly the pending vectors and empties PIR`, () => {
    fc.assert(
      fc.property(vectors, (set) => {
        const ch = PiChannel.create();
        const h = createPirHarvester(ch.buffer, ch.memory, ch.byteOffset, algorithm, kernel);
        for (const v of set) ch.post(v);
        const mask = h.harvest();
        assert.equal(mask !== 0, set.length > 0);
        if (mask !== 0) assert.deepEqual(Array.from(h.words), wordsOf(set));
        assert.equal(popcount32(mask), expectedXchgs(algorithm, set));
        assert.equal(h.loadsPerHarvest, harvestLoads(algorithm));
        assert.deepEqual(ch.snapshot().pir, []);
        assert.equal(h.harvest(), 0, 'a second harvest finds nothing');
      }),
    );
  });

  test(`${algorithm}/${kernel}: the consumer hands each vector out once, highest first`, () => {
    fc.assert(
      fc.property(vectors, (set) => {
        const ch = PiChannel.create();
        const got: number[] = [];
        const c = ch.consumer({ handler: (v, n) => got.push(n === 1 ? v : -1), algorithm, kernel });
        for (const v of set) ch.post(v);
        assert.equal(c.poll(), set.length > 0);
        assert.deepEqual(
          got,
          [...set].sort((a, b) => b - a),
        );
        assert.equal(c.poll(), false);
      }),
    );
  });
}

test('atomic operations per harvest: u32 = 8 loads + one xchg per non-empty 32-bit word; u64 = 4 + one per 64-bit word', () => {
  const cases: { set: number[]; u32: number; u64: number }[] = [
    { set: [], u32: 0, u64: 0 },
    { set: [255], u32: 1, u64: 1 },
    { set: [0, 64, 128, 192], u32: 4, u64: 4 },
    { set: [0, 32, 64, 96], u32: 4, u64: 2 },
    { set: [0, 32, 64, 96, 128, 160, 192, 224], u32: 8, u64: 4 },
  ];
  for (const { set, u32, u64 } of cases) {
    for (const [algorithm, kernel] of combos) {
      const ch = PiChannel.create();
      // One harvest per wake-up (coalescingLoops 1), so the stats count exactly one harvest.
      const c = ch.consumer({ handler: () => {}, algorithm, kernel, coalescingLoops: 1 });
      for (const v of set) ch.post(v);
      c.drain();
      const s = c.stats;
      assert.equal(s.harvests, set.length === 0 ? 1 : 2, 'drain harvests until one comes back empty');
      assert.equal(s.atomicLoads, s.harvests * (algorithm === 'u32-interleaved' ? 8 : 4));
      assert.equal(s.atomicXchgs, algorithm === 'u32-interleaved' ? u32 : u64, `${algorithm} [${set}]`);
    }
  }
});

test('js and wasm kernels agree on random PIR contents', () => {
  fc.assert(
    fc.property(vectors, (set) => {
      const results = combos.map(([algorithm, kernel]) => {
        const ch = PiChannel.create();
        const h = createPirHarvester(ch.buffer, ch.memory, ch.byteOffset, algorithm, kernel);
        for (const v of set) ch.post(v);
        return h.harvest() === 0 ? null : Array.from(h.words);
      });
      for (const r of results) assert.deepEqual(r, results[0]);
    }),
  );
});

test('the exported JS kernels work on any shared typed arrays', () => {
  const sab = new SharedArrayBuffer(64);
  const pir32 = new Uint32Array(sab, 0, 8);
  const out32 = new Uint32Array(8);
  pir32[2] = 0x80000001;
  pir32[7] = 4;
  assert.equal(harvestU32Interleaved(pir32, 0, out32, 0), 0b10000100);
  assert.deepEqual(Array.from(out32), [0, 0, 0x80000001, 0, 0, 0, 0, 4]);
  assert.deepEqual(Array.from(pir32), [0, 0, 0, 0, 0, 0, 0, 0]);

  const pir64 = new BigInt64Array(sab, 0, 4);
  const out64 = new BigInt64Array(4);
  pir64[3] = -1n;
  assert.equal(harvestU64LoadsThenXchg(pir64, 0, out64, 0), 0b1000);
  assert.deepEqual(Array.from(out64), [0n, 0n, 0n, -1n]);
  assert.equal(harvestU64LoadsThenXchg(pir64, 0, out64, 0), 0, 'all four loads zero: early return');
});
