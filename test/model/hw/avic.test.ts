import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AVIC_BACKING,
  AVIC_EXIT,
  AVIC_ICR_OUT,
  AVIC_IPI_FAILURE,
  AVIC_PHYS_ENTRY,
  type AvicPhysEntry,
  avicBackingOffset,
  avicDeliver,
  avicDoorbell,
  avicEoi,
  avicEoiEmulate,
  avicIcrOutSize,
  avicIcrWrite,
  avicPending,
  avicPhysBackingPage,
  avicPhysClearRunning,
  avicPhysEntryDecode,
  avicPhysEntryEncode,
  avicPhysHostApicId,
  avicPhysIsRunning,
  avicPhysRead,
  avicPhysSetRunning,
  avicPhysValid,
  avicPhysWord,
  avicPhysWrite,
  avicPpr,
  avicSetIrr,
  avicTprWrite,
  avicVmexit,
  avicVmrun,
  GA_IRTE,
  GA_LOG,
  GA_LOG_CAPACITY,
  GA_LOG_STATUS,
  GA_POST,
  type GaIrte,
  gaIrteDecode,
  gaIrteDestination,
  gaIrteEncode,
  gaIrteRead,
  gaIrteRootPtr,
  gaIrteSetGaLogIntr,
  gaIrteSetRun,
  gaIrteVector,
  gaIrteWord,
  gaIrteWrite,
  gaLogAppend,
  gaLogClearInt,
  gaLogCount,
  gaLogInit,
  gaLogPop,
  gaLogRestart,
  iommuGaPost,
} from '../../../src/model/hw/avic.ts';
import { prioClass, regSet, regTest, regVectors } from '../../../src/model/hw/bits.ts';

// ---- fixtures ----------------------------------------------------------------------------------

/** A VM with n vCPUs: physical table at 0, backing pages after it, GA log and an IRTE after those. */
function vm(n: number) {
  const table = 0;
  const pages = table + n * AVIC_PHYS_ENTRY.SIZE;
  const log = pages + n * AVIC_BACKING.SIZE;
  const irte = log + GA_LOG.SIZE;
  const m = new Uint32Array(irte + GA_IRTE.SIZE);
  gaLogInit(m, log);
  return { m, table, pages, log, irte, page: (i: number) => avicBackingOffset(pages, i) };
}

/** ICR low word: vector, delivery mode (bits 10:8), trigger (bit 15), shorthand (bits 19:18). */
function icr(v: number, opts: { mode?: number; level?: boolean; shorthand?: number } = {}): number {
  return (v | ((opts.mode ?? 0) << 8) | (opts.level ? 1 << 15 : 0) | ((opts.shorthand ?? 0) << 18)) >>> 0;
}

const physEntry: fc.Arbitrary<AvicPhysEntry> = fc.record({
  hostApicId: fc.integer({ min: 0, max: 0xfff }),
  backingPage: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
  isRunning: fc.boolean(),
  valid: fc.boolean(),
});

const gaIrte: fc.Arbitrary<GaIrte> = fc.record({
  remapEn: fc.boolean(),
  supIopf: fc.boolean(),
  gaLogIntr: fc.boolean(),
  gaPpiDisable: fc.boolean(),
  isRun: fc.boolean(),
  guestMode: fc.boolean(),
  destination: fc.integer({ min: 0, max: 0xffffffff }),
  gaTag: fc.integer({ min: 0, max: 0xffffffff }),
  vector: fc.integer({ min: 0, max: 255 }),
  gaRootPtr: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
});

