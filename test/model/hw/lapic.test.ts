import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { regTest } from '../../../src/model/hw/bits.ts';
import {
  ESR_RECEIVE_ILLEGAL_VECTOR,
  LAPIC,
  lapicAccept,
  lapicAck,
  lapicEoi,
  lapicEoiBroadcasts,
  lapicEoiWriteFaults,
  lapicHighestDeliverable,
  lapicInit,
  lapicPpr,
  lapicSetTpr,
  SVR_SUPPRESS_EOI_BROADCAST,
  x2apicLdr,
} from '../../../src/model/hw/lapic.ts';

function fresh(x2apic = false): Uint32Array {
  const m = new Uint32Array(LAPIC.SIZE);
  lapicInit(m, 0, 1, x2apic);
  return m;
}

test('every vector 16-255 against every TPR 0-255: dispatched iff its class is above the TPR class', () => {
  const m = fresh();
  for (let tpr = 0; tpr < 256; tpr++) {
    for (let v = 16; v < 256; v++) {
      lapicInit(m, 0, 1, false);
      lapicSetTpr(m, 0, tpr);
      lapicAccept(m, 0, v, false);
      const expected = v >> 4 > tpr >> 4 ? v : -1;
      assert.equal(lapicHighestDeliverable(m, 0), expected, `v=${v} tpr=${tpr}`);
    }
  }
});

test('PPR follows the SDM rule: TPR when its class is at least the in-service class, else ISRV & 0xF0', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 255 }), (tpr, isrv) => {
      const m = fresh();
      lapicSetTpr(m, 0, tpr);
      lapicAccept(m, 0, isrv, false);
      m[LAPIC.TPR] = 0;
      assert.equal(lapicAck(m, 0), isrv);
      lapicSetTpr(m, 0, tpr);
      assert.equal(lapicPpr(m, 0), tpr >> 4 >= isrv >> 4 ? tpr : isrv & 0xf0);
    }),
  );
});

test('nested delivery and EOI order follow priority', () => {
  // A guest that takes every dispatchable interrupt and EOIs at random points: each dispatched
  // vector's class is above every class in service, and EOI always retires the highest in service.
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      (vectors, coin) => {
        const m = fresh();
        for (const v of vectors) lapicAccept(m, 0, v, false);
        const inService: number[] = [];
        const retired: number[] = [];
        let i = 0;
        while (retired.length < vectors.length) {
          const canTake = lapicHighestDeliverable(m, 0) >= 0;
          if (canTake && (inService.length === 0 || coin[i++ % coin.length])) {
            const v = lapicAck(m, 0);
            for (const s of inService) assert.ok(v >> 4 > s >> 4, `took ${v} while ${s} in service`);
            inService.push(v);
          } else {
            const top = Math.max(...inService);
            assert.equal(lapicEoi(m, 0), top);
            inService.splice(inService.indexOf(top), 1);
            retired.push(top);
          }
        }
        assert.deepEqual([...retired].sort(), [...vectors].sort());
      },
    ),
  );
});

test('same-class vectors wait for the one in service', () => {
  const m = fresh();
  lapicAccept(m, 0, 0x41, false);
  assert.equal(lapicAck(m, 0), 0x41);
  lapicAccept(m, 0, 0x45, false);
  assert.equal(lapicHighestDeliverable(m, 0), -1);
  lapicAccept(m, 0, 0x51, false);
  assert.equal(lapicHighestDeliverable(m, 0), 0x51);
  assert.equal(lapicAck(m, 0), 0x51);
  assert.equal(lapicEoi(m, 0), 0x51);
  assert.equal(lapicEoi(m, 0), 0x41);
  assert.equal(lapicAck(m, 0), 0x45);
});

test('illegal vectors 0-15 are refused with ESR bit 6; a pending vector merges', () => {
  const m = fresh();
  for (let v = 0; v < 16; v++) assert.equal(lapicAccept(m, 0, v, false), false);
  assert.equal(m[LAPIC.ESR] & ESR_RECEIVE_ILLEGAL_VECTOR, ESR_RECEIVE_ILLEGAL_VECTOR);
  assert.equal(lapicHighestDeliverable(m, 0), -1);
  assert.equal(lapicAccept(m, 0, 0x30, false), true);
  assert.equal(lapicAccept(m, 0, 0x30, false), true);
  assert.equal(lapicAck(m, 0), 0x30);
  assert.equal(lapicAck(m, 0), -1);
});

test('level-triggered EOI is broadcast unless suppressed; x2APIC EOI of a non-zero value faults', () => {
  const m = fresh(true);
  lapicAccept(m, 0, 0x60, true);
  assert.equal(regTest(m, LAPIC.TMR, 0x60), true);
  assert.equal(lapicAck(m, 0), 0x60);
  assert.equal(lapicEoi(m, 0), 0x60);
  assert.equal(lapicEoiBroadcasts(m, 0, 0x60), true);
  m[LAPIC.SVR] |= SVR_SUPPRESS_EOI_BROADCAST;
  assert.equal(lapicEoiBroadcasts(m, 0, 0x60), false);
  assert.equal(lapicEoiWriteFaults(m, 0, 1), true);
  assert.equal(lapicEoiWriteFaults(m, 0, 0), false);
  assert.equal(lapicEoiWriteFaults(fresh(false), 0, 1), false);
});

test('x2APIC logical ID: cluster from ID[19:4], one bit from ID[3:0]', () => {
  assert.equal(x2apicLdr(0), 0x00000001);
  assert.equal(x2apicLdr(0x13), 0x00010008);
  assert.equal(x2apicLdr(0xfffff), 0xffff8000);
});
