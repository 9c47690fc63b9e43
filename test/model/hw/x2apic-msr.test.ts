import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type ApicVirtControls,
  icrWriteEmulation,
  kvmX2apicMsrAccess,
  kvmX2apicMsrIntercepted,
  X2APIC_MSR,
  x2apicMsrAccess,
  x2apicMsrExitQualification,
} from '../../../src/model/hw/x2apic-msr.ts';

// ICR low-word bits (SDM Vol. 3A "Interrupt Command Register").
const SELF = 1 << 18;
const ALL_BUT = 3 << 18;
const LOGICAL = 1 << 11;
const LEVEL_TRIGGER = 1 << 15;
const NMI = 4 << 8;

const APICV = { x2apic: true, apicv: true, ipiv: false };
const APICV_IPIV = { x2apic: true, apicv: true, ipiv: true };
const NO_APICV = { x2apic: true, apicv: false, ipiv: false };

const vector = fc.integer({ min: 16, max: 255 });
const msr = fc.integer({ min: 0x800, max: 0x8ff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const controls: fc.Arbitrary<ApicVirtControls> = fc.record({
  virtualizeX2apicMode: fc.boolean(),
  apicRegisterVirtualization: fc.boolean(),
  virtualInterruptDelivery: fc.boolean(),
  ipiVirtualization: fc.boolean(),
});

test('without IPIv a WRMSR to the ICR exits to KVM, even a fixed self IPI (SDM x.5; issue 13)', () => {
  fc.assert(
    fc.property(vector, (v) => {
      assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.ICR, true, SELF | v, 0), 'msr-write-exit');
      assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.ICR, true, v, 1), 'msr-write-exit');
    }),
  );
});

test('without IPIv the hardware does not virtualize 830H: with the bitmap open it reaches the physical APIC', () => {
  const ctl = {
    virtualizeX2apicMode: true,
    apicRegisterVirtualization: true,
    virtualInterruptDelivery: true,
    ipiVirtualization: false,
  };
  assert.equal(x2apicMsrAccess(ctl, false, X2APIC_MSR.ICR, true, SELF | 0x31, 0), 'physical');
});

test('only TPR, EOI and SELF IPI writes are virtualized under APICv without IPIv (virt_x2apic_mode_test)', () => {
  for (let m = 0x800; m <= 0x8ff; m++) {
    const r = kvmX2apicMsrAccess(APICV, m, true, 0, 0);
    if (m === X2APIC_MSR.TPR) assert.equal(r, 'tpr-virtualization');
    else if (m === X2APIC_MSR.EOI) assert.equal(r, 'eoi-virtualization');
    else if (m === X2APIC_MSR.SELF_IPI) assert.equal(r, 'apic-write-exit', 'vector 0: bits 7:4 are 0');
    else assert.equal(r, 'msr-write-exit', `0x${m.toString(16)}`);
  }
});

test('with IPIv: a qualifying physical fixed edge unicast is IPI virtualization, a self IPI is self-IPI virtualization', () => {
  fc.assert(
    fc.property(vector, u32, (v, dest) => {
      assert.equal(kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, v, dest), 'ipi-virtualization');
      assert.equal(
        kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, SELF | v, 0),
        'self-ipi-virtualization',
      );
      assert.equal(
        kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, LOGICAL | v, dest),
        'apic-write-exit',
      );
      assert.equal(kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, ALL_BUT | v, 0), 'apic-write-exit');
      assert.equal(
        kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, LEVEL_TRIGGER | v, dest),
        'apic-write-exit',
      );
      assert.equal(kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, NMI | v, dest), 'apic-write-exit');
    }),
  );
});

test('with IPIv an ICR value with an x2APIC reserved bit (31:20, 17:16, 13) is #GP (xapic_state_test x2apic_guest_code)', () => {
  fc.assert(
    fc.property(fc.constantFrom(...[13, 16, 17, 20, 25, 31]), vector, (bit, v) => {
      assert.equal(kvmX2apicMsrAccess(APICV_IPIV, X2APIC_MSR.ICR, true, (v | (1 << bit)) >>> 0, 0), 'gp');
    }),
  );
});

test('TPR: bits 63:8 set is #GP, otherwise TPR virtualization, with or without VID (SDM x.5)', () => {
  fc.assert(
    fc.property(u32, u32, (lo, hi) => {
      const want = hi === 0 && lo <= 0xff ? 'tpr-virtualization' : 'gp';
      assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.TPR, true, lo, hi), want);
      assert.equal(kvmX2apicMsrAccess(NO_APICV, X2APIC_MSR.TPR, true, lo, hi), want);
    }),
  );
});

test('EOI: a non-zero value is #GP, zero is EOI virtualization; without APICv the write exits', () => {
  fc.assert(
    fc.property(u32, u32, (lo, hi) => {
      assert.equal(
        kvmX2apicMsrAccess(APICV, X2APIC_MSR.EOI, true, lo, hi),
        lo === 0 && hi === 0 ? 'eoi-virtualization' : 'gp',
      );
      assert.equal(kvmX2apicMsrAccess(NO_APICV, X2APIC_MSR.EOI, true, lo, hi), 'msr-write-exit');
    }),
  );
});