/** Extracts bits hi..lo of x. */
function bits(x: bigint, hi: number, lo: number): bigint {
  return (x >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}

// ---- physical APIC ID table entry ---------------------------------------------------------------

test('physical APIC ID table entry: fields sit at bits 11:0, 51:12, 62, 63 and round-trip', () => {
  fc.assert(
    fc.property(physEntry, (e) => {
      const x = avicPhysEntryEncode(e);
      assert.equal(bits(x, 11, 0), BigInt(e.hostApicId));
      assert.equal(bits(x, 51, 12), BigInt(e.backingPage));
      assert.equal(bits(x, 61, 52), 0n);
      assert.equal(bits(x, 62, 62), e.isRunning ? 1n : 0n);
      assert.equal(bits(x, 63, 63), e.valid ? 1n : 0n);
      assert.deepEqual(avicPhysEntryDecode(x), { ...e });
    }),
  );
});

test('physical table in the World holds the exact 64-bit entry and the accessors read it', () => {
  fc.assert(
    fc.property(physEntry, fc.integer({ min: 0, max: 3 }), (e, id) => {
      const m = new Uint32Array(4 * AVIC_PHYS_ENTRY.SIZE);
      avicPhysWrite(m, 0, id, e);
      assert.equal(avicPhysWord(m, 0, id), avicPhysEntryEncode(e));
      assert.deepEqual(avicPhysRead(m, 0, id), { ...e });
      assert.equal(avicPhysValid(m, 0, id), e.valid);
      assert.equal(avicPhysIsRunning(m, 0, id), e.isRunning);
      assert.equal(avicPhysHostApicId(m, 0, id), e.hostApicId);
      assert.equal(avicPhysBackingPage(m, 0, id), e.backingPage);
      // neighbours untouched
      for (let j = 0; j < 4; j++) if (j !== id) assert.equal(avicPhysWord(m, 0, j), 0n);
    }),
  );
});

test('load / put toggle IsRunning and set the host APIC ID, keeping the rest of the entry', () => {
  fc.assert(
    fc.property(physEntry, fc.integer({ min: 0, max: 0xfff }), (e, host) => {
      const m = new Uint32Array(AVIC_PHYS_ENTRY.SIZE);
      avicPhysWrite(m, 0, 0, e);
      avicPhysSetRunning(m, 0, 0, host);
      assert.deepEqual(avicPhysRead(m, 0, 0), { ...e, hostApicId: host, isRunning: true });
      avicPhysClearRunning(m, 0, 0);
      assert.deepEqual(avicPhysRead(m, 0, 0), { ...e, hostApicId: host, isRunning: false });
    }),
  );
});

test('encoders reject out-of-range fields', () => {
  assert.throws(() =>
    avicPhysEntryEncode({ hostApicId: 0x1000, backingPage: 0, isRunning: false, valid: true }),
  );
  assert.throws(() =>
    avicPhysEntryEncode({ hostApicId: 0, backingPage: 2 ** 40, isRunning: false, valid: true }),
  );
});

// ---- GA IRTE ------------------------------------------------------------------------------------

test('GA IRTE: fields sit at the irte_ga bit positions and round-trip', () => {
  fc.assert(
    fc.property(gaIrte, (e) => {
      const x = gaIrteEncode(e);
      const b = (v: boolean) => (v ? 1n : 0n);
      assert.equal(bits(x, 0, 0), b(e.remapEn));
      assert.equal(bits(x, 1, 1), b(e.supIopf));
      assert.equal(bits(x, 2, 2), b(e.gaLogIntr));
      assert.equal(bits(x, 4, 3), 0n);
      assert.equal(bits(x, 5, 5), b(e.gaPpiDisable));
      assert.equal(bits(x, 6, 6), b(e.isRun));
      assert.equal(bits(x, 7, 7), b(e.guestMode));
      assert.equal(bits(x, 31, 8), BigInt(e.destination & 0xffffff));
      assert.equal(bits(x, 63, 32), BigInt(e.gaTag));
      assert.equal(bits(x, 71, 64), BigInt(e.vector));
      assert.equal(bits(x, 75, 72), 0n);
      assert.equal(bits(x, 115, 76), BigInt(e.gaRootPtr));
      assert.equal(bits(x, 119, 116), 0n);
      assert.equal(bits(x, 127, 120), BigInt(e.destination >>> 24));
      assert.equal(x >> 128n, 0n);
      assert.deepEqual(gaIrteDecode(x), { ...e });
    }),
  );
});

test('GA IRTE in the World: four words of the 128-bit value, accessors and updates agree', () => {
  fc.assert(
    fc.property(
      gaIrte,
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.boolean(),
      (e, run, dest, log) => {
        const m = new Uint32Array(GA_IRTE.SIZE);
        gaIrteWrite(m, 0, e);
        assert.equal(gaIrteWord(m, 0), gaIrteEncode(e));
        assert.deepEqual(gaIrteRead(m, 0), { ...e });
        assert.equal(gaIrteDestination(m, 0), e.destination);
        assert.equal(gaIrteVector(m, 0), e.vector);
        assert.equal(gaIrteRootPtr(m, 0), e.gaRootPtr);
        gaIrteSetRun(m, 0, run, dest);
        gaIrteSetGaLogIntr(m, 0, log);
        assert.deepEqual(gaIrteRead(m, 0), { ...e, isRun: run, destination: dest, gaLogIntr: log });
      },
    ),
  );
});

// ---- priority and delivery ----------------------------------------------------------------------

test('delivery priority: with ISR empty, v is delivered iff class(v) > class(TPR) (all v 16-255, all TPR 0-255)', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  for (let tpr = 0; tpr < 256; tpr++) {
    for (let v = 16; v < 256; v++) {
      m.fill(0);
      avicSetIrr(m, 0, v, false);
      m[AVIC_BACKING.TPR] = tpr;
      const expect = prioClass(v) > prioClass(tpr);
      assert.equal(avicVmrun(m, 0), expect ? v : -1, `recognised v=${v} tpr=${tpr}`);
      const got = avicDeliver(m, 0, true);
      assert.equal(got, expect ? v : -1, `v=${v} tpr=${tpr}`);
      assert.equal(regTest(m, AVIC_BACKING.ISR, v), expect);
      assert.equal(regTest(m, AVIC_BACKING.IRR, v), !expect);
    }
  }
});

