import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../../src/errors.ts';
import {
  decodeIoapicMsg,
  encodeRedirEntry,
  IOAPIC,
  IOAPIC_DELIVERY_MODE,
  IOAPIC_NO_MSG,
  IOAPIC_PINS,
  IOAPIC_REG,
  type IoapicMsg,
  ioapicEoi,
  ioapicLine,
  ioapicMsgDest,
  ioapicMsgIsLevel,
  ioapicMsgPin,
  ioapicMsgVector,
  ioapicReadEntry,
  ioapicReadRedirHi,
  ioapicReadRedirLo,
  ioapicReadReg,
  ioapicRemoteIrr,
  ioapicReset,
  ioapicSetLine,
  ioapicSetMasked,
  ioapicWriteRedir,
  ioapicWriteRedirHi,
  ioapicWriteRedirLo,
  ioapicWriteReg,
  RTE,
} from '../../../src/model/hw/ioapic.ts';

const O = 5; // a non-zero offset, with guard words on both sides
const out = new Uint32Array(IOAPIC_PINS);

function fresh(): Uint32Array {
  const m = new Uint32Array(O + IOAPIC.SIZE + 3).fill(0xdeadbeef);
  ioapicReset(m, O);
  return m;
}

function program(
  m: Uint32Array,
  pin: number,
  vector: number,
  level: boolean,
  masked = false,
  dest = 1,
): number {
  const e = encodeRedirEntry({
    vector,
    deliveryMode: IOAPIC_DELIVERY_MODE.FIXED,
    destMode: 0,
    polarity: 0,
    triggerMode: level ? 1 : 0,
    mask: masked ? 1 : 0,
    dest,
  });
  return ioapicWriteRedir(m, O, pin, e.lo, e.hi);
}

function eoi(m: Uint32Array, vector: number): number[] {
  const n = ioapicEoi(m, O, vector, out);
  return Array.from(out.subarray(0, n));
}

test('reset masks every entry and lowers every line; guard words untouched', () => {
  const m = fresh();
  for (let p = 0; p < IOAPIC_PINS; p++) {
    assert.deepEqual(ioapicReadEntry(m, O, p), {
      vector: 0,
      deliveryMode: 0,
      destMode: 0,
      deliveryStatus: 0,
      polarity: 0,
      remoteIrr: 0,
      triggerMode: 0,
      mask: 1,
      dest: 0,
    });
    assert.equal(ioapicLine(m, O, p), 0);
  }
  assert.equal(m[O - 1], 0xdeadbeef);
  assert.equal(m[O + IOAPIC.SIZE], 0xdeadbeef);
  // A masked reset entry sends nothing.
  assert.equal(ioapicSetLine(m, O, 0, 1), IOAPIC_NO_MSG);
});

test('edge entry: sends on 0->1 only', () => {
  const m = fresh();
  assert.equal(program(m, 3, 0x41, false, false, 0x07), IOAPIC_NO_MSG);
  const msg = ioapicSetLine(m, O, 3, 1);
  assert.notEqual(msg, IOAPIC_NO_MSG);
  assert.deepEqual(decodeIoapicMsg(msg), {
    vector: 0x41,
    deliveryMode: 0,
    destMode: 0,
    triggerMode: 0,
    pin: 3,
    dest: 0x07,
  } satisfies IoapicMsg);
  assert.equal(ioapicMsgVector(msg), 0x41);
  assert.equal(ioapicMsgDest(msg), 0x07);
  assert.equal(ioapicMsgPin(msg), 3);
  assert.equal(ioapicMsgIsLevel(msg), false);
  assert.equal(ioapicRemoteIrr(m, O, 3), false);
  assert.equal(ioapicSetLine(m, O, 3, 1), IOAPIC_NO_MSG, 'held high: no new edge');
  assert.equal(ioapicSetLine(m, O, 3, 0), IOAPIC_NO_MSG);
  assert.equal(ioapicSetLine(m, O, 3, 1), msg, 'a new rising edge sends again');
  // EOI never touches an edge entry.
  assert.deepEqual(eoi(m, 0x41), []);
});

