import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apicIdFromNdst,
  ndstForApicId,
  PID,
  piControlLo,
  pidDecodeBytes,
  pidDecodeWords,
  pidEncodeBytes,
  pidInit,
  piHasPendingInterrupt,
  piTestAndSetPir,
  piTryCasControl,
} from '../../../src/model/hw/pid.ts';

const fields = fc.record({
  pir: fc
    .uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 30 })
    .map((a) => a.sort((x, y) => x - y)),
  on: fc.boolean(),
  sn: fc.boolean(),
  nv: fc.integer({ min: 0, max: 255 }),
  ndst: fc.integer({ min: 0, max: 0xffffffff }),
});

function bit(bytes: Uint8Array, n: number): number {
  return (bytes[n >> 3] >> (n & 7)) & 1;
}

test('descriptor encode/decode round trip at the VT-d bit positions', () => {
  fc.assert(
    fc.property(fields, (f) => {
      const bytes = pidEncodeBytes(f);
      for (let v = 0; v < 256; v++) assert.equal(bit(bytes, v), f.pir.includes(v) ? 1 : 0);
      assert.equal(bit(bytes, 256), f.on ? 1 : 0);
      assert.equal(bit(bytes, 257), f.sn ? 1 : 0);
      for (let b = 258; b <= 271; b++) assert.equal(bit(bytes, b), 0);
      assert.equal(bytes[34], f.nv); // bits 279:272
      assert.equal(bytes[35], 0);
      const dv = new DataView(bytes.buffer);
      assert.equal(dv.getUint32(36, true), f.ndst); // bits 319:288
      for (let i = 40; i < 64; i++) assert.equal(bytes[i], 0);
      const back = pidDecodeBytes(bytes);
      assert.equal(back.reservedNonZero, false);
      assert.deepEqual({ pir: back.pir, on: back.on, sn: back.sn, nv: back.nv, ndst: back.ndst }, { ...f });
    }),
  );
});

test('reserved bits are reported on decode', () => {
  const bytes = pidEncodeBytes({ pir: [], on: false, sn: false, nv: 0xf2, ndst: 0 });
  bytes[33] |= 0x80;
  assert.equal(pidDecodeBytes(bytes).reservedNonZero, true);
  const b2 = pidEncodeBytes({ pir: [], on: false, sn: false, nv: 0xf2, ndst: 0 });
  b2[50] = 1;
  assert.equal(pidDecodeBytes(b2).reservedNonZero, true);
  assert.throws(() => pidDecodeBytes(new Uint8Array(10)), /64 bytes/);
});

test('NDST: xAPIC IDs sit in bits 15:8, x2APIC IDs use all 32 bits', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), (x, y) => {
      assert.equal(ndstForApicId(x, false), x << 8);
      assert.equal(apicIdFromNdst(ndstForApicId(x, false), false), x);
      assert.equal(apicIdFromNdst(ndstForApicId(y, true), true), y);
    }),
  );
});

test('control-word CAS succeeds only against the current value', () => {
  const m = new Uint32Array(PID.SIZE);
  pidInit(m, 0, 0xf2, 0x100, true);
  const lo = m[PID.CONTROL];
  assert.equal(piTryCasControl(m, 0, lo, 0x100, piControlLo(false, false, 0xf1), 0x300), true);
  assert.deepEqual(pidDecodeWords(m, 0), { pir: [], on: false, sn: false, nv: 0xf1, ndst: 0x300 });
  assert.equal(piTryCasControl(m, 0, lo, 0x100, piControlLo(true, false, 0xf2), 0x100), false);
  assert.equal(pidDecodeWords(m, 0).nv, 0xf1);
});

test('pending interrupt: ON, or SN with a non-empty PIR', () => {
  const m = new Uint32Array(PID.SIZE);
  pidInit(m, 0, 0xf2, 0, false);
  piTestAndSetPir(m, 0, 0x31);
  assert.equal(piHasPendingInterrupt(m, 0), false);
  pidInit(m, 0, 0xf2, 0, true);
  piTestAndSetPir(m, 0, 0x31);
  assert.equal(piHasPendingInterrupt(m, 0), true);
});
