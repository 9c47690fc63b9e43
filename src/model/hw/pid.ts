/**
 * The posted-interrupt descriptor (PID): 64 bytes, 64-byte aligned, one per vCPU (and one per pCPU
 * for host posted MSI). Layout from the VT-d specification, "Posted Interrupt Descriptor" (9.11 in
 * rev 4.x, 9.12 in rev 2.x) and KVM's struct pi_desc:
 *
 *   bits 255:0    PIR   one request bit per vector
 *   bit  256      ON    outstanding notification
 *   bit  257      SN    suppress notification (non-urgent postings)
 *   bits 271:258  reserved
 *   bits 279:272  NV    notification vector
 *   bits 287:280  reserved
 *   bits 319:288  NDST  notification destination (x2APIC: the ID; xAPIC: ID in bits 303:296)
 *   bits 511:320  reserved
 *
 * The model stores the descriptor as its sixteen little-endian 32-bit words, so word 8 holds ON
 * (bit 0), SN (bit 1) and NV (bits 23:16) and word 9 holds NDST: the model state is the descriptor
 * itself, and encoding to bytes is a plain little-endian copy. Words 8-9 are KVM's 64-bit `control`
 * word, which software may only rewrite with a compare-and-swap because the IOMMU or another CPU
 * can set ON at any time (SDM Vol. 3C "Posted-Interrupt Processing": locked RMW only; KVM
 * posted_intr.c pi_try_set_control).
 */
import { regClear, regEmpty, regHighest, regTestAndSet, regVectors, regZero } from './bits.ts';

export const PID = {
  PIR: 0,
  /** Low half of `control`: ON bit 0, SN bit 1, NV bits 23:16. */
  CONTROL: 8,
  /** High half of `control`: NDST. */
  NDST: 9,
  SIZE: 16,
} as const;

export const PID_ON = 1 << 0;
export const PID_SN = 1 << 1;
const NV_SHIFT = 16;

export function pidInit(m: Uint32Array, o: number, nv: number, ndst: number, sn: boolean): void {
  m.fill(0, o, o + PID.SIZE);
  m[o + PID.CONTROL] = ((nv & 0xff) << NV_SHIFT) | (sn ? PID_SN : 0);
  m[o + PID.NDST] = ndst >>> 0;
}

/**
 * NDST as hardware reads it for a destination APIC ID: the full 32-bit ID in x2APIC mode, the
 * 8-bit ID in bits 15:8 in xAPIC mode (VT-d 9.11; KVM writes `id << 8` for xAPIC).
 */
export function ndstForApicId(apicId: number, x2apic: boolean): number {
  return x2apic ? apicId >>> 0 : (apicId & 0xff) << 8;
}

/** The APIC ID a notification is sent to, decoded from NDST. */
export function apicIdFromNdst(ndst: number, x2apic: boolean): number {
  return x2apic ? ndst >>> 0 : (ndst >>> 8) & 0xff;
}

export function piTestOn(m: Uint32Array, o: number): boolean {
  return (m[o + PID.CONTROL] & PID_ON) !== 0;
}

export function piTestSn(m: Uint32Array, o: number): boolean {
  return (m[o + PID.CONTROL] & PID_SN) !== 0;
}

export function piNv(m: Uint32Array, o: number): number {
  return (m[o + PID.CONTROL] >>> NV_SHIFT) & 0xff;
}

export function piNdst(m: Uint32Array, o: number): number {
  return m[o + PID.NDST];
}

/** Locked bit-test-and-set of ON (pi_test_and_set_on); returns the old value. */
export function piTestAndSetOn(m: Uint32Array, o: number): boolean {
  const was = piTestOn(m, o);
  m[o + PID.CONTROL] |= PID_ON;
  return was;
}

/** Locked clear of ON (pi_clear_on). */
export function piClearOn(m: Uint32Array, o: number): void {
  m[o + PID.CONTROL] &= ~PID_ON;
}

/** Locked set of ON (pi_set_on). */
export function piSetOn(m: Uint32Array, o: number): void {
  m[o + PID.CONTROL] |= PID_ON;
}

export function piSetSn(m: Uint32Array, o: number): void {
  m[o + PID.CONTROL] |= PID_SN;
}

export function piClearSn(m: Uint32Array, o: number): void {
  m[o + PID.CONTROL] &= ~PID_SN;
}

