/**
 * I/O APIC: 24 input pins, each routed by a 64-bit redirection entry to an interrupt message for the
 * local APICs. Modelled on the Intel 82093AA I/O APIC datasheet and on KVM's in-kernel emulation
 * (arch/x86/kvm/ioapic.c), whose behaviour it follows where the datasheet leaves room.
 *
 * State lives in a Uint32Array at an offset (see `IOAPIC`): entry i is two words, low (bits 31:0)
 * at REDTBL + 2i and high (bits 63:32) at REDTBL + 2i + 1, followed by one word holding the current
 * level of every input line (bit i = pin i asserted). The `level` passed to `ioapicSetLine` is the
 * logical state (1 = asserted), as KVM receives it from its IRQ sources; the polarity bit is stored
 * for software to read back but not applied.
 *
 * Messages. An operation that sends returns the message packed in one unsigned 32-bit number, or
 * `IOAPIC_NO_MSG` (0); `ioapicEoi`, which can send several, writes them into a caller-owned
 * Uint32Array and returns the count. Nothing is allocated. Bits 15:0 follow the ICR low word and the
 * MSI data register, so a message is never 0:
 *
 *   7:0 vector | 10:8 delivery mode | 11 destination mode (1 logical) | 14 level, always 1 (assert) |
 *   15 trigger mode (1 level) | 20:16 source pin (not on the bus; for traces) | 31:24 destination
 *
 * A message is sent on the step that causes it, so the delivery-status bit (12) always reads 0, and
 * remote IRR is set when a level message is sent (the datasheet sets it when a local APIC accepts
 * the message; KVM sets it once the message is handed to the local APICs).
 *
 * Errors: a pin out of 0..23 or a vector out of 0..255 throws `UserError`; an `out` array shorter
 * than 24 throws RangeError (a programming error).
 *
 * Not modelled: the ID, version and arbitration registers and the IOREGSEL/IOWIN window; the EOI
 * register of later I/O APICs (directed EOI); KVM's interrupt-storm throttle on repeated EOIs
 * (IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT), its RTC special case, and the extended destination ID in
 * bits 55:49.
 */

import { UserError } from '../../errors.ts';

export const IOAPIC_PINS = 24;

/** Layout of one I/O APIC inside the World. */
export const IOAPIC = {
  /** 24 entries x 2 words: low word at REDTBL + 2 * pin, high word at REDTBL + 2 * pin + 1. */
  REDTBL: 0,
  /** Bit `pin` = 1 while the input line is asserted. */
  LINES: 2 * IOAPIC_PINS,
  /** The I/O APIC's ID, bits 27:24 of IOAPICID (4 bits). */
  ID: 2 * IOAPIC_PINS + 1,
  SIZE: 2 * IOAPIC_PINS + 2,
} as const;

/** Indexes of the registers reached through IOREGSEL/IOWIN (82093AA datasheet, "Register Address Map"). */
export const IOAPIC_REG = { ID: 0, VERSION: 1, ARB: 2 } as const;

/**
 * IOAPICVER: version 11H, and the maximum redirection entry (the entry count - 1) in bits 23:16
 * (82093AA datasheet, "IOAPICVER"; KVM's emulated I/O APIC reports the same, IOAPIC_VERSION_ID with
 * IOAPIC_NUM_PINS - 1, in ioapic_read_indirect).
 */
export const IOAPIC_VERSION = 0x11 | ((IOAPIC_PINS - 1) << 16);

/**
 * A read of register `index` through IOWIN (82093AA datasheet, "I/O APIC Registers"): IOAPICID
 * holds the ID in bits 27:24; IOAPICVER is constant; IOAPICARB holds the arbitration ID in bits
 * 27:24, which is loaded with the ID whenever IOAPICID is written (so it reads as the ID; KVM's
 * ioapic_read_indirect returns the ID for both). Indexes 10H-3FH are the redirection entries.
 */
