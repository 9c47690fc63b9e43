/**
 * The physical local APIC: IRR/ISR/TMR, TPR and the derived PPR, acceptance of fixed interrupts,
 * dispatch to the core, EOI, the spurious vector, illegal vectors, and the APIC ID / logical
 * destination registers. Source: Intel SDM Vol. 3A, chapter "Advanced Programmable Interrupt
 * Controller (APIC)", sections on IRR/ISR/TMR, "Task and Processor Priorities", "Interrupt
 * Acceptance for Fixed Interrupts", "Spurious Interrupt", "Error Handling" and "x2APIC"; KVM lapic.c
 * (__apic_update_ppr, apic_has_interrupt_for_ppr, apic_set_eoi) mirrors the same rules.
 *
 * State is a block of LAPIC.SIZE words inside a Uint32Array (see bits.ts for why).
 */
import { prioClass, processorPriority, regClear, regHighest, regSet, regTest } from './bits.ts';

export const LAPIC = {
  IRR: 0,
  ISR: 8,
  TMR: 16,
  /** Task-priority register, bits 7:0. */
  TPR: 24,
  /** Spurious-interrupt vector register: bits 7:0 vector, bit 8 APIC software enable, bit 12 suppress EOI broadcast. */
  SVR: 25,
  /** The APIC ID as a number (xAPIC: 8 bits, stored unshifted; x2APIC: 32 bits). */
  ID: 26,
  /** Logical destination register (xAPIC: bits 31:24 hold the logical ID; x2APIC: derived, read-only). */
  LDR: 27,
  /** Destination format register (xAPIC only): bits 31:28 = 1111b flat, 0000b cluster. */
  DFR: 28,
  /** 0 = xAPIC, 1 = x2APIC. */
  MODE: 29,
  /** Error status register: bit 5 send illegal vector, bit 6 receive illegal vector. */
  ESR: 30,
  SIZE: 32,
} as const;

export const SVR_APIC_ENABLED = 1 << 8;
export const SVR_SUPPRESS_EOI_BROADCAST = 1 << 12;
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const LAPIC_MODE_XAPIC = 0;
export const LAPIC_MODE_X2APIC = 1;
/** Reset value of the SVR: vector 0xFF, APIC software-disabled (SDM "Spurious-Interrupt Vector Register"). */
export const SVR_RESET = 0xff;

/** Initialises a LAPIC block: software-enabled, spurious vector 0xFF, flat logical model. */
export function lapicInit(m: Uint32Array, o: number, apicId: number, x2apic: boolean): void {
  m.fill(0, o, o + LAPIC.SIZE);
  m[o + LAPIC.ID] = apicId >>> 0;
  m[o + LAPIC.SVR] = SVR_RESET | SVR_APIC_ENABLED;
  m[o + LAPIC.DFR] = 0xffffffff;
  m[o + LAPIC.MODE] = x2apic ? LAPIC_MODE_X2APIC : LAPIC_MODE_XAPIC;
  m[o + LAPIC.LDR] = x2apic ? x2apicLdr(apicId) : 0;
}

/**
 * x2APIC logical ID, derived from the x2APIC ID: cluster = ID[19:4] in bits 31:16 and one bit
 * 1 << ID[3:0] in bits 15:0 (SDM "Logical Destination Mode in x2APIC Mode").
 */
export function x2apicLdr(apicId: number): number {
  return ((((apicId >>> 4) & 0xffff) << 16) | (1 << (apicId & 0xf))) >>> 0;
}

/**
 * Processor priority (SDM "Processor-Priority Register"): PPR = TPR when TPR[7:4] >= ISRV[7:4],
 * else ISRV & 0xF0, where ISRV is the highest in-service vector (0 if none).
 */
export function lapicPpr(m: Uint32Array, o: number): number {
  return processorPriority(m[o + LAPIC.TPR], Math.max(0, regHighest(m, o + LAPIC.ISR)));
}

