import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type InterruptVmxControls,
  interruptControlsEntryFault,
} from '../../../src/model/hw/vmx-controls.ts';

// What KVM programs for an APICv guest in x2APIC mode (vmx.c: pin controls with posted interrupts,
// secondary controls with virtual-interrupt delivery): it must pass every check.
const KVM_APICV: InterruptVmxControls = {
  externalInterruptExiting: true,
  nmiExiting: true,
  virtualNmis: true,
  processPostedInterrupts: true,
  nmiWindowExiting: false,
  useTprShadow: true,
  virtualizeApicAccesses: false,
  virtualizeX2apicMode: true,
  apicRegisterVirtualization: true,
  virtualInterruptDelivery: true,
  acknowledgeInterruptOnExit: true,
  pinv: 0xf2,
  pidAddress: 0x12345640n,
  maxPhyAddr: 46,
};

test("KVM's APICv controls pass", () => {
  assert.equal(interruptControlsEntryFault(KVM_APICV), null);
  assert.equal(interruptControlsEntryFault({ ...KVM_APICV, nmiWindowExiting: true }), null);
});

test('each SDM 26.2.1.1 rule fails on its own (vmx_controls_test)', () => {
  const fails = (d: Partial<InterruptVmxControls>) =>
    interruptControlsEntryFault({ ...KVM_APICV, ...d }) !== null;
  assert.ok(fails({ nmiExiting: false }), 'virtual NMIs without NMI exiting');
  assert.ok(fails({ virtualNmis: false, nmiWindowExiting: true }));
  assert.ok(fails({ useTprShadow: false }));
  assert.ok(fails({ virtualizeApicAccesses: true }), 'with virtualize x2APIC mode');
  assert.ok(fails({ externalInterruptExiting: false }));
  assert.ok(fails({ virtualInterruptDelivery: false }), 'posted interrupts without VID');
  assert.ok(fails({ acknowledgeInterruptOnExit: false }));
  assert.ok(fails({ pinv: 0x1f2 }));
  assert.ok(fails({ pidAddress: 0x12345648n }));
  assert.ok(fails({ pidAddress: 1n << 46n }));
});

test('property: any PID address that is 64-byte aligned and below MAXPHYADDR passes', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 46n) - 1n }), (a) => {
      const r = interruptControlsEntryFault({ ...KVM_APICV, pidAddress: a });
      assert.equal(r === null, (a & 0x3fn) === 0n);
    }),
  );
});