export function ioapicReadReg(m: Uint32Array, o: number, index: number): number {
  if (index === IOAPIC_REG.VERSION) return IOAPIC_VERSION;
  if (index === IOAPIC_REG.ID || index === IOAPIC_REG.ARB) return ((m[o + IOAPIC.ID] & 0xf) << 24) >>> 0;
  if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
    const pin = (index - 0x10) >>> 1;
    return (index & 1) === 0 ? ioapicReadRedirLo(m, o, pin) : ioapicReadRedirHi(m, o, pin);
  }
  return 0;
}

/**
 * A write of register `index` through IOWIN: only bits 27:24 of IOAPICID are writable (the rest of
 * it, IOAPICVER and IOAPICARB are read-only); redirection entries go through ioapicWriteRedirLo/Hi,
 * whose message, if any, is returned.
 */
export function ioapicWriteReg(m: Uint32Array, o: number, index: number, value: number): number {
  if (index === IOAPIC_REG.ID) {
    m[o + IOAPIC.ID] = (value >>> 24) & 0xf;
    return IOAPIC_NO_MSG;
  }
  if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
    const pin = (index - 0x10) >>> 1;
    return (index & 1) === 0 ? ioapicWriteRedirLo(m, o, pin, value) : ioapicWriteRedirHi(m, o, pin, value);
  }
  return IOAPIC_NO_MSG;
}

/** Fields of a redirection entry's low word (82093AA, "I/O Redirection Table Registers"). */
export const RTE = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DEST_MODE: 1 << 11,
  /** Read-only: 1 = message waiting to be sent. */
  DELIVERY_STATUS: 1 << 12,
  /** 1 = active low. */
  POLARITY: 1 << 13,
  /** Read-only: a level message was accepted and its EOI has not come back. */
  REMOTE_IRR: 1 << 14,
  /** 1 = level. */
  TRIGGER_MODE: 1 << 15,
  MASK: 1 << 16,
  /** Destination: bits 63:56 of the entry = bits 31:24 of the high word. */
  DEST_SHIFT: 24,
} as const;

/** I/O APIC delivery modes (bits 10:8). 3 and 6 are reserved. */
export const IOAPIC_DELIVERY_MODE = {
  FIXED: 0,
  LOWEST_PRIORITY: 1,
  SMI: 2,
  NMI: 4,
  INIT: 5,
  EXTINT: 7,
} as const;
export type IoapicDeliveryMode = (typeof IOAPIC_DELIVERY_MODE)[keyof typeof IOAPIC_DELIVERY_MODE];

export const IOAPIC_NO_MSG = 0;

/**
 * Low-word bits software can write: vector, delivery mode, destination mode, polarity, trigger mode
 * and mask. Reserved bits 31:17 are dropped (KVM stores them; nothing reads them) and the read-only
 * bits are kept from the old value.
 */
const LO_WRITABLE = 0xfff | RTE.POLARITY | RTE.TRIGGER_MODE | RTE.MASK;
/** High-word bits software can write: the destination only. */
const HI_WRITABLE = 0xff000000;
const MSG_LEVEL = 1 << 14;

/** Fields software sets in a redirection entry. */
export interface RedirEntryFields {
  vector: number;
  deliveryMode: IoapicDeliveryMode;
  destMode: 0 | 1;
  polarity: 0 | 1;
  triggerMode: 0 | 1;
  mask: 0 | 1;
  dest: number;
}

/** A redirection entry as read back, including the read-only bits. */
export interface RedirEntry extends RedirEntryFields {
  deliveryStatus: 0 | 1;
  remoteIrr: 0 | 1;
}

/** A decoded message (traces and tests; the hot path reads the packed number). */
export interface IoapicMsg {
  vector: number;
  deliveryMode: number;
  destMode: 0 | 1;
  triggerMode: 0 | 1;
  pin: number;
  dest: number;
}