test('delivery priority with a vector in service: highest IRR delivered iff its class exceeds the vPPR class', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 16, max: 255 }),
      fc.integer({ min: 16, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      (v, inService, tpr) => {
        fc.pre(v !== inService);
        const m = new Uint32Array(AVIC_BACKING.SIZE);
        regSet(m, AVIC_BACKING.ISR, inService);
        avicSetIrr(m, 0, v, false);
        m[AVIC_BACKING.TPR] = tpr;
        const ppr = prioClass(tpr) >= prioClass(inService) ? tpr : inService & 0xf0;
        assert.equal(avicPpr(m, 0), ppr);
        const expect = prioClass(v) > prioClass(ppr) ? v : -1;
        assert.equal(avicVmrun(m, 0), expect);
        assert.equal(avicDeliver(m, 0, true), expect);
      },
    ),
  );
});

test('no delivery while guest IF = 0; delivery after the window opens', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  avicSetIrr(m, 0, 0x41, false);
  avicVmrun(m, 0);
  assert.equal(avicDeliver(m, 0, false), -1);
  assert.equal(avicDeliver(m, 0, true), 0x41);
  assert.deepEqual(regVectors(m, AVIC_BACKING.ISR), [0x41]);
});

test('an IRR bit written while running is noticed only at the next evaluation (doorbell or VMRUN)', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  avicVmrun(m, 0);
  avicSetIrr(m, 0, 0x50, false); // someone else's memory write, no doorbell
  assert.equal(avicPending(m, 0), -1);
  assert.equal(avicDeliver(m, 0, true), -1);
  assert.equal(avicDoorbell(m, 0), 0x50);
  assert.equal(avicDeliver(m, 0, true), 0x50);
  // exit and re-entry: VMRUN evaluates without a doorbell
  avicSetIrr(m, 0, 0x60, false);
  avicVmexit(m, 0);
  assert.equal(avicPending(m, 0), -1);
  assert.equal(avicVmrun(m, 0), 0x60);
});

test('lowering TPR re-evaluates and unmasks a pending vector', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  avicSetIrr(m, 0, 0x35, false);
  m[AVIC_BACKING.TPR] = 0x40;
  assert.equal(avicVmrun(m, 0), -1);
  assert.equal(avicTprWrite(m, 0, 0x20), 0x35);
  assert.equal(avicDeliver(m, 0, true), 0x35);
});

// ---- EOI ----------------------------------------------------------------------------------------

test('edge EOI is accelerated: highest ISR cleared, pending vector recognised', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  avicSetIrr(m, 0, 0x80, false);
  avicSetIrr(m, 0, 0x81, false);
  avicVmrun(m, 0);
  assert.equal(avicDeliver(m, 0, true), 0x81);
  assert.equal(avicDeliver(m, 0, true), -1); // same class as the one in service
  assert.equal(avicEoi(m, 0), AVIC_EXIT.NONE);
  assert.deepEqual(regVectors(m, AVIC_BACKING.ISR), []);
  assert.equal(avicPending(m, 0), 0x80);
  assert.equal(avicDeliver(m, 0, true), 0x80);
});

