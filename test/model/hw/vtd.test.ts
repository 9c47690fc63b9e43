import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { regTest } from '../../../src/model/hw/bits.ts';
import { ipivPost, ipivQualifies, pidTableEntry } from '../../../src/model/hw/ipiv.ts';
import { PID, pidDecodeWords, pidInit, piSetOn, piTestAndSetPir } from '../../../src/model/hw/pid.ts';
import { irteDecodePosted, irteEncodePosted, vtdPost } from '../../../src/model/hw/vtd.ts';

test('VT-d posting rule: PIR set always; notify and ON set iff ON was 0 and (URG or SN was 0)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 255 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (on, sn, urg, vv, prior, nv, ndst) => {
        const m = new Uint32Array(PID.SIZE);
        pidInit(m, 0, nv, ndst, sn);
        if (on) piSetOn(m, 0);
        for (const v of prior) piTestAndSetPir(m, 0, v);
        const notify = vtdPost(m, 0, vv, urg);
        assert.equal(notify, !on && (urg || !sn));
        const after = pidDecodeWords(m, 0);
        assert.equal(after.on, on || notify);
        assert.equal(after.sn, sn);
        assert.equal(after.nv, nv);
        assert.equal(after.ndst, ndst);
        assert.deepEqual(
          after.pir,
          [...new Set([...prior, vv])].sort((a, b) => a - b),
        );
      },
    ),
  );
});

test('IPIv posting is the VT-d rule without URG', () => {
  const m = new Uint32Array(PID.SIZE);
  pidInit(m, 0, 0xf2, 0, true);
  assert.equal(ipivPost(m, 0, 0x40), false);
  assert.equal(regTest(m, PID.PIR, 0x40), true);
  pidInit(m, 0, 0xf2, 0, false);
  assert.equal(ipivPost(m, 0, 0x40), true);
  assert.equal(ipivPost(m, 0, 0x41), false);
});

test('IPIv qualifies only fixed, physical, edge, unicast IPIs with a valid entry', () => {
  const ok = { deliveryMode: 0, logical: false, levelTriggered: false, shorthand: 0 };
  assert.equal(ipivQualifies(ok, 3, 7, true), 'posted');
  assert.equal(ipivQualifies({ ...ok, deliveryMode: 1 }, 3, 7, true), 'not-unicast-fixed-physical');
  assert.equal(ipivQualifies({ ...ok, logical: true }, 3, 7, true), 'not-unicast-fixed-physical');
  assert.equal(ipivQualifies({ ...ok, shorthand: 1 }, 3, 7, true), 'not-unicast-fixed-physical');
  assert.equal(ipivQualifies(ok, 8, 7, true), 'index-beyond-last');
  assert.equal(ipivQualifies(ok, 3, 7, false), 'entry-invalid');
  assert.equal(pidTableEntry(0x12345680n), 0x12345681n);
});

test('posted-format IRTE encode/decode round trip at the VT-d 9.10 bit positions', () => {
  fc.assert(
    fc.property(
      fc.record({
        present: fc.boolean(),
        fpd: fc.boolean(),
        urg: fc.boolean(),
        vv: fc.integer({ min: 0, max: 255 }),
        pda: fc.bigInt({ min: 0n, max: (1n << 58n) - 1n }).map((x) => x << 6n),
        sid: fc.integer({ min: 0, max: 0xffff }),
        sq: fc.integer({ min: 0, max: 3 }),
        svt: fc.integer({ min: 0, max: 3 }),
      }),
      (e) => {
        const w = irteEncodePosted(e);
        assert.equal((w[0] >>> 15) & 1, 1); // IM
        assert.equal((w[0] >>> 14) & 1, e.urg ? 1 : 0);
        assert.equal((w[0] >>> 16) & 0xff, e.vv);
        assert.equal(BigInt(w[1] >>> 6), (e.pda >> 6n) & 0x3ffffffn); // PDA-L in 63:38
        assert.equal(BigInt(w[3]), e.pda >> 32n); // PDA-H in 127:96
        assert.deepEqual(irteDecodePosted(w), { ...e });
      },
    ),
  );
  const remapped = new Uint32Array(4);
  assert.equal(irteDecodePosted(remapped), null);
  assert.throws(() =>
    irteEncodePosted({ present: true, fpd: false, urg: false, vv: 1, pda: 0x10n, sid: 0, sq: 0, svt: 0 }),
  );
});
