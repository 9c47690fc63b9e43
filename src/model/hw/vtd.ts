/**
 * VT-d interrupt posting: the posted-format interrupt-remapping table entry (IRTE) and the one
 * atomic update the remapping hardware performs on a posted-interrupt descriptor. Source: Intel
 * VT-d Architecture Specification rev 4.1, 5.2 "Interrupt Posting" (5.2.3 the posting operation,
 * 5.2.4 ordering) and 9.10 "Interrupt Remapping Table Entry (IRTE) for Posted Interrupts"; Linux
 * `struct irte` (posted view) uses the same bit positions.
 */
import { PID, PID_ON, PID_SN } from './pid.ts';

/** Decoded posted-format IRTE. `pda` is the descriptor address (64-byte aligned). */
export interface PostedIrte {
  present: boolean;
  fpd: boolean;
  urg: boolean;
  /** The virtual vector: the PIR bit to set. */
  vv: number;
  pda: bigint;
  sid: number;
  sq: number;
  svt: number;
}

/** IRTE bits 15 (IM: 1 = posted format), 14 (URG), 1 (FPD), 0 (P); VV in 23:16 (VT-d 9.10). */
const IRTE_P = 1 << 0;
const IRTE_FPD = 1 << 1;
const IRTE_URG = 1 << 14;
const IRTE_IM = 1 << 15;

/**
 * Encodes a posted-format IRTE as four little-endian 32-bit words (bits 31:0, 63:32, 95:64,
 * 127:96). PDA-L (address bits 31:6) sits in IRTE bits 63:38, PDA-H (address bits 63:32) in
 * 127:96; SID 79:64, SQ 81:80, SVT 83:82.
 */
export function irteEncodePosted(e: PostedIrte): Uint32Array {
  if ((e.pda & 0x3fn) !== 0n)
    throw new RangeError('posted-interrupt descriptor address must be 64-byte aligned');
  const w = new Uint32Array(4);
  w[0] =
    (e.present ? IRTE_P : 0) |
    (e.fpd ? IRTE_FPD : 0) |
    (e.urg ? IRTE_URG : 0) |
    IRTE_IM |
    ((e.vv & 0xff) << 16);
  w[1] = (Number((e.pda >> 6n) & 0x3ffffffn) << 6) >>> 0;
  w[2] = (e.sid & 0xffff) | ((e.sq & 3) << 16) | ((e.svt & 3) << 18);
  w[3] = Number((e.pda >> 32n) & 0xffffffffn) >>> 0;
  return w;
}

/** Decodes a posted-format IRTE; returns null when IM is 0 (remapped format, not posted). */
export function irteDecodePosted(w: Uint32Array): PostedIrte | null {
  if ((w[0] & IRTE_IM) === 0) return null;
  return {
    present: (w[0] & IRTE_P) !== 0,
    fpd: (w[0] & IRTE_FPD) !== 0,
    urg: (w[0] & IRTE_URG) !== 0,
    vv: (w[0] >>> 16) & 0xff,
    pda: (BigInt(w[3]) << 32n) | (BigInt(w[1] >>> 6) << 6n),
    sid: w[2] & 0xffff,
    sq: (w[2] >>> 16) & 3,
    svt: (w[2] >>> 18) & 3,
  };
}

/**
 * The posting operation (VT-d 5.2.3), one coherent atomic read-modify-write of the descriptor's
 * cache line: PIR[vv] = 1; X = ON == 0 && (URG || SN == 0); if X then ON = 1. Returns X: whether a
 * notification interrupt (vector NV, physical, fixed, edge, to APIC ID NDST) must now be sent; the
 * descriptor update is visible before the notification arrives (5.2.4).
 * With SN=1 and URG=0 the PIR bit is set and ON stays 0: the interrupt is recorded but nobody is
 * told (the situation of seed 004).
 */
export function vtdPost(m: Uint32Array, pid: number, vv: number, urg: boolean): boolean {
  m[pid + PID.PIR + (vv >>> 5)] |= 1 << (vv & 31);
  const ctl = m[pid + PID.CONTROL];
  const notify = (ctl & PID_ON) === 0 && (urg || (ctl & PID_SN) === 0);
  if (notify) m[pid + PID.CONTROL] = ctl | PID_ON;
  return notify;
}