test('level entry: sends while asserted, sets remote IRR, de-assert leaves it set', () => {
  const m = fresh();
  program(m, 2, 0x50, true, false, 0xff);
  const msg = ioapicSetLine(m, O, 2, 1);
  assert.deepEqual(decodeIoapicMsg(msg), {
    vector: 0x50,
    deliveryMode: 0,
    destMode: 0,
    triggerMode: 1,
    pin: 2,
    dest: 0xff,
  } satisfies IoapicMsg);
  assert.equal(ioapicRemoteIrr(m, O, 2), true);
  assert.equal(ioapicSetLine(m, O, 2, 1), IOAPIC_NO_MSG);
  assert.equal(ioapicSetLine(m, O, 2, 0), IOAPIC_NO_MSG);
  assert.equal(ioapicRemoteIrr(m, O, 2), true);
});

test('a message is never 0, even for vector 0 to destination 0', () => {
  const m = fresh();
  program(m, 0, 0, false, false, 0);
  assert.notEqual(ioapicSetLine(m, O, 0, 1), IOAPIC_NO_MSG);
});

test('masked edge is lost, not remembered', () => {
  const m = fresh();
  program(m, 4, 0x60, false, true);
  assert.equal(ioapicSetLine(m, O, 4, 1), IOAPIC_NO_MSG);
  assert.equal(ioapicSetMasked(m, O, 4, false), IOAPIC_NO_MSG, 'unmask with the line high: still nothing');
  assert.equal(ioapicSetLine(m, O, 4, 1), IOAPIC_NO_MSG, 'no new edge');
  ioapicSetLine(m, O, 4, 0);
  assert.equal(ioapicMsgVector(ioapicSetLine(m, O, 4, 1)), 0x60);
});

test('masked level is delivered on unmask, unless the line dropped first', () => {
  const m = fresh();
  program(m, 5, 0x70, true, true);
  assert.equal(ioapicSetLine(m, O, 5, 1), IOAPIC_NO_MSG);
  assert.equal(ioapicRemoteIrr(m, O, 5), false);
  const msg = ioapicSetMasked(m, O, 5, false);
  assert.equal(ioapicMsgVector(msg), 0x70);
  assert.equal(ioapicRemoteIrr(m, O, 5), true);

  const n = fresh();
  program(n, 5, 0x70, true, true);
  ioapicSetLine(n, O, 5, 1);
  ioapicSetLine(n, O, 5, 0);
  assert.equal(ioapicSetMasked(n, O, 5, false), IOAPIC_NO_MSG);
});

test('remote IRR blocks re-delivery until the EOI', () => {
  const m = fresh();
  program(m, 6, 0x80, true);
  assert.notEqual(ioapicSetLine(m, O, 6, 1), IOAPIC_NO_MSG);
  ioapicSetLine(m, O, 6, 0);
  assert.equal(ioapicSetLine(m, O, 6, 1), IOAPIC_NO_MSG, 'blocked by remote IRR');
  ioapicSetLine(m, O, 6, 0);
  assert.deepEqual(eoi(m, 0x80), [], 'line low at EOI: nothing to re-send');
  assert.equal(ioapicRemoteIrr(m, O, 6), false);
  assert.equal(ioapicMsgVector(ioapicSetLine(m, O, 6, 1)), 0x80);
});

test('EOI with the line still asserted re-delivers and sets remote IRR again', () => {
  const m = fresh();
  program(m, 7, 0x90, true);
  const msg = ioapicSetLine(m, O, 7, 1);
  assert.deepEqual(eoi(m, 0x90), [msg]);
  assert.equal(ioapicRemoteIrr(m, O, 7), true);
  // Masked at EOI time: remote IRR is cleared but nothing is sent, until unmask.
  ioapicSetMasked(m, O, 7, true);
  assert.deepEqual(eoi(m, 0x90), []);
  assert.equal(ioapicRemoteIrr(m, O, 7), false);
  assert.equal(ioapicSetMasked(m, O, 7, false), msg);
});