test('level EOI is not accelerated: AVIC_NOACCEL trap, ISR unchanged until KVM emulates it', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  avicSetIrr(m, 0, 0x90, true);
  avicVmrun(m, 0);
  assert.equal(avicDeliver(m, 0, true), 0x90);
  assert.equal(avicEoi(m, 0), AVIC_EXIT.NOACCEL);
  assert.deepEqual(regVectors(m, AVIC_BACKING.ISR), [0x90]);
  assert.equal(avicEoiEmulate(m, 0), 0x90);
  assert.deepEqual(regVectors(m, AVIC_BACKING.ISR), []);
});

test('EOI clears the highest ISR bit, and the trap depends on that vector only', () => {
  const m = new Uint32Array(AVIC_BACKING.SIZE);
  regSet(m, AVIC_BACKING.ISR, 0x30);
  regSet(m, AVIC_BACKING.TMR, 0x30); // level, but not the highest
  regSet(m, AVIC_BACKING.ISR, 0x70);
  assert.equal(avicEoi(m, 0), AVIC_EXIT.NONE);
  assert.deepEqual(regVectors(m, AVIC_BACKING.ISR), [0x30]);
  assert.equal(avicEoi(m, 0), AVIC_EXIT.NOACCEL);
  assert.equal(avicEoi(new Uint32Array(AVIC_BACKING.SIZE), 0), AVIC_EXIT.NONE);
});

// ---- guest ICR write ----------------------------------------------------------------------------

/** Three vCPUs: 0 sender (running on host 10), 1 running on host 11, 2 valid but not running. */
function ipiVm() {
  const w = vm(4);
  avicPhysWrite(w.m, w.table, 0, { hostApicId: 10, backingPage: 0, isRunning: true, valid: true });
  avicPhysWrite(w.m, w.table, 1, { hostApicId: 11, backingPage: 1, isRunning: true, valid: true });
  avicPhysWrite(w.m, w.table, 2, { hostApicId: 12, backingPage: 2, isRunning: false, valid: true });
  // entry 3 stays invalid
  return { ...w, out: new Uint32Array(avicIcrOutSize(4)) };
}

test('ICR write to a running target: IRR set and doorbell to its host APIC ID, no exit', () => {
  const w = ipiVm();
  const r = avicIcrWrite(w.m, w.table, w.pages, w.page(0), icr(0x31), 1 << 24, [1], 1, false, w.out);
  assert.equal(r, AVIC_EXIT.NONE);
  assert.equal(w.out[AVIC_ICR_OUT.EXIT], AVIC_EXIT.NONE);
  assert.equal(w.out[AVIC_ICR_OUT.NOTED], 0);
  assert.deepEqual(regVectors(w.m, w.page(1) + AVIC_BACKING.IRR), [0x31]);
  assert.equal(w.out[AVIC_ICR_OUT.DOORBELLS], 1);
  assert.equal(w.out[AVIC_ICR_OUT.DOORBELL0], 11);
  assert.equal(w.m[w.page(0) + AVIC_BACKING.ICR_LO], icr(0x31));
  assert.equal(w.m[w.page(0) + AVIC_BACKING.ICR_HI], 1 << 24);
  // the doorbell, delivered by the system layer, makes the target notice it
  assert.equal(avicDoorbell(w.m, w.page(1)), 0x31);
});

test('ICR write to a non-running target: IRR set, then AVIC_INCOMPLETE_IPI with TARGET_NOT_RUNNING', () => {
  const w = ipiVm();
  const r = avicIcrWrite(w.m, w.table, w.pages, w.page(0), icr(0x32), 0, [1, 2], 2, false, w.out);
  assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI);
  assert.equal(w.out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.TARGET_NOT_RUNNING);
  assert.equal(w.out[AVIC_ICR_OUT.INDEX], 2);
  assert.equal(w.out[AVIC_ICR_OUT.IRR_SET], 2);
  assert.ok(regTest(w.m, w.page(1) + AVIC_BACKING.IRR, 0x32));
  assert.ok(regTest(w.m, w.page(2) + AVIC_BACKING.IRR, 0x32));
  assert.equal(w.out[AVIC_ICR_OUT.DOORBELLS], 1);
  assert.equal(w.out[AVIC_ICR_OUT.DOORBELL0], 11);
});