function checkPin(pin: number): void {
  if (!(pin >= 0 && pin < IOAPIC_PINS && Number.isInteger(pin)))
    throw new UserError(`I/O APIC pin ${pin} is not in 0..${IOAPIC_PINS - 1}`);
}

function lo(o: number, pin: number): number {
  return o + IOAPIC.REDTBL + 2 * pin;
}

/**
 * Power-on state: every entry masked, everything else 0, all lines low. The datasheet gives the mask
 * bit as 1 after reset and the other fields as undefined; KVM's kvm_ioapic_reset sets only the mask.
 */
export function ioapicReset(m: Uint32Array, o: number): void {
  m.fill(0, o, o + IOAPIC.SIZE);
  for (let p = 0; p < IOAPIC_PINS; p++) m[lo(o, p)] = RTE.MASK;
}

function packMsg(l: number, h: number, pin: number): number {
  return ((l & 0x8fff) | MSG_LEVEL | (pin << 16) | (h & HI_WRITABLE)) >>> 0;
}

/**
 * Sends the entry's message if it may: not masked and, for a level entry, remote IRR clear, which
 * it then sets. The caller has already decided that the input calls for a message (a rising edge,
 * or an asserted level). This is KVM's ioapic_service.
 */
function service(m: Uint32Array, o: number, pin: number): number {
  const i = lo(o, pin);
  const l = m[i];
  if (l & RTE.MASK) return IOAPIC_NO_MSG;
  if (l & RTE.TRIGGER_MODE) {
    if (l & RTE.REMOTE_IRR) return IOAPIC_NO_MSG;
    m[i] = l | RTE.REMOTE_IRR;
  }
  return packMsg(l, m[i + 1], pin);
}

/** A level entry whose line is asserted is re-examined after a write (KVM ioapic_write_indirect). */
function serviceAfterWrite(m: Uint32Array, o: number, pin: number): number {
  if (m[lo(o, pin)] & RTE.TRIGGER_MODE && (m[o + IOAPIC.LINES] >>> pin) & 1) return service(m, o, pin);
  return IOAPIC_NO_MSG;
}

/**
 * Sets input line `pin` to `level` (1 asserted) and returns the message this sends, or
 * `IOAPIC_NO_MSG`. This is KVM's kvm_ioapic_set_irq / ioapic_set_irq followed by ioapic_service.
 *
 * - Edge entry: only a 0 -> 1 transition sends, and only if unmasked. A rising edge on a masked
 *   entry is lost, not remembered: unmasking later sends nothing (the datasheet masks the input;
 *   KVM re-services only level entries on unmask).
 * - Level entry: while the line is asserted, the entry sends once remote IRR is 0 and it is
 *   unmasked, and sets remote IRR, which blocks further messages until the EOI (`ioapicEoi`).
 *   De-asserting the line sends nothing and leaves remote IRR alone.
 */
export function ioapicSetLine(m: Uint32Array, o: number, pin: number, level: 0 | 1): number {
  checkPin(pin);
  const bit = 1 << pin;
  const lines = m[o + IOAPIC.LINES];
  if (!level) {
    m[o + IOAPIC.LINES] = lines & ~bit;
    return IOAPIC_NO_MSG;
  }
  m[o + IOAPIC.LINES] = lines | bit;
  if (m[lo(o, pin)] & RTE.TRIGGER_MODE) return service(m, o, pin);
  return lines & bit ? IOAPIC_NO_MSG : service(m, o, pin);
}

/**
 * An EOI message for `vector` broadcast by a local APIC (the EOI of a level-triggered vector, i.e.
 * its TMR bit was set). Every level entry with that vector gets remote IRR cleared; one whose line is
 * still asserted and that is unmasked sends again at once (KVM kvm_ioapic_update_eoi then
 * ioapic_service; in the datasheet the EOI clears remote IRR and a level input that is still
 * active is then serviced as a new interrupt).
 * The messages are written to out[0..n) in pin order and n is returned. Edge entries never hold
 * remote IRR in this model (see `ioapicWriteRedirLo`), so they are unaffected.
 */