/**
 * Accepts a fixed or lowest-priority interrupt message for vector v: IRR[v] = 1 (a second request
 * for a vector already pending merges into it) and TMR[v] = trigger mode. Vectors 0-15 are
 * illegal: the message is dropped and ESR bit 6 is set. Returns false when the vector was illegal
 * (SDM "Interrupt Acceptance for Fixed Interrupts", "Error Handling").
 */
export function lapicAccept(m: Uint32Array, o: number, v: number, level: boolean): boolean {
  if (v < 16) {
    m[o + LAPIC.ESR] |= ESR_RECEIVE_ILLEGAL_VECTOR;
    return false;
  }
  regSet(m, o + LAPIC.IRR, v);
  if (level) regSet(m, o + LAPIC.TMR, v);
  else regClear(m, o + LAPIC.TMR, v);
  return true;
}

/**
 * The vector the APIC would present to the core now: the highest IRR vector whose class is
 * strictly above the PPR class, or -1. Only the highest IRR vector is considered: if it is masked,
 * lower ones are masked too (their class is not higher).
 */
export function lapicHighestDeliverable(m: Uint32Array, o: number): number {
  if ((m[o + LAPIC.SVR] & SVR_APIC_ENABLED) === 0) return -1;
  const irrv = regHighest(m, o + LAPIC.IRR);
  if (irrv < 0) return -1;
  return prioClass(irrv) > prioClass(lapicPpr(m, o)) ? irrv : -1;
}

/**
 * The core acknowledges (INTA): the highest deliverable vector moves from IRR to ISR and is
 * returned. Returns -1 when nothing is deliverable any more, in which case the APIC hands the core
 * the spurious vector (lapicSpuriousVector) and sets no ISR bit (SDM "Spurious Interrupt").
 */
export function lapicAck(m: Uint32Array, o: number): number {
  const v = lapicHighestDeliverable(m, o);
  if (v < 0) return -1;
  regClear(m, o + LAPIC.IRR, v);
  regSet(m, o + LAPIC.ISR, v);
  return v;
}

export function lapicSpuriousVector(m: Uint32Array, o: number): number {
  return m[o + LAPIC.SVR] & 0xff;
}

/**
 * A write to the EOI register: clears the highest ISR bit (not "the vector just taken") and
 * returns that vector, or -1 if ISR was empty. Whether an EOI message goes to the I/O APICs is
 * lapicEoiBroadcasts (TMR bits are not cleared by EOI).
 */
export function lapicEoi(m: Uint32Array, o: number): number {
  const v = regHighest(m, o + LAPIC.ISR);
  if (v >= 0) regClear(m, o + LAPIC.ISR, v);
  return v;
}

/** A level-triggered vector's EOI is broadcast to the I/O APICs unless SVR bit 12 suppresses it. */
export function lapicEoiBroadcasts(m: Uint32Array, o: number, v: number): boolean {
  return regTest(m, o + LAPIC.TMR, v) && (m[o + LAPIC.SVR] & SVR_SUPPRESS_EOI_BROADCAST) === 0;
}

/** In x2APIC mode a non-zero write to the EOI MSR (80BH) raises #GP (SDM "x2APIC Register Availability"). */
export function lapicEoiWriteFaults(m: Uint32Array, o: number, value: number): boolean {
  return m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC && value !== 0;
}

export function lapicSetTpr(m: Uint32Array, o: number, tpr: number): void {
  m[o + LAPIC.TPR] = tpr & 0xff;
}

/**
 * Marks an attempt to send an illegal vector (0-15) with a fixed delivery mode: the IPI is not
 * sent and ESR bit 5 is set. Returns true when the vector was illegal.
 */
export function lapicCheckSendVector(m: Uint32Array, o: number, v: number): boolean {
  if (v >= 16) return false;
  m[o + LAPIC.ESR] |= ESR_SEND_ILLEGAL_VECTOR;
  return true;
}
