import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  APIC_BASE_BSP,
  APIC_BASE_EN,
  APIC_BASE_EXTD,
  APIC_DEFAULT_BASE,
  apicBaseApply,
  apicBaseState,
  apicBaseWriteFault,
  apicIdRead,
  apicIdWrite,
  kvmSetLapicId,
  LAPIC_MODE_DISABLED,
  LVT_MASKED,
  lapicAcceptsDeliveryMode,
  lapicSoftwareEnabled,
  lvtMaskOnDisable,
  lvtWrite,
  svrWrite,
  x2apicIcrRegisterWrite,
  xapicIcrRegisterWrite,
} from '../../../src/model/hw/apic-state.ts';
import { regSet, regVectors } from '../../../src/model/hw/bits.ts';
import {
  LAPIC,
  LAPIC_MODE_X2APIC,
  lapicAccept,
  lapicHighestDeliverable,
  lapicInit,
} from '../../../src/model/hw/lapic.ts';

const OPTS = { x2apicSupported: true, maxPhyAddr: 36 };
const base = APIC_DEFAULT_BASE | APIC_BASE_BSP;
const DISABLED = base;
const XAPIC = base | APIC_BASE_EN;
const X2APIC = base | APIC_BASE_EN | APIC_BASE_EXTD;
const INVALID = base | APIC_BASE_EXTD;
const gp = (from: bigint, to: bigint, o: Parameters<typeof apicBaseWriteFault>[2] = OPTS) =>
  apicBaseWriteFault(from, to, o) !== null;

test('IA32_APIC_BASE transitions, every report of kvm-unit-tests apic.c test_enable_x2apic (SDM 11.12.5)', () => {
  assert.equal(gp(X2APIC, INVALID), true, 'x2apic enabled to invalid state');
  assert.equal(gp(X2APIC, XAPIC), true, 'x2apic enabled to apic enabled');
  assert.equal(gp(X2APIC, DISABLED), false, 'x2apic enabled to disabled state');
  assert.equal(gp(DISABLED, INVALID), true, 'disabled to invalid state');
  assert.equal(gp(DISABLED, X2APIC), true, 'disabled to x2apic enabled');
  assert.equal(gp(DISABLED, XAPIC), false, 'apic disabled to apic enabled');
  assert.equal(gp(XAPIC, INVALID), true, 'apic enabled to invalid state');
  assert.equal(gp(XAPIC, X2APIC), false, 'xAPIC to x2APIC');
  assert.equal(gp(XAPIC, X2APIC, { ...OPTS, x2apicSupported: false }), true, 'enable unsupported x2apic');
});

test('reserved bits of IA32_APIC_BASE fault (test_apicbase: reserved physaddr bits, reserved low bits)', () => {
  assert.equal(gp(XAPIC, XAPIC | (1n << 36n)), true);
  assert.equal(gp(XAPIC, XAPIC | 1n), true);
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 9),
      fc.constantFrom(XAPIC, X2APIC, DISABLED),
      (b, s) => {
        assert.equal(gp(s, s | (1n << BigInt(b))), true);
      },
    ),
  );
  assert.equal(gp(XAPIC, XAPIC - APIC_DEFAULT_BASE + 0xfed40000n), false, 'relocate apic');
});

test('a host-initiated write may go from x2APIC to xAPIC; the invalid state stays refused', () => {
  assert.equal(gp(X2APIC, XAPIC, { ...OPTS, hostInitiated: true }), false);
  assert.equal(gp(X2APIC, INVALID, { ...OPTS, hostInitiated: true }), true);
});

test('property: a write is accepted iff the state diagram has the edge (or the state is unchanged)', () => {
  const states = [DISABLED, XAPIC, X2APIC, INVALID];
  const edges = new Set(['disabled>xapic', 'xapic>x2apic', 'xapic>disabled', 'x2apic>disabled']);
  for (const f of states.slice(0, 3))
    for (const t of states) {
      const a = apicBaseState(f);
      const b = apicBaseState(t);
      assert.equal(gp(f, t), !(a === b || edges.has(`${a}>${b}`)), `${a} -> ${b}`);
    }
});

function lapic(): Uint32Array {
  const m = new Uint32Array(LAPIC.SIZE);
  lapicInit(m, 0, 3, false);
  return m;
}

test('IDs follow the transitions: x2APIC takes the initial ID, back through disabled the xAPIC ID is the initial one (xapic_state_test test_apic_id)', () => {
  const m = lapic();
  assert.equal(apicIdWrite(m, 0, 7 << 24), true, 'writeable xapic id');
  assert.equal(apicIdRead(m, 0), (7 << 24) >>> 0);
  apicBaseApply(m, 0, XAPIC, X2APIC, 3);
  assert.equal(apicIdRead(m, 0), 3, 'x2APIC ID is the initial x2APIC ID');
  assert.equal(m[LAPIC.LDR], 0x8, 'LDR derived: cluster 0, bit 3');
  assert.equal(apicIdWrite(m, 0, 9), false, 'non-writeable x2apic id: #GP');
  apicBaseApply(m, 0, X2APIC, XAPIC, 3); // host-initiated
  assert.equal(apicIdRead(m, 0), (3 << 24) >>> 0);
  kvmSetLapicId(m, 0, 5 << 24, 3);
  assert.equal(apicIdRead(m, 0), (5 << 24) >>> 0, 'KVM_SET_LAPIC sets the xAPIC ID');
  apicBaseApply(m, 0, XAPIC, X2APIC, 3);
  kvmSetLapicId(m, 0, 5 << 24, 3);
  assert.equal(apicIdRead(m, 0), 3, 'x2APIC ID should be fully readonly (test_x2apic_id)');
});