/** Locked test-and-clear of SN (pi_test_and_clear_sn); returns the old value. */
export function piTestAndClearSn(m: Uint32Array, o: number): boolean {
  const was = piTestSn(m, o);
  m[o + PID.CONTROL] &= ~PID_SN;
  return was;
}

/** Locked test-and-set of PIR[v] (pi_test_and_set_pir); returns the old bit. */
export function piTestAndSetPir(m: Uint32Array, o: number, v: number): boolean {
  return regTestAndSet(m, o + PID.PIR, v);
}

export function piClearPir(m: Uint32Array, o: number, v: number): void {
  regClear(m, o + PID.PIR, v);
}

export function piIsPirEmpty(m: Uint32Array, o: number): boolean {
  return regEmpty(m, o + PID.PIR);
}

export function piHighestPir(m: Uint32Array, o: number): number {
  return regHighest(m, o + PID.PIR);
}

export function piZeroPir(m: Uint32Array, o: number): void {
  regZero(m, o + PID.PIR);
}

/**
 * KVM's pi_has_pending_interrupt: ON, or SN with a non-empty PIR (a PIR bit posted while SN=1
 * leaves ON clear; commit "KVM: VMX: check PIR when SN=1", Nov 2019).
 */
export function piHasPendingInterrupt(m: Uint32Array, o: number): boolean {
  return piTestOn(m, o) || (piTestSn(m, o) && !piIsPirEmpty(m, o));
}

/** NV of a control word's low half (a snapshot read by a CAS loop). */
export function piControlNv(lo: number): number {
  return (lo >>> NV_SHIFT) & 0xff;
}

/** The control word's low half built from fields (for CAS loops). */
export function piControlLo(on: boolean, sn: boolean, nv: number): number {
  return ((nv & 0xff) << NV_SHIFT) | (on ? PID_ON : 0) | (sn ? PID_SN : 0);
}

/**
 * One compare-and-swap attempt on the 64-bit control word (try_cmpxchg64): succeeds, writing the
 * new value, only if both halves still hold the expected old value.
 */
export function piTryCasControl(
  m: Uint32Array,
  o: number,
  oldLo: number,
  oldNdst: number,
  newLo: number,
  newNdst: number,
): boolean {
  if (m[o + PID.CONTROL] !== oldLo >>> 0 || m[o + PID.NDST] !== oldNdst >>> 0) return false;
  m[o + PID.CONTROL] = newLo >>> 0;
  m[o + PID.NDST] = newNdst >>> 0;
  return true;
}

/** Decoded descriptor fields (for traces, tests and the scenario format; not a hot path). */
export interface PidFields {
  pir: number[];
  on: boolean;
  sn: boolean;
  nv: number;
  ndst: number;
}

export function pidDecodeWords(m: Uint32Array, o: number): PidFields {
  return {
    pir: regVectors(m, o + PID.PIR),
    on: piTestOn(m, o),
    sn: piTestSn(m, o),
    nv: piNv(m, o),
    ndst: piNdst(m, o),
  };
}

/** The 64-byte memory image of the descriptor, little-endian, reserved fields zero. */
export function pidEncodeBytes(f: PidFields): Uint8Array {
  const w = new Uint32Array(PID.SIZE);
  for (const v of f.pir) w[v >>> 5] |= 1 << (v & 31);
  w[PID.CONTROL] = piControlLo(f.on, f.sn, f.nv);
  w[PID.NDST] = f.ndst >>> 0;
  const bytes = new Uint8Array(64);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < PID.SIZE; i++) dv.setUint32(i * 4, w[i], true);
  return bytes;
}

/**
 * Decodes a 64-byte descriptor image. Non-zero reserved bits are reported, because the IOMMU
 * blocks a posting to such a descriptor as a fault (VT-d 5.2.3).
 */
export function pidDecodeBytes(bytes: Uint8Array): PidFields & { reservedNonZero: boolean } {
  if (bytes.length !== 64)
    throw new RangeError(`posted-interrupt descriptor must be 64 bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 64);
  const w = new Uint32Array(PID.SIZE);
  for (let i = 0; i < PID.SIZE; i++) w[i] = dv.getUint32(i * 4, true);
  let reservedNonZero = (w[PID.CONTROL] & 0xff00fffc) !== 0;
  for (let i = 10; i < PID.SIZE; i++) if (w[i] !== 0) reservedNonZero = true;
  return { ...pidDecodeWords(w, 0), reservedNonZero };
}
