import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { regEmpty, regHighest, regSet, regVectors } from '../../../src/model/hw/bits.ts';
import { LAPIC, lapicAccept, lapicInit } from '../../../src/model/hw/lapic.ts';
import { PID, pidInit, piSetOn, piTestAndSetPir, piTestOn } from '../../../src/model/hw/pid.ts';
import {
  EOI_EXIT_INDUCED,
  eoiVirtualization,
  postedInterruptProcessing,
  selfIpiVirtualization,
  setRvi,
  TPR_BELOW_THRESHOLD_EXIT,
  tprVirtualization,
  VAPIC,
  VAPIC_F_IRQ_WINDOW_EXITING,
  vapicInit,
  vapicRecognized,
  virtualInterruptDeliverable,
  virtualInterruptDelivery,
  vmEntryVirtualInterrupts,
} from '../../../src/model/hw/vapic.ts';

function fresh(): Uint32Array {
  const m = new Uint32Array(VAPIC.SIZE);
  vapicInit(m, 0, true);
  return m;
}

test('every vector 16-255 against every VTPR 0-255: virtual delivery iff class(v) > class(VTPR)', () => {
  const m = fresh();
  for (let tpr = 0; tpr < 256; tpr++) {
    for (let v = 16; v < 256; v++) {
      vapicInit(m, 0, true);
      tprVirtualization(m, 0, tpr);
      selfIpiVirtualization(m, 0, v);
      const expect = v >> 4 > tpr >> 4;
      assert.equal(virtualInterruptDeliverable(m, 0, true), expect, `v=${v} tpr=${tpr}`);
      if (expect) assert.equal(virtualInterruptDelivery(m, 0), v);
    }
  }
});

test('a posted vector whose class is not above VTPR stays in vIRR until the TPR drops', () => {
  const m = fresh();
  tprVirtualization(m, 0, 0x50);
  selfIpiVirtualization(m, 0, 0x52);
  assert.equal(vapicRecognized(m, 0), false);
  assert.deepEqual(regVectors(m, VAPIC.VIRR), [0x52]);
  tprVirtualization(m, 0, 0x40);
  assert.equal(virtualInterruptDeliverable(m, 0, true), true);
  assert.equal(virtualInterruptDeliverable(m, 0, false), false);
});

test('nested virtual delivery and EOI follow priority; SVI tracks the highest in service', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
      (vectors, coin) => {
        const m = fresh();
        for (const v of vectors) selfIpiVirtualization(m, 0, v);
        const inService: number[] = [];
        const retired: number[] = [];
        let i = 0;
        while (retired.length < vectors.length) {
          if (
            virtualInterruptDeliverable(m, 0, true) &&
            (inService.length === 0 || coin[i++ % coin.length])
          ) {
            const v = virtualInterruptDelivery(m, 0);
            for (const s of inService) assert.ok(v >> 4 > s >> 4);
            assert.equal(
              v,
              Math.max(...vectors.filter((x) => !inService.includes(x) && !retired.includes(x))),
            );
            inService.push(v);
          } else {
            const top = Math.max(...inService);
            assert.equal(m[VAPIC.SVI], top);
            assert.equal(eoiVirtualization(m, 0), top);
            inService.splice(inService.indexOf(top), 1);
            retired.push(top);
          }
        }
        assert.equal(regEmpty(m, VAPIC.VISR), true);
        assert.equal(m[VAPIC.SVI], 0);
      },
    ),
  );
});

test('EOI of a vector in the EOI-exit bitmap is an EOI-induced exit and does not evaluate', () => {
  const m = fresh();
  regSet(m, VAPIC.EOI_EXIT, 0x61);
  selfIpiVirtualization(m, 0, 0x61);
  assert.equal(virtualInterruptDelivery(m, 0), 0x61);
  selfIpiVirtualization(m, 0, 0x30);
  assert.equal(virtualInterruptDeliverable(m, 0, true), false); // 0x30 below the in-service 0x61
  assert.equal(eoiVirtualization(m, 0), 0x61 | EOI_EXIT_INDUCED);
  assert.equal(vapicRecognized(m, 0), false); // the exit happened instead of evaluation
  assert.equal(vmEntryVirtualInterrupts(m, 0), true); // the next VM entry evaluates
});

test('changing RVI by software is not evaluated until a trigger; VM entry evaluates', () => {
  const m = fresh();
  regSet(m, VAPIC.VIRR, 0x80);
  setRvi(m, 0, 0x80);
  assert.equal(vapicRecognized(m, 0), false);
  assert.equal(vmEntryVirtualInterrupts(m, 0), true);
  setRvi(m, 0, -1);
  assert.equal(m[VAPIC.RVI], 0);
});

test('interrupt-window exiting suppresses recognition', () => {
  const m = fresh();
  m[VAPIC.FLAGS] |= VAPIC_F_IRQ_WINDOW_EXITING;
  selfIpiVirtualization(m, 0, 0x80);
  assert.equal(virtualInterruptDeliverable(m, 0, true), false);
});

test('TPR threshold exit only without VID', () => {
  const m = new Uint32Array(VAPIC.SIZE);
  vapicInit(m, 0, false);
  m[VAPIC.TPR_THRESHOLD] = 5;
  assert.equal(tprVirtualization(m, 0, 0x40), TPR_BELOW_THRESHOLD_EXIT);
  assert.equal(tprVirtualization(m, 0, 0x50), 0);
  const v = fresh();
  v[VAPIC.TPR_THRESHOLD] = 5;
  assert.equal(tprVirtualization(v, 0, 0x40), 0);
});

test('posted-interrupt processing moves each PIR bit to vIRR exactly once, leaves PIR empty and ON clear', () => {
  const L = 0;
  const P = LAPIC.SIZE;
  const V = P + PID.SIZE;
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { maxLength: 20 }),
      fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { maxLength: 5 }),
      fc.integer({ min: 0, max: 255 }),
      (pir, virr, rvi0) => {
        const m = new Uint32Array(V + VAPIC.SIZE);
        lapicInit(m, L, 0, true);
        pidInit(m, P, 0xf2, 0, false);
        vapicInit(m, V, true);
        for (const v of pir) piTestAndSetPir(m, P, v);
        piSetOn(m, P);
        for (const v of virr) regSet(m, V + VAPIC.VIRR, v);
        m[V + VAPIC.RVI] = rvi0;
        lapicAccept(m, L, 0xf2, false);
        const highest = postedInterruptProcessing(m, L, P, V);
        assert.equal(highest, pir.length ? Math.max(...pir) : -1);
        assert.equal(regEmpty(m, P + PID.PIR), true);
        assert.equal(piTestOn(m, P), false);
        assert.deepEqual(
          regVectors(m, V + VAPIC.VIRR),
          [...new Set([...pir, ...virr])].sort((a, b) => a - b),
        );
        assert.equal(m[V + VAPIC.RVI], Math.max(rvi0, highest));
        assert.equal(regEmpty(m, L + LAPIC.ISR), true); // notification acknowledged and EOI'd
        assert.equal(regHighest(m, L + LAPIC.IRR), -1);
      },
    ),
  );
});