test('ICR write to an invalid target: INVALID_TARGET after the valid targets got their IRR bit', () => {
  const w = ipiVm();
  const r = avicIcrWrite(w.m, w.table, w.pages, w.page(0), icr(0x33), 0, [3, 1, 2], 3, false, w.out);
  assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI);
  assert.equal(w.out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.INVALID_TARGET);
  assert.equal(w.out[AVIC_ICR_OUT.INDEX], 3);
  assert.equal(
    w.out[AVIC_ICR_OUT.NOTED],
    (1 << AVIC_IPI_FAILURE.INVALID_TARGET) | (1 << AVIC_IPI_FAILURE.TARGET_NOT_RUNNING),
  );
  assert.ok(regTest(w.m, w.page(1) + AVIC_BACKING.IRR, 0x33));
  assert.ok(regTest(w.m, w.page(2) + AVIC_BACKING.IRR, 0x33));
  assert.deepEqual(regVectors(w.m, w.page(3) + AVIC_BACKING.IRR), []);
});

test('a broadcast shorthand skips invalid entries instead of exiting', () => {
  const w = ipiVm();
  const allButSelf = icr(0x34, { shorthand: 3 });
  const r = avicIcrWrite(w.m, w.table, w.pages, w.page(0), allButSelf, 0, [1, 3], 2, false, w.out);
  assert.equal(r, AVIC_EXIT.NONE);
  assert.ok(regTest(w.m, w.page(1) + AVIC_BACKING.IRR, 0x34));
  // a physical all-ones broadcast resolved by the caller behaves the same
  assert.equal(
    avicIcrWrite(w.m, w.table, w.pages, w.page(0), icr(0x35), 0xff << 24, [1, 3], 2, true, w.out),
    0,
  );
});

test('non-fixed delivery modes and level trigger: INVALID_INT_TYPE, no IRR touched', () => {
  for (const [lo, name] of [
    [icr(0x40, { mode: 1 }), 'lowest priority'],
    [icr(0x40, { mode: 4 }), 'NMI'],
    [icr(0, { mode: 5 }), 'INIT'],
    [icr(0x40, { level: true }), 'level'],
  ] as const) {
    const w = ipiVm();
    const r = avicIcrWrite(w.m, w.table, w.pages, w.page(0), lo, 0, [1, 2], 2, false, w.out);
    assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI, name);
    assert.equal(w.out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.INVALID_INT_TYPE, name);
    assert.equal(w.out[AVIC_ICR_OUT.IRR_SET], 0, name);
    for (let i = 0; i < 4; i++) assert.deepEqual(regVectors(w.m, w.page(i) + AVIC_BACKING.IRR), [], name);
  }
});

test('vector < 16: INVALID_IPI_VECTOR, no IRR touched', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 1 }), (v, sh) => {
      const w = ipiVm();
      const r = avicIcrWrite(
        w.m,
        w.table,
        w.pages,
        w.page(0),
        icr(v, { shorthand: sh }),
        0,
        [1],
        1,
        false,
        w.out,
      );
      assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI);
      assert.equal(w.out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.INVALID_IPI_VECTOR);
      for (let i = 0; i < 4; i++) assert.deepEqual(regVectors(w.m, w.page(i) + AVIC_BACKING.IRR), []);
    }),
  );
});

test('self-IPI sets only the local IRR, needs no table entry, and is recognised at once', () => {
  const w = ipiVm();
  avicPhysWrite(w.m, w.table, 0, { hostApicId: 10, backingPage: 0, isRunning: false, valid: false });
  const r = avicIcrWrite(
    w.m,
    w.table,
    w.pages,
    w.page(0),
    icr(0x50, { shorthand: 1 }),
    0,
    [1, 2],
    2,
    false,
    w.out,
  );
  assert.equal(r, AVIC_EXIT.NONE);
  assert.equal(w.out[AVIC_ICR_OUT.SELF], 1);
  assert.equal(w.out[AVIC_ICR_OUT.DOORBELLS], 0);
  assert.deepEqual(regVectors(w.m, w.page(0) + AVIC_BACKING.IRR), [0x50]);
  for (let i = 1; i < 4; i++) assert.deepEqual(regVectors(w.m, w.page(i) + AVIC_BACKING.IRR), []);
  assert.equal(avicPending(w.m, w.page(0)), 0x50);
});