test('disabling through IA32_APIC_BASE resets the APIC: IRR/ISR/TPR cleared, SVR 0xFF, nothing accepted', () => {
  const m = lapic();
  lapicAccept(m, 0, 0x40, false);
  regSet(m, LAPIC.ISR, 0x50);
  m[LAPIC.TPR] = 0x20;
  apicBaseApply(m, 0, XAPIC, DISABLED, 3);
  assert.deepEqual(regVectors(m, LAPIC.IRR), []);
  assert.deepEqual(regVectors(m, LAPIC.ISR), []);
  assert.equal(m[LAPIC.TPR], 0);
  assert.equal(m[LAPIC.SVR], 0xff);
  assert.equal(m[LAPIC.MODE], LAPIC_MODE_DISABLED);
  for (const dm of [0, 1, 4, 5]) assert.equal(lapicAcceptsDeliveryMode(m, 0, dm), false);
  apicBaseApply(m, 0, DISABLED, XAPIC, 3);
  assert.equal(
    lapicSoftwareEnabled(m, 0),
    false,
    're-enabled APIC is software-disabled until SVR bit 8 is set',
  );
  assert.notEqual(m[LAPIC.MODE], LAPIC_MODE_X2APIC);
});

test('software disable through the SVR: state kept, delivery masked, fixed refused, NMI/INIT accepted, LVTs masked (SDM 11.4.7.2)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 16, max: 255 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (vs, lvt) => {
        const m = lapic();
        for (const v of vs) lapicAccept(m, 0, v, false);
        assert.ok(lapicHighestDeliverable(m, 0) >= 0);
        assert.equal(svrWrite(m, 0, 0xff), true);
        assert.deepEqual(
          regVectors(m, LAPIC.IRR),
          [...vs].sort((a, b) => a - b),
          'IRR kept',
        );
        assert.equal(lapicHighestDeliverable(m, 0), -1, 'nothing dispatched');
        assert.equal(lapicAcceptsDeliveryMode(m, 0, 0), false);
        assert.equal(lapicAcceptsDeliveryMode(m, 0, 1), false);
        assert.equal(lapicAcceptsDeliveryMode(m, 0, 4), true);
        assert.equal(lapicAcceptsDeliveryMode(m, 0, 5), true);
        assert.equal(lvtMaskOnDisable(lvt) & LVT_MASKED, LVT_MASKED);
        assert.equal(lvtWrite(false, lvt & ~LVT_MASKED) & LVT_MASKED, LVT_MASKED, 'mask cannot be cleared');
        assert.equal(lvtWrite(true, lvt & ~LVT_MASKED) & LVT_MASKED, 0);
        assert.equal(svrWrite(m, 0, 0x1ff), false);
        assert.ok(lapicHighestDeliverable(m, 0) >= 0, 're-enabled: the kept IRR is dispatched again');
      },
    ),
  );
});

const RSVD = [13, 16, 17, 20, 21, 24, 31];

test('x2APIC ICR as a raw 64-bit register: reserved bits #GP, anything else reads back unchanged (xapic_state_test test_icr)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (lo, hi) => {
        const l = (lo & ~0x1000) >>> 0; // BUSY is not tested for x2APIC: no single correct behaviour
        const r = x2apicIcrRegisterWrite(l, hi);
        if ((l & 0xfff32000) !== 0) assert.equal(r, null);
        else assert.deepEqual(r, { lo: l, hi });
      },
    ),
  );
  for (const b of RSVD) assert.equal(x2apicIcrRegisterWrite((0x4031 | (1 << b)) >>> 0, 0), null);
  for (let dm = 0; dm < 8; dm++)
    assert.deepEqual(x2apicIcrRegisterWrite(0x40ff | (dm << 8), 5 << 24), {
      lo: 0x40ff | (dm << 8),
      hi: 5 << 24,
    });
  assert.equal(x2apicIcrRegisterWrite(0x1031, 0, 'gp'), null);
});

test('xAPIC ICR: ICR2[23:0] dropped, BUSY reads 0, every other low bit kept (test_icr)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (lo, hi) => {
        assert.deepEqual(xapicIcrRegisterWrite(lo, hi), {
          lo: (lo & ~0x1000) >>> 0,
          hi: (hi & 0xff000000) >>> 0,
        });
      },
    ),
  );
});
