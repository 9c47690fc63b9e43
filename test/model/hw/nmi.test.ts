import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  CORE_IF,
  CORE_RESET,
  coreExecute,
  maskableInterruptAllowed,
} from '../../../src/model/hw/interruptibility.ts';
import {
  injectVirtualNmi,
  kvmProcessNmi,
  nmiArrive,
  nmiBlocked,
  nmiDeliver,
  nmiDeliverable,
  nmiInNonRoot,
  nmiLatched,
  nmiWindowExit,
} from '../../../src/model/hw/nmi.ts';

const running = coreExecute(coreExecute(CORE_RESET, 'sti'), 'other');

/** Runs a core that takes every deliverable NMI, counting handler entries. */
function handlerRuns(s0: number, arrivalsInHandler: number): number {
  let s = nmiArrive(s0);
  let runs = 0;
  while (nmiDeliverable(s)) {
    s = nmiDeliver(s);
    runs++;
    if (runs === 1) for (let i = 0; i < arrivalsInHandler; i++) s = nmiArrive(s);
    s = coreExecute(s, 'iret');
  }
  return runs;
}

test('NMIs sent from inside the NMI handler collapse into one more (kvm-unit-tests apic.c test_pending_nmi: exactly 2)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), (n) => {
      assert.equal(handlerRuns(running, n), 2);
    }),
  );
  assert.equal(handlerRuns(running, 0), 1);
});

test('NMI blocking lasts until IRET; IF does not block NMIs (SDM 6.7.1)', () => {
  let s = nmiDeliver(nmiArrive(running));
  assert.equal(nmiBlocked(s), true);
  s = nmiArrive(s);
  assert.equal(nmiDeliverable(s), false);
  s = coreExecute(s, 'other');
  assert.equal(nmiDeliverable(s), false, 'other instructions do not end the blocking');
  s = coreExecute(s, 'iret');
  assert.equal(nmiDeliverable(s), true);
  const cli = nmiArrive(coreExecute(coreExecute(CORE_RESET, 'cli'), 'other'));
  assert.equal(nmiDeliverable(cli), true);
});

test('delivering an NMI wakes a halted core and empties the latch', () => {
  const s = nmiDeliver(nmiArrive(coreExecute(running, 'hlt')));
  assert.equal(nmiLatched(s), false);
  assert.equal(s & CORE_IF, 0);
  assert.equal(maskableInterruptAllowed(coreExecute(s, 'iret')), true);
});

test('KVM keeps two NMIs when none is in progress and one when blocked (process_nmi; test_multiple_nmi expects 2 for two back-to-back NMIs)', () => {
  assert.equal(kvmProcessNmi(0, 2, false), 2);
  assert.equal(kvmProcessNmi(0, 10, true), 1);
  fc.assert(
    fc.property(fc.nat(5), fc.nat(50), fc.boolean(), (p, a, busy) => {
      const r = kvmProcessNmi(Math.min(p, busy ? 1 : 2), a, busy);
      assert.ok(r <= (busy ? 1 : 2) && r >= Math.min(p, busy ? 1 : 2));
    }),
  );
});

const VNMI = { nmiExiting: true, virtualNmis: true, nmiWindowExiting: true };

test('NMI-window exiting: at once without blocking, after one instruction under MOV SS, after IRET under virtual-NMI blocking (SDM 26.7.6; vmx_nmi_window_test)', () => {
  assert.equal(nmiWindowExit(VNMI, running), true);
  const movss = coreExecute(running, 'mov-ss');
  assert.equal(nmiWindowExit(VNMI, movss), false);
  assert.equal(nmiWindowExit(VNMI, coreExecute(movss, 'other')), true);
  const inHandler = injectVirtualNmi(running);
  assert.equal(nmiWindowExit(VNMI, inHandler), false);
  assert.equal(nmiWindowExit(VNMI, coreExecute(inHandler, 'other')), false);
  assert.equal(nmiWindowExit(VNMI, coreExecute(inHandler, 'iret')), true);
  assert.equal(nmiWindowExit({ ...VNMI, nmiWindowExiting: false }, running), false);
  assert.equal(nmiWindowExit({ ...VNMI, virtualNmis: false }, running), false);
});

test('a physical NMI in non-root exits with NMI exiting and goes to the guest without it', () => {
  assert.equal(nmiInNonRoot(VNMI), 'vm-exit');
  assert.equal(nmiInNonRoot({ nmiExiting: false, virtualNmis: false, nmiWindowExiting: false }), 'guest');
});

test('injecting a virtual NMI keeps a physically latched NMI latched', () => {
  assert.equal(nmiLatched(injectVirtualNmi(nmiArrive(running))), true);
});