test('ICR outcome property: every valid target gets IRR[v]; doorbells = running targets; cause as specified', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ valid: fc.boolean(), isRunning: fc.boolean() }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 16, max: 255 }),
      (entries, v) => {
        const n = entries.length;
        const w = vm(n + 1); // slot/index n is the sender
        entries.forEach((e, i) => {
          avicPhysWrite(w.m, w.table, i, { hostApicId: 100 + i, backingPage: i, ...e });
        });
        const targets = entries.map((_, i) => i);
        const out = new Uint32Array(avicIcrOutSize(n));
        const r = avicIcrWrite(w.m, w.table, w.pages, w.page(n), icr(v), 0, targets, n, false, out);
        const anyInvalid = entries.some((e) => !e.valid);
        const anyNotRunning = entries.some((e) => e.valid && !e.isRunning);
        entries.forEach((e, i) => {
          assert.equal(regTest(w.m, w.page(i) + AVIC_BACKING.IRR, v), e.valid);
        });
        const rung = entries.flatMap((e, i) => (e.valid && e.isRunning ? [100 + i] : []));
        assert.deepEqual(
          [...out.subarray(AVIC_ICR_OUT.DOORBELL0, AVIC_ICR_OUT.DOORBELL0 + out[AVIC_ICR_OUT.DOORBELLS])],
          rung,
        );
        if (anyInvalid) {
          assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI);
          assert.equal(out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.INVALID_TARGET);
          assert.equal(
            out[AVIC_ICR_OUT.INDEX],
            entries.findIndex((e) => !e.valid),
          );
        } else if (anyNotRunning) {
          assert.equal(r, AVIC_EXIT.INCOMPLETE_IPI);
          assert.equal(out[AVIC_ICR_OUT.CAUSE], AVIC_IPI_FAILURE.TARGET_NOT_RUNNING);
          assert.equal(
            out[AVIC_ICR_OUT.INDEX],
            entries.findIndex((e) => e.valid && !e.isRunning),
          );
        } else {
          assert.equal(r, AVIC_EXIT.NONE);
        }
      },
    ),
  );
});

// ---- IOMMU GA posting ---------------------------------------------------------------------------

function gaVm(flags: { isRun: boolean; gaLogIntr: boolean }) {
  const w = vm(2);
  gaIrteWrite(w.m, w.irte, {
    remapEn: true,
    supIopf: false,
    gaPpiDisable: false,
    guestMode: true,
    destination: 0x1234_5678,
    gaTag: 0xdead_beef,
    vector: 0x61,
    gaRootPtr: 1,
    ...flags,
  });
  return w;
}

test('GA posting, IsRun = 1: IRR set and doorbell to Destination', () => {
  const w = gaVm({ isRun: true, gaLogIntr: true });
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 0x0010), GA_POST.DOORBELL);
  assert.equal(gaIrteDestination(w.m, w.irte), 0x1234_5678);
  assert.deepEqual(regVectors(w.m, w.page(1) + AVIC_BACKING.IRR), [0x61]);
  assert.deepEqual(regVectors(w.m, w.page(0) + AVIC_BACKING.IRR), []);
  assert.equal(gaLogCount(w.m, w.log), 0);
});

test('GA posting, IsRun = 0 and GALogIntr = 1: IRR set, {GATag, device ID} logged, GAInt raised', () => {
  const w = gaVm({ isRun: false, gaLogIntr: true });
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 0x00a5), GA_POST.LOGGED);
  assert.deepEqual(regVectors(w.m, w.page(1) + AVIC_BACKING.IRR), [0x61]);
  assert.equal(gaLogCount(w.m, w.log), 1);
  assert.ok((w.m[w.log + GA_LOG.STATUS] & GA_LOG_STATUS.INT) !== 0);
  // entry format: GATag in bits 31:0, device ID in 47:32, type GA_GUEST_NR (1) in 63:60
  const e = w.log + GA_LOG.ENTRIES;
  assert.equal(w.m[e], 0xdead_beef);
  assert.equal(w.m[e + 1], (1 << 28) | 0x00a5);
  const got = new Uint32Array(2);
  assert.ok(gaLogPop(w.m, w.log, got, 0));
  assert.deepEqual([...got], [0xdead_beef, 0x00a5]);
  assert.ok(!gaLogPop(w.m, w.log, got, 0));
  gaLogClearInt(w.m, w.log);
  assert.equal(w.m[w.log + GA_LOG.STATUS] & GA_LOG_STATUS.INT, 0);
});

