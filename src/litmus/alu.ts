/**
 * The arithmetic of the litmus model on 64-bit values held as unsigned 32-bit halves, and the
 * status flags it sets (SDM Vol. 1 3.4.3.1; Vol. 2 ADD, SUB, CMP, AND, OR, XOR, TEST, INC, DEC,
 * SAL/SAR/SHL/SHR). Called from the model's steps, so it allocates nothing: results go to `out`.
 *
 * Flags kept: CF, ZF, SF and OF (what Jcc reads). Where the SDM leaves a flag undefined (OF after
 * a shift by more than 1), it is cleared. A shift by 0 changes neither the value nor the flags.
 */
import type { Alu, Cond, Width } from './test.ts';

export const CF = 1;
export const ZF = 2;
export const SF = 4;
export const OF = 8;

const MASK: Record<Width, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: 0xffffffff };

function bitAt64(lo: number, hi: number, p: number): number {
  return p >= 32 ? (hi >>> (p - 32)) & 1 : (lo >>> p) & 1;
}

/**
 * a (op) b at `width`, both already truncated to it; writes the result to out[0] (lo), out[1]
 * (hi) and returns the new flags. `flags` is the thread's current flags (INC and DEC keep CF, a
 * shift by 0 keeps them all).
 */
export function aluCompute(
  op: Alu,
  width: Width,
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  flags: number,
  out: Uint32Array,
): number {
  if (op === 'shl' || op === 'shr' || op === 'sar') return shift(op, width, alo, ahi, blo, flags, out);
  if (op === 'inc' || op === 'dec') {
    const f = aluCompute(op === 'inc' ? 'add' : 'sub', width, alo, ahi, 1, 0, flags, out);
    return (f & ~CF) | (flags & CF);
  }
  const top = width * 8 - 1;
  let lo: number;
  let hi = 0;
  let cf = 0;
  let of = 0;
  const sa = width === 8 ? ahi >>> 31 : (alo >>> top) & 1;
  const sb = width === 8 ? bhi >>> 31 : (blo >>> top) & 1;
  switch (op) {
    case 'add': {
      if (width === 8) {
        const l = alo + blo;
        const h = ahi + bhi + (l > 0xffffffff ? 1 : 0);
        lo = l >>> 0;
        hi = h >>> 0;
        cf = h > 0xffffffff ? 1 : 0;
      } else {
        const r = alo + blo;
        lo = width === 4 ? r >>> 0 : r & MASK[width];
        cf = r > MASK[width] ? 1 : 0;
      }
      const sr = width === 8 ? hi >>> 31 : (lo >>> top) & 1;
      of = sa === sb && sr !== sa ? 1 : 0;
      break;
    }
    case 'sub':
    case 'cmp': {
      if (width === 8) {
        const l = alo - blo;
        const h = ahi - bhi - (l < 0 ? 1 : 0);
        lo = l >>> 0;
        hi = h >>> 0;
        cf = h < 0 ? 1 : 0;
      } else {
        const r = alo - blo;
        lo = width === 4 ? r >>> 0 : r & MASK[width];
        cf = alo < blo ? 1 : 0;
      }
      const sr = width === 8 ? hi >>> 31 : (lo >>> top) & 1;
      of = sa !== sb && sr !== sa ? 1 : 0;
      break;
    }
    case 'and':
    case 'test':
      lo = (alo & blo) >>> 0;
      hi = (ahi & bhi) >>> 0;
      break;
    case 'or':
      lo = (alo | blo) >>> 0;
      hi = (ahi | bhi) >>> 0;
      break;
    case 'xor':
      lo = (alo ^ blo) >>> 0;
      hi = (ahi ^ bhi) >>> 0;
      break;
  }
  out[0] = lo;
  out[1] = hi;
  return resultFlags(width, lo, hi) | (cf ? CF : 0) | (of ? OF : 0);
}

function resultFlags(width: Width, lo: number, hi: number): number {
  const zf = lo === 0 && hi === 0 ? ZF : 0;
  const sf = (width === 8 ? hi >>> 31 : (lo >>> (width * 8 - 1)) & 1) ? SF : 0;
  return zf | sf;
}

function shift(
  op: 'shl' | 'shr' | 'sar',
  width: Width,
  alo: number,
  ahi: number,
  count: number,
  flags: number,
  out: Uint32Array,
): number {
  // The count is masked to 5 bits, 6 for 64-bit operands (SDM Vol. 2 SAL/SAR/SHL/SHR).
  const c = count & (width === 8 ? 63 : 31);
  if (c === 0) {
    out[0] = alo;
    out[1] = ahi;
    return flags;
  }
  let lo = 0;
  let hi = 0;
  let cf = 0;
  if (width === 8) {
    if (op === 'shl') {
      if (c < 32) {
        hi = ((ahi << c) | (alo >>> (32 - c))) >>> 0;
        lo = (alo << c) >>> 0;
      } else hi = (alo << (c - 32)) >>> 0;
      cf = bitAt64(alo, ahi, 64 - c);
    } else {
      if (c < 32) {
        lo = ((alo >>> c) | (ahi << (32 - c))) >>> 0;
        hi = op === 'shr' ? ahi >>> c : (ahi >> c) >>> 0;
      } else {
        lo = op === 'shr' ? ahi >>> (c - 32) : (ahi >> (c - 32)) >>> 0;
        hi = op === 'shr' ? 0 : (ahi >> 31) >>> 0;
      }
      cf = bitAt64(alo, ahi, c - 1);
    }
  } else {
    const bits = width * 8;
    const m = MASK[width];
    if (op === 'shl') {
      lo = c >= bits ? 0 : ((alo << c) & m) >>> 0;
      cf = c <= bits ? (alo >>> (bits - c)) & 1 : 0;
    } else if (op === 'shr') {
      lo = c >= bits ? 0 : alo >>> c;
      cf = (alo >>> (c - 1)) & 1;
    } else {
      const signed = width === 4 ? alo | 0 : (alo << (32 - bits)) >> (32 - bits);
      lo = ((signed >> c) & m) >>> 0;
      cf = (signed >> (c - 1)) & 1;
    }
  }
  out[0] = lo;
  out[1] = hi;
  let of = 0;
  if (c === 1) {
    const top = width === 8 ? 63 : width * 8 - 1;
    if (op === 'shl') of = bitAt64(lo, hi, top) ^ cf;
    else if (op === 'shr') of = bitAt64(alo, ahi, top);
  }
  return resultFlags(width, lo, hi) | (cf ? CF : 0) | (of ? OF : 0);
}

/** Whether Jcc's condition holds for the flags (SDM Vol. 2 "Jcc", Table "Jcc"). */
export function condHolds(cond: Cond, flags: number): boolean {
  const cf = (flags & CF) !== 0;
  const zf = (flags & ZF) !== 0;
  const sf = (flags & SF) !== 0;
  const of = (flags & OF) !== 0;
  switch (cond) {
    case 'e':
      return zf;
    case 'ne':
      return !zf;
    case 'b':
      return cf;
    case 'ae':
      return !cf;
    case 'be':
      return cf || zf;
    case 'a':
      return !cf && !zf;
    case 'l':
      return sf !== of;
    case 'ge':
      return sf === of;
    case 'le':
      return zf || sf !== of;
    case 'g':
      return !zf && sf === of;
    case 's':
      return sf;
    case 'ns':
      return !sf;
    case 'o':
      return of;
    case 'no':
      return !of;
  }
}