test('EOI for another vector does nothing', () => {
  const m = fresh();
  program(m, 8, 0xa0, true);
  ioapicSetLine(m, O, 8, 1);
  const before = m.slice();
  assert.deepEqual(eoi(m, 0xa1), []);
  assert.deepEqual(m, before);
});

test('EOI re-sends every asserted, unmasked level pin with that vector, in pin order', () => {
  const m = fresh();
  program(m, 1, 0xb0, true, false, 1);
  program(m, 9, 0xb0, true, false, 2);
  program(m, 10, 0xb0, true, true, 3); // masked
  program(m, 11, 0xb0, false, false, 4); // edge, same vector
  const a = ioapicSetLine(m, O, 1, 1);
  const b = ioapicSetLine(m, O, 9, 1);
  ioapicSetLine(m, O, 10, 1);
  ioapicSetLine(m, O, 11, 1);
  assert.deepEqual(eoi(m, 0xb0), [a, b]);
  assert.deepEqual(
    [a, b].map((x) => ioapicMsgDest(x)),
    [1, 2],
  );
});

test('read-only bits: software cannot set or clear remote IRR or delivery status', () => {
  const m = fresh();
  // Writing RIRR and delivery status as 1 sets neither.
  ioapicWriteRedirLo(m, O, 12, 0x30 | RTE.TRIGGER_MODE | RTE.REMOTE_IRR | RTE.DELIVERY_STATUS | RTE.MASK);
  assert.equal(ioapicReadRedirLo(m, O, 12) & (RTE.REMOTE_IRR | RTE.DELIVERY_STATUS), 0);
  // Once set by delivery, a level write with RIRR = 0 does not clear it.
  ioapicSetMasked(m, O, 12, false);
  ioapicSetLine(m, O, 12, 1);
  assert.equal(ioapicRemoteIrr(m, O, 12), true);
  ioapicWriteRedirLo(m, O, 12, 0x31 | RTE.TRIGGER_MODE);
  assert.equal(ioapicRemoteIrr(m, O, 12), true);
  assert.equal(ioapicReadEntry(m, O, 12).vector, 0x31);
  // Reserved bits 31:17 of the low word and 55:32 of the entry read back as 0.
  ioapicWriteRedirLo(m, O, 12, 0xfffe0000 | 0x31 | RTE.TRIGGER_MODE);
  assert.equal(ioapicReadRedirLo(m, O, 12), (0x31 | RTE.TRIGGER_MODE | RTE.REMOTE_IRR) >>> 0);
  ioapicWriteRedirHi(m, O, 12, 0x12345678);
  assert.equal(ioapicReadRedirHi(m, O, 12), 0x12000000);
});

test('writing an entry as edge clears a stuck remote IRR (Linux/Xen EOI emulation)', () => {
  const m = fresh();
  program(m, 13, 0xc0, true);
  ioapicSetLine(m, O, 13, 1);
  ioapicSetMasked(m, O, 13, true);
  const lo = ioapicReadRedirLo(m, O, 13);
  assert.equal(ioapicWriteRedirLo(m, O, 13, lo & ~RTE.TRIGGER_MODE), IOAPIC_NO_MSG);
  assert.equal(ioapicRemoteIrr(m, O, 13), false);
  // Back to level and unmasked with the line still high: a fresh message.
  assert.equal(ioapicMsgVector(ioapicWriteRedirLo(m, O, 13, lo & ~RTE.MASK)), 0xc0);
  assert.equal(ioapicRemoteIrr(m, O, 13), true);
});

