/**
 * The word-by-word PIR harvest (src/model/kvm/harvest.ts), run alone on arbitrary PIR contents:
 * what it takes, what it leaves, how many loads and exchanges it makes, and where it goes when PIR
 * is empty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { emitPirHarvest, type HarvestShape, harvestCost } from '../../../src/model/kvm/harvest.ts';
import { ACTOR, NEXT, ProgramBuilder } from '../../../src/model/kvm/program.ts';
import { KNOBS } from '../../../src/model/kvm/variants.ts';
import { NULL_SINK } from '../../../src/model/platform/events.ts';
import type { World } from '../../../src/model/platform/world.ts';

const SHAPES: readonly HarvestShape[] = KNOBS.harvest;
const pirWords = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })), {
  minLength: 8,
  maxLength: 8,
});

/** Runs the harvest on `words`; returns what `take` got per 32-bit word, the end state and the end pc. */
function run(shape: HarvestShape, words: readonly number[]) {
  const b = new ProgramBuilder();
  const taken = new Uint32Array(8);
  const emptyMark = 'empty';
  emitPirHarvest(b, {
    fn: 'test',
    shape,
    pir: () => 0,
    take: (_w, _a, i, v) => {
      taken[i] |= v;
    },
    empty: b.target(emptyMark),
  });
  const end = b.code.length;
  b.step('test', 'after', () => NEXT);
  b.mark(emptyMark);
  const code = b.build();
  const a = 8;
  const m = new Uint32Array(a + ACTOR.SIZE);
  m.set(words);
  const w = { m } as World;
  let pc = 0;
  while (pc !== end && pc < code.length) {
    const next = code[pc].exec(w, a, NULL_SINK);
    pc = next === NEXT ? pc + 1 : next;
  }
  return { taken, m, a, emptyExit: pc !== end };
}

describe('PIR harvest', () => {
  for (const shape of SHAPES) {
    test(`${shape}: takes every bit, leaves PIR zero and the locals clear; empty exit only for an empty PIR`, () => {
      fc.assert(
        fc.property(pirWords, (words) => {
          const r = run(shape, words);
          assert.deepEqual(
            Array.from(r.taken),
            words.map((x) => x >>> 0),
          );
          assert.deepEqual(Array.from(r.m.subarray(0, 8)), [0, 0, 0, 0, 0, 0, 0, 0]);
          assert.equal(r.m[r.a + ACTOR.L0], 0);
          assert.equal(
            r.emptyExit,
            words.every((x) => x === 0),
          );
        }),
      );
    });
  }

  test('u32-interleaved: 8 loads and one xchg per non-zero 32-bit chunk', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }), (vs) => {
        const chunks = new Set(vs.map((v) => v >>> 5)).size;
        assert.deepEqual(harvestCost('u32-interleaved', vs), { loads: 8, xchgs: chunks });
      }),
    );
  });

  test('u64-loads-then-xchg: 4 loads and one xchg per non-zero 64-bit word', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }), (vs) => {
        const words = new Set(vs.map((v) => v >>> 6)).size;
        assert.deepEqual(harvestCost('u64-loads-then-xchg', vs), { loads: 4, xchgs: words });
      }),
    );
  });

  test('a bit posted between the loads and the exchange of a non-zero word is taken by the exchange', () => {
    // Load all four words, then post 0x7f into word 1 (already non-zero with 0x41): the xchg gets it.
    const b = new ProgramBuilder();
    const got = new Uint32Array(8);
    emitPirHarvest(b, {
      fn: 't',
      shape: 'u64-loads-then-xchg',
      pir: () => 0,
      take: (_w, _a, i, v) => {
        got[i] |= v;
      },
    });
    const code = b.build();
    const m = new Uint32Array(8 + ACTOR.SIZE);
    m[2] = 1 << 1; // 0x41
    const w = { m } as World;
    let pc = 0;
    for (let k = 0; k < 4; k++) {
      const next = code[pc].exec(w, 8, NULL_SINK);
      pc = next === NEXT ? pc + 1 : next;
    }
    m[3] |= 1 << 31; // 0x7f
    while (pc < code.length) {
      const next = code[pc].exec(w, 8, NULL_SINK);
      pc = next === NEXT ? pc + 1 : next;
    }
    assert.equal(got[2], 1 << 1);
    assert.equal(got[3], (1 << 31) >>> 0);
  });
});
