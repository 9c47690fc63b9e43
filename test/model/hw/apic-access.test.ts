import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ApicAccessControls, apicAccess } from '../../../src/model/hw/apic-access.ts';

const ctl = (arv: boolean, vid: boolean, ipiv = false): ApicAccessControls => ({
  useTprShadow: true,
  virtualizeX2apicMode: false,
  apicRegisterVirtualization: arv,
  virtualInterruptDelivery: vid,
  ipiVirtualization: ipiv,
});
const offsets = Array.from({ length: 64 }, (_, i) => i * 0x10);
// SDM Vol. 3C x.4.2 and x.4.3.1, the lists of offsets.
const READ_ARV = [
  0x20, 0x30, 0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370,
  0x380, 0x3e0,
];
const WRITE_ARV = [
  0x20, 0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380,
  0x3e0,
];
const isVec = (o: number) => o >= 0x100 && o <= 0x270;

test('reads: only the TPR without APIC-register virtualization; the SDM list (and ISR/TMR/IRR) with it', () => {
  for (const o of offsets) {
    assert.equal(
      apicAccess(ctl(false, true), o, 4, false),
      o === 0x80 ? 'read-virtual-apic' : 'apic-access-exit',
      `0x${o.toString(16)}`,
    );
    const want = READ_ARV.includes(o) || isVec(o) ? 'read-virtual-apic' : 'apic-access-exit';
    assert.equal(apicAccess(ctl(true, true), o, 4, false), want, `0x${o.toString(16)}`);
  }
  assert.equal(apicAccess(ctl(true, true), 0xa0, 4, false), 'apic-access-exit', 'PPR is not in the list');
  assert.equal(apicAccess(ctl(true, true), 0x390, 4, false), 'apic-access-exit', 'the current count is not');
});

test('writes without APIC-register virtualization: TPR, and with VID also EOI and ICR low (SDM x.4.3.1)', () => {
  for (const o of offsets) {
    assert.equal(
      apicAccess(ctl(false, false), o, 4, true),
      o === 0x80 ? 'tpr-virtualization' : 'apic-access-exit',
    );
    const r = apicAccess(ctl(false, true), o, 4, true, 0x40031);
    if (o === 0x80) assert.equal(r, 'tpr-virtualization');
    else if (o === 0xb0) assert.equal(r, 'eoi-virtualization');
    else if (o === 0x300) assert.equal(r, 'self-ipi-virtualization');
    else assert.equal(r, 'apic-access-exit', `0x${o.toString(16)}`);
  }
});

test('writes with APIC-register virtualization: the SDM list is virtualized, the rest exits; emulation per offset', () => {
  for (const o of offsets) {
    const r = apicAccess(ctl(true, true), o, 4, true, 0x31);
    if (!WRITE_ARV.includes(o)) assert.equal(r, 'apic-access-exit', `0x${o.toString(16)}`);
    else if (o === 0x80) assert.equal(r, 'tpr-virtualization');
    else if (o === 0xb0) assert.equal(r, 'eoi-virtualization');
    else if (o === 0x310) assert.equal(r, 'write-virtual-apic');
    else assert.equal(r, 'apic-write-exit', `0x${o.toString(16)}: written, then an APIC-write exit`);
  }
  assert.equal(apicAccess(ctl(true, false), 0xb0, 4, true), 'apic-write-exit', 'EOI without VID');
  assert.equal(
    apicAccess(ctl(true, false), 0x300, 4, true, 0x40031),
    'apic-write-exit',
    'self IPI without VID',
  );
  assert.equal(apicAccess(ctl(true, true, true), 0x300, 4, true, 0x31), 'ipi-virtualization');
});

test("an access not within one register's low 4 bytes, wider than 4 bytes, or without the TPR shadow exits", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x3ff }),
      fc.integer({ min: 1, max: 8 }),
      fc.boolean(),
      (off, size, w) => {
        const inside = (off & 0xf) + size <= 4;
        const r = apicAccess(ctl(true, true), off, size, w, 0);
        if (!inside) assert.equal(r, 'apic-access-exit');
        assert.equal(
          apicAccess({ ...ctl(true, true), useTprShadow: false }, off, size, w, 0),
          'apic-access-exit',
        );
      },
    ),
  );
  assert.equal(apicAccess(ctl(false, false), 0x81, 1, true), 'tpr-virtualization', 'a byte inside the TPR');
});