test('SELF IPI: vectors 16-255 are self-IPI virtualization, 0-15 an APIC-write exit at 3F0H, bits 63:8 #GP', () => {
  for (let v = 0; v < 256; v++) {
    const r = kvmX2apicMsrAccess(APICV, X2APIC_MSR.SELF_IPI, true, v, 0);
    assert.equal(r, v >= 16 ? 'self-ipi-virtualization' : 'apic-write-exit');
  }
  assert.equal(x2apicMsrExitQualification(X2APIC_MSR.SELF_IPI), 0x3f0);
  assert.equal(x2apicMsrExitQualification(X2APIC_MSR.ICR), 0x300);
  assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.SELF_IPI, true, 0x131, 0), 'gp');
  assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.SELF_IPI, true, 0x31, 1), 'gp');
});

test('reads under KVM APICv: the virtual-APIC page except the current count, which KVM computes', () => {
  assert.equal(kvmX2apicMsrAccess(APICV, X2APIC_MSR.TIMER_CURRENT_COUNT, false), 'msr-read-exit');
  for (const m of [
    X2APIC_MSR.ID,
    X2APIC_MSR.TPR,
    X2APIC_MSR.PPR,
    X2APIC_MSR.ICR,
    X2APIC_MSR.IRR0 + 7,
    X2APIC_MSR.TIMER_DIVIDE,
  ])
    assert.equal(kvmX2apicMsrAccess(APICV, m, false), 'read-virtual-apic');
  // EOI and SELF IPI are write-only and 800H does not exist: KVM intercepts the reads to raise #GP,
  // because the hardware would read the virtual-APIC page for them (SDM x.5).
  for (const m of [X2APIC_MSR.EOI, X2APIC_MSR.SELF_IPI, 0x800, 0x831, 0x8ff])
    assert.equal(kvmX2apicMsrAccess(APICV, m, false), 'msr-read-exit');
  const arv = {
    virtualizeX2apicMode: true,
    apicRegisterVirtualization: true,
    virtualInterruptDelivery: true,
    ipiVirtualization: false,
  };
  for (let m = 0x800; m <= 0x8ff; m++)
    assert.equal(x2apicMsrAccess(arv, false, m, false), 'read-virtual-apic');
  assert.equal(kvmX2apicMsrAccess(NO_APICV, X2APIC_MSR.TPR, false), 'read-virtual-apic');
  assert.equal(kvmX2apicMsrAccess(NO_APICV, X2APIC_MSR.PPR, false), 'msr-read-exit');
});

test('an intercepting MSR bitmap always wins; without virtualize x2APIC mode nothing is virtualized', () => {
  fc.assert(
    fc.property(controls, msr, fc.boolean(), u32, u32, (ctl, m, w, lo, hi) => {
      assert.equal(x2apicMsrAccess(ctl, true, m, w, lo, hi), w ? 'msr-write-exit' : 'msr-read-exit');
      const off = { ...ctl, virtualizeX2apicMode: false };
      assert.equal(x2apicMsrAccess(off, false, m, w, lo, hi), 'physical');
    }),
  );
});

test('KVM never lets a guest x2APIC access reach the physical APIC', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), msr, fc.boolean(), u32, u32, (apicv, ipiv, m, w, lo, hi) => {
      assert.notEqual(kvmX2apicMsrAccess({ x2apic: true, apicv, ipiv }, m, w, lo, hi), 'physical');
    }),
  );
  assert.equal(
    kvmX2apicMsrIntercepted({ x2apic: false, apicv: true, ipiv: true }, X2APIC_MSR.TPR, false),
    true,
  );
});

test('xAPIC ICR-low write emulation (offset 300H): busy or reserved bits, vectors 0-15, or no VID give an APIC-write exit', () => {
  const vid = {
    virtualizeX2apicMode: false,
    apicRegisterVirtualization: true,
    virtualInterruptDelivery: true,
    ipiVirtualization: false,
  };
  assert.equal(icrWriteEmulation(vid, SELF | 0x31), 'self-ipi-virtualization');
  assert.equal(icrWriteEmulation(vid, SELF | 0x31 | 0x1000), 'apic-write-exit');
  assert.equal(icrWriteEmulation(vid, SELF | 0x0f), 'apic-write-exit');
  assert.equal(icrWriteEmulation(vid, 0x31), 'apic-write-exit');
  assert.equal(
    icrWriteEmulation({ ...vid, virtualInterruptDelivery: false }, SELF | 0x31),
    'apic-write-exit',
  );
  assert.equal(icrWriteEmulation({ ...vid, ipiVirtualization: true }, 0x31), 'ipi-virtualization');
});