export function ioapicEoi(m: Uint32Array, o: number, vector: number, out: Uint32Array): number {
  if (!(vector >= 0 && vector <= 0xff && Number.isInteger(vector)))
    throw new UserError(`EOI vector ${vector} is not in 0..255`);
  if (out.length < IOAPIC_PINS) throw new RangeError(`ioapicEoi needs an out array of ${IOAPIC_PINS} words`);
  const lines = m[o + IOAPIC.LINES];
  let n = 0;
  for (let p = 0; p < IOAPIC_PINS; p++) {
    const i = lo(o, p);
    const l = m[i];
    if ((l & RTE.VECTOR) !== vector || !(l & RTE.TRIGGER_MODE)) continue;
    m[i] = l & ~RTE.REMOTE_IRR;
    if ((lines >>> p) & 1) {
      const msg = service(m, o, p);
      if (msg !== IOAPIC_NO_MSG) out[n++] = msg;
    }
  }
  return n;
}

/**
 * Software write of the entry's low word (IOWIN with IOREGSEL = 0x10 + 2 * pin). Delivery status
 * and remote IRR are read-only and keep their values, except that an entry written as edge
 * triggered gets remote IRR cleared: Linux and Xen rely on this to retire a stuck remote IRR on
 * I/O APICs without an EOI register, and KVM implements it (ioapic_write_indirect).
 *
 * Afterwards a level entry whose line is asserted, with remote IRR 0 and unmasked, sends: this is
 * how a level interrupt that arrived while masked is delivered on unmask. Returns that message or
 * `IOAPIC_NO_MSG`. An edge entry never sends on a write.
 */
export function ioapicWriteRedirLo(m: Uint32Array, o: number, pin: number, value: number): number {
  checkPin(pin);
  const i = lo(o, pin);
  let l = (value & LO_WRITABLE) | (m[i] & RTE.REMOTE_IRR);
  if (!(l & RTE.TRIGGER_MODE)) l &= ~RTE.REMOTE_IRR;
  m[i] = l >>> 0;
  return serviceAfterWrite(m, o, pin);
}

/**
 * Software write of the entry's high word (IOREGSEL = 0x11 + 2 * pin): only the destination,
 * bits 31:24, is kept. Returns a message on the same rule as the low write; in practice none,
 * since no operation leaves an unmasked, asserted level entry with remote IRR 0.
 */
export function ioapicWriteRedirHi(m: Uint32Array, o: number, pin: number, value: number): number {
  checkPin(pin);
  m[lo(o, pin) + 1] = (value & HI_WRITABLE) >>> 0;
  return serviceAfterWrite(m, o, pin);
}

/** Writes a whole entry, high word first so that a message sent by the low write uses the new destination. */
export function ioapicWriteRedir(
  m: Uint32Array,
  o: number,
  pin: number,
  loValue: number,
  hiValue: number,
): number {
  ioapicWriteRedirHi(m, o, pin, hiValue);
  return ioapicWriteRedirLo(m, o, pin, loValue);
}

/** Sets or clears the mask bit alone (a read-modify-write of the low word); returns what the write sends. */
export function ioapicSetMasked(m: Uint32Array, o: number, pin: number, masked: boolean): number {
  checkPin(pin);
  const l = m[lo(o, pin)];
  return ioapicWriteRedirLo(m, o, pin, masked ? l | RTE.MASK : l & ~RTE.MASK);
}

export function ioapicReadRedirLo(m: Uint32Array, o: number, pin: number): number {
  checkPin(pin);
  return m[lo(o, pin)];
}

export function ioapicReadRedirHi(m: Uint32Array, o: number, pin: number): number {
  checkPin(pin);
  return m[lo(o, pin) + 1];
}