test('bad pins and vectors throw UserError; a short out array throws RangeError', () => {
  const m = fresh();
  assert.throws(() => ioapicSetLine(m, O, 24, 1), UserError);
  assert.throws(() => ioapicSetLine(m, O, -1, 1), UserError);
  assert.throws(() => ioapicWriteRedirLo(m, O, 1.5, 0), UserError);
  assert.throws(() => ioapicEoi(m, O, 256, out), UserError);
  assert.throws(() => ioapicEoi(m, O, 0x30, new Uint32Array(4)), RangeError);
  assert.throws(
    () =>
      encodeRedirEntry({
        vector: 0x30,
        deliveryMode: 3 as 0,
        destMode: 0,
        polarity: 0,
        triggerMode: 0,
        mask: 0,
        dest: 0,
      }),
    UserError,
  );
  assert.throws(
    () =>
      encodeRedirEntry({
        vector: 0x30,
        deliveryMode: 0,
        destMode: 0,
        polarity: 0,
        triggerMode: 0,
        mask: 0,
        dest: 256,
      }),
    UserError,
  );
});

// ---- property: random operation sequences against a reference model ---------------------------

/** The reference: one plain object per pin, written from the rules in the brief, not from the code. */
interface RefPin {
  vector: number;
  level: boolean;
  masked: boolean;
  dest: number;
  rirr: boolean;
  line: boolean;
}

type Op =
  | { k: 'line'; pin: number; level: 0 | 1 }
  | { k: 'eoi'; vector: number }
  | { k: 'mask'; pin: number; masked: boolean }
  | { k: 'write'; pin: number; vector: number; level: boolean; masked: boolean; dest: number };

