import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  CORE_BLOCK_MOV_SS,
  CORE_BLOCK_STI,
  CORE_IF,
  CORE_RESET,
  coreDeliverInterrupt,
  coreExecute,
  coreHalted,
  guestInterruptibility,
  interruptWindowExit,
  maskableInterruptAllowed,
  nmiAllowed,
  type ShadowInsn,
} from '../../../src/model/hw/interruptibility.ts';

const INSNS: ShadowInsn[] = ['sti', 'cli', 'mov-ss', 'hlt', 'other'];

test('sti; hlt with an interrupt pending: nothing at the STI boundary, HLT is entered, then the interrupt wakes the core (SDM 6.8.1; issue 13)', () => {
  let s = CORE_RESET; // IF = 0, interrupt already pending
  s = coreExecute(s, 'sti');
  assert.equal(maskableInterruptAllowed(s), false, 'the boundary right after STI is in its shadow');
  s = coreExecute(s, 'hlt');
  assert.equal(coreHalted(s), true, 'HLT is executed: the core enters the HLT state');
  assert.equal(maskableInterruptAllowed(s), true, 'the shadow ended with HLT');
  s = coreDeliverInterrupt(s);
  assert.equal(coreHalted(s), false, 'the interrupt wakes the core');
  assert.equal(s & CORE_IF, 0, 'an interrupt gate clears IF');
});

test('STI with IF already 1 sets no shadow', () => {
  const s = coreExecute(coreExecute(CORE_RESET, 'sti'), 'other');
  assert.equal(maskableInterruptAllowed(coreExecute(s, 'sti')), true);
});

test('for any instruction sequence: after STI with IF = 0 the next boundary blocks, and one more instruction other than CLI or MOV SS ends the block', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...INSNS)),
      fc.constantFrom<ShadowInsn>('sti', 'hlt', 'other'),
      (prefix, next) => {
        let s = CORE_RESET;
        for (const i of prefix) s = coreExecute(s, i);
        s = coreExecute(s, 'cli');
        s = coreExecute(s, 'sti');
        assert.equal(maskableInterruptAllowed(s), false);
        assert.equal(guestInterruptibility(s), CORE_BLOCK_STI, 'saved as blocking by STI in the VMCS layout');
        s = coreExecute(s, next);
        assert.equal(maskableInterruptAllowed(s), true);
      },
    ),
  );
});

test('MOV SS blocks interrupts and NMIs for one instruction (SDM 6.8.3)', () => {
  let s = coreExecute(coreExecute(CORE_RESET, 'sti'), 'other');
  s = coreExecute(s, 'mov-ss');
  assert.equal(guestInterruptibility(s), CORE_BLOCK_MOV_SS);
  assert.equal(maskableInterruptAllowed(s), false);
  assert.equal(nmiAllowed(s), false);
  s = coreExecute(s, 'other');
  assert.equal(maskableInterruptAllowed(s), true);
  assert.equal(nmiAllowed(s), true);
});

test('the STI shadow blocks NMIs as KVM treats it (kvm-unit-tests apic.c test_sti_nmi), or not when the model says so', () => {
  const s = coreExecute(CORE_RESET, 'sti');
  assert.equal(nmiAllowed(s), false);
  assert.equal(nmiAllowed(s, false), true);
});

test('IF = 0 with no shadow blocks maskable interrupts but not NMIs', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...INSNS)), (prefix) => {
      let s = CORE_RESET;
      for (const i of prefix) s = coreExecute(s, i);
      s = coreExecute(coreExecute(s, 'cli'), 'other');
      assert.equal(maskableInterruptAllowed(s), false);
      assert.equal(nmiAllowed(s), true);
    }),
  );
});

test('interrupt-window exiting: none in the STI shadow, one instruction later it exits (SDM 26.7.5; vmx_intr_window_test)', () => {
  const sti = coreExecute(CORE_RESET, 'sti');
  assert.equal(interruptWindowExit(true, sti), false);
  assert.equal(interruptWindowExit(true, coreExecute(sti, 'other')), true);
  assert.equal(interruptWindowExit(false, coreExecute(sti, 'other')), false);
  assert.equal(interruptWindowExit(true, coreExecute(coreExecute(sti, 'other'), 'cli')), false, 'IF = 0');
});