test('GA posting, IsRun = 0 and GALogIntr = 0: IRR set silently', () => {
  const w = gaVm({ isRun: false, gaLogIntr: false });
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 7), GA_POST.SILENT);
  assert.deepEqual(regVectors(w.m, w.page(1) + AVIC_BACKING.IRR), [0x61]);
  assert.equal(gaLogCount(w.m, w.log), 0);
  assert.equal(w.m[w.log + GA_LOG.STATUS], GA_LOG_STATUS.RUN);
});

test('GA posting ignores IRTEs that are not valid GA-mode entries', () => {
  const w = gaVm({ isRun: true, gaLogIntr: false });
  w.m[w.irte] &= ~(1 << 7); // GuestMode = 0
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 7), GA_POST.NOT_GA);
  assert.deepEqual(regVectors(w.m, w.page(1) + AVIC_BACKING.IRR), []);
});

test('GA log overflow: entries beyond capacity are dropped, GALOverflow set, logging stops until restart', () => {
  const w = gaVm({ isRun: false, gaLogIntr: true });
  for (let i = 0; i < GA_LOG_CAPACITY; i++) {
    assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, i), GA_POST.LOGGED);
  }
  assert.equal(gaLogCount(w.m, w.log), GA_LOG_CAPACITY);
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 99), GA_POST.LOG_DROPPED);
  const st = w.m[w.log + GA_LOG.STATUS];
  assert.ok((st & GA_LOG_STATUS.OVERFLOW) !== 0);
  assert.equal(st & GA_LOG_STATUS.RUN, 0);
  assert.ok(regTest(w.m, w.page(1) + AVIC_BACKING.IRR, 0x61)); // the IRR bit is still set
  // draining alone does not resume logging
  const got = new Uint32Array(2);
  const devs: number[] = [];
  while (gaLogPop(w.m, w.log, got, 0)) devs.push(got[1]);
  assert.deepEqual(
    devs,
    Array.from({ length: GA_LOG_CAPACITY }, (_, i) => i),
  );
  assert.equal(gaLogAppend(w.m, w.log, 1, 1), false);
  // restart: overflow cleared, logging on, the ring keeps its pointers
  assert.ok(gaLogRestart(w.m, w.log));
  assert.ok(!gaLogRestart(w.m, w.log));
  assert.equal(w.m[w.log + GA_LOG.STATUS] & (GA_LOG_STATUS.OVERFLOW | GA_LOG_STATUS.RUN), GA_LOG_STATUS.RUN);
  assert.equal(iommuGaPost(w.m, w.irte, w.pages, w.log, 42), GA_POST.LOGGED);
  assert.ok(gaLogPop(w.m, w.log, got, 0));
  assert.equal(got[1], 42);
});

test('GA log ring property: FIFO order, count never exceeds capacity, drops iff full or stopped', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant('pop' as const), fc.integer({ min: 0, max: 0xffff })), { maxLength: 60 }),
      (ops) => {
        const m = new Uint32Array(GA_LOG.SIZE);
        gaLogInit(m, 0);
        const ref: number[] = [];
        let running = true;
        const got = new Uint32Array(2);
        for (const op of ops) {
          if (op === 'pop') {
            const ok = gaLogPop(m, 0, got, 0);
            assert.equal(ok, ref.length > 0);
            if (ok) assert.equal(got[1], ref.shift());
            if (!running && ref.length === 0) {
              assert.ok(gaLogRestart(m, 0));
              running = true;
            }
          } else {
            const ok = gaLogAppend(m, 0, op ^ 0x5a5a, op);
            const expect: boolean = running && ref.length < GA_LOG_CAPACITY;
            assert.equal(ok, expect);
            if (expect) ref.push(op);
            else running = false;
          }
          assert.equal(gaLogCount(m, 0), ref.length);
          assert.equal((m[GA_LOG.STATUS] & GA_LOG_STATUS.OVERFLOW) !== 0, !running);
        }
      },
    ),
  );
});