const NPINS = 4;
const VECTORS = [0x30, 0x31];
const pinArb = fc.integer({ min: 0, max: NPINS - 1 });
const vecArb = fc.constantFrom(...VECTORS);
const cfgArb = fc.record({
  vector: vecArb,
  level: fc.boolean(),
  masked: fc.boolean(),
  dest: fc.integer({ min: 0, max: 255 }),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('line' as const),
      pin: pinArb,
      level: fc.constantFrom(0 as const, 1 as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('eoi' as const), vector: vecArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mask' as const), pin: pinArb, masked: fc.boolean() }) },
  { weight: 2, arbitrary: fc.tuple(pinArb, cfgArb).map(([pin, c]) => ({ k: 'write' as const, pin, ...c })) },
);

function refMsg(p: RefPin, pin: number): IoapicMsg {
  return { vector: p.vector, deliveryMode: 0, destMode: 0, triggerMode: p.level ? 1 : 0, pin, dest: p.dest };
}

/** A level entry that may send (asserted, unmasked, no remote IRR) sends and takes remote IRR. */
function refPoll(p: RefPin, pin: number, sent: IoapicMsg[]): void {
  if (p.level && p.line && !p.masked && !p.rirr) {
    p.rirr = true;
    sent.push(refMsg(p, pin));
  }
}

function refStep(ref: RefPin[], op: Op): IoapicMsg[] {
  const sent: IoapicMsg[] = [];
  switch (op.k) {
    case 'line': {
      const p = ref[op.pin];
      const rising = !p.line && op.level === 1;
      p.line = op.level === 1;
      if (!p.level && rising && !p.masked) sent.push(refMsg(p, op.pin));
      refPoll(p, op.pin, sent);
      break;
    }
    case 'eoi':
      ref.forEach((p, pin) => {
        if (p.level && p.vector === op.vector) {
          p.rirr = false;
          refPoll(p, pin, sent);
        }
      });
      break;
    case 'mask':
      ref[op.pin].masked = op.masked;
      refPoll(ref[op.pin], op.pin, sent);
      break;
    case 'write': {
      const p = ref[op.pin];
      Object.assign(p, { vector: op.vector, level: op.level, masked: op.masked, dest: op.dest });
      if (!p.level) p.rirr = false;
      refPoll(p, op.pin, sent);
      break;
    }
  }
  return sent;
}

function modelStep(m: Uint32Array, op: Op): number[] {
  switch (op.k) {
    case 'line':
      return nz(ioapicSetLine(m, O, op.pin, op.level));
    case 'eoi':
      return eoi(m, op.vector);
    case 'mask':
      return nz(ioapicSetMasked(m, O, op.pin, op.masked));
    case 'write':
      return nz(program(m, op.pin, op.vector, op.level, op.masked, op.dest));
  }
}

function nz(msg: number): number[] {
  return msg === IOAPIC_NO_MSG ? [] : [msg];
}

test('property: random (set line, EOI, mask/unmask, rewrite) sequences agree with the reference model', () => {
  fc.assert(
    fc.property(
      fc.array(cfgArb, { minLength: NPINS, maxLength: NPINS }),
      fc.array(opArb, { maxLength: 60 }),
      (cfgs, ops) => {
        const m = fresh();
        const ref: RefPin[] = cfgs.map((c) => ({ ...c, rirr: false, line: false }));
        cfgs.forEach((c, pin) => {
          assert.equal(program(m, pin, c.vector, c.level, c.masked, c.dest), IOAPIC_NO_MSG);
        });
        for (const op of ops) {
          const got = modelStep(m, op).map(decodeIoapicMsg);
          assert.deepEqual(got, refStep(ref, op), JSON.stringify(op));
          ref.forEach((p, pin) => {
            const e = ioapicReadEntry(m, O, pin);
            assert.equal(e.remoteIrr, p.rirr ? 1 : 0);
            assert.equal(ioapicLine(m, O, pin), p.line ? 1 : 0);
            assert.equal(e.mask, p.masked ? 1 : 0);
            assert.equal(e.deliveryStatus, 0);
            // Invariants: edge entries never hold remote IRR; no level entry is left able to send.
            if (!e.triggerMode) assert.equal(e.remoteIrr, 0);
            else assert.ok(!(p.line && !e.mask && !e.remoteIrr));
          });
          for (let pin = NPINS; pin < IOAPIC_PINS; pin++) assert.equal(ioapicReadEntry(m, O, pin).mask, 1);
          assert.equal(m[O - 1], 0xdeadbeef);
          assert.equal(m[O + IOAPIC.SIZE], 0xdeadbeef);
        }
      },
    ),
    { numRuns: 500 },
  );
});

describe('IOAPICID, IOAPICVER, IOAPICARB (82093AA datasheet; kvm-unit-tests ioapic.c ioapic_reg_*)', () => {
  test('only ID bits 27:24 are writable; the arbitration ID follows the ID; version and arbitration ignore writes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (a, b) => {
          const m = new Uint32Array(IOAPIC.SIZE);
          ioapicReset(m, 0);
          const id0 = ioapicReadReg(m, 0, IOAPIC_REG.ID);
          ioapicWriteReg(m, 0, IOAPIC_REG.ID, a);
          const id1 = ioapicReadReg(m, 0, IOAPIC_REG.ID);
          assert.equal(((id0 ^ id1) & ~0x0f000000) >>> 0, 0);
          assert.equal(id1, (a & 0x0f000000) >>> 0);
          assert.equal(ioapicReadReg(m, 0, IOAPIC_REG.ARB), id1);
          const ver = ioapicReadReg(m, 0, IOAPIC_REG.VERSION);
          ioapicWriteReg(m, 0, IOAPIC_REG.VERSION, b);
          ioapicWriteReg(m, 0, IOAPIC_REG.ARB, b);
          assert.equal(ioapicReadReg(m, 0, IOAPIC_REG.VERSION), ver);
          assert.equal(ioapicReadReg(m, 0, IOAPIC_REG.ARB), id1);
          // Version 11H; 24 entries, so the maximum redirection entry is 17H.
          assert.equal(ver & 0xff, 0x11);
          assert.equal((ver >>> 16) & 0xff, 0x17);
        },
      ),
    );
  });
});