export function ioapicRemoteIrr(m: Uint32Array, o: number, pin: number): boolean {
  checkPin(pin);
  return (m[lo(o, pin)] & RTE.REMOTE_IRR) !== 0;
}

/** Current level of input line `pin` (1 asserted). */
export function ioapicLine(m: Uint32Array, o: number, pin: number): 0 | 1 {
  checkPin(pin);
  return ((m[o + IOAPIC.LINES] >>> pin) & 1) as 0 | 1;
}

/** Encodes entry fields into the two words to write. Throws `UserError` on an out-of-range field. */
export function encodeRedirEntry(e: RedirEntryFields): { lo: number; hi: number } {
  if (!(e.vector >= 0 && e.vector <= 0xff && Number.isInteger(e.vector)))
    throw new UserError(`redirection entry vector ${e.vector} is not in 0..255`);
  const dm: number = e.deliveryMode;
  if (!(dm >= 0 && dm <= 7 && Number.isInteger(dm)) || dm === 3 || dm === 6)
    throw new UserError(`redirection entry delivery mode ${dm} is not one of 0, 1, 2, 4, 5, 7`);
  if (!(e.dest >= 0 && e.dest <= 0xff && Number.isInteger(e.dest)))
    throw new UserError(`redirection entry destination ${e.dest} is not in 0..255`);
  const l =
    e.vector |
    (dm << RTE.DELIVERY_MODE_SHIFT) |
    (e.destMode ? RTE.DEST_MODE : 0) |
    (e.polarity ? RTE.POLARITY : 0) |
    (e.triggerMode ? RTE.TRIGGER_MODE : 0) |
    (e.mask ? RTE.MASK : 0);
  return { lo: l >>> 0, hi: (e.dest << RTE.DEST_SHIFT) >>> 0 };
}

/** Reads and decodes entry `pin` (traces and tests). */
export function ioapicReadEntry(m: Uint32Array, o: number, pin: number): RedirEntry {
  const l = ioapicReadRedirLo(m, o, pin);
  const h = ioapicReadRedirHi(m, o, pin);
  return {
    vector: l & RTE.VECTOR,
    deliveryMode: ((l >>> RTE.DELIVERY_MODE_SHIFT) & 7) as IoapicDeliveryMode,
    destMode: l & RTE.DEST_MODE ? 1 : 0,
    deliveryStatus: l & RTE.DELIVERY_STATUS ? 1 : 0,
    polarity: l & RTE.POLARITY ? 1 : 0,
    remoteIrr: l & RTE.REMOTE_IRR ? 1 : 0,
    triggerMode: l & RTE.TRIGGER_MODE ? 1 : 0,
    mask: l & RTE.MASK ? 1 : 0,
    dest: h >>> RTE.DEST_SHIFT,
  };
}

export function ioapicMsgVector(msg: number): number {
  return msg & 0xff;
}

export function ioapicMsgDest(msg: number): number {
  return msg >>> 24;
}

export function ioapicMsgPin(msg: number): number {
  return (msg >>> 16) & 0x1f;
}

export function ioapicMsgIsLevel(msg: number): boolean {
  return (msg & RTE.TRIGGER_MODE) !== 0;
}

/** Decodes a packed message (traces and tests). */
/** The message's delivery mode (IOAPIC_DELIVERY_MODE), allocation-free. */
export function ioapicMsgDeliveryMode(msg: number): number {
  return (msg >>> 8) & 7;
}

export function decodeIoapicMsg(msg: number): IoapicMsg {
  return {
    vector: msg & 0xff,
    deliveryMode: (msg >>> 8) & 7,
    destMode: msg & RTE.DEST_MODE ? 1 : 0,
    triggerMode: msg & RTE.TRIGGER_MODE ? 1 : 0,
    pin: ioapicMsgPin(msg),
    dest: ioapicMsgDest(msg),
  };
}
