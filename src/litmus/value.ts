/**
 * Values of a litmus test: 64-bit two's complement words held as unsigned 32-bit halves (lo, hi).
 * Parsing and printing go through BigInt (once per test or per outcome); the model's steps use
 * the halves only (alu.ts).
 *
 * Addresses are values too (`0:rax=t` puts the address of t in rax, herd's instruction test
 * A009): symbol k of a test lives at ADDR_BASE + k * ADDR_STRIDE, its elements one after the
 * other at their width. A value in that range prints as the address it is (`t`, `t+8`).
 */
import type { MemSymbol, Value, Width } from './test.ts';

export const ADDR_BASE = 0x10000000;
export const ADDR_STRIDE = 0x100000;

const INT = /^-?(0x[0-9a-f]+|\d+)$/i;

export function isIntegerText(text: string): boolean {
  return INT.test(text);
}

export function toBig(v: Value): bigint {
  return (BigInt(v.hi) << 32n) | BigInt(v.lo);
}

export function fromBig(b: bigint): Value {
  const u = BigInt.asUintN(64, b);
  return { lo: Number(u & 0xffffffffn), hi: Number(u >> 32n) };
}

/** The value truncated to `width` bytes (the upper bits cleared). */
export function truncate(v: Value, width: Width): Value {
  if (width === 8) return v;
  if (width === 4) return { lo: v.lo, hi: 0 };
  return { lo: v.lo & (width === 2 ? 0xffff : 0xff), hi: 0 };
}

/**
 * An integer as a test writes it (decimal or 0x hex, maybe negative), checked to fit in `bits`
 * as a signed or an unsigned number; undefined when it is not an integer, a string saying why
 * when it does not fit.
 */
export function parseInteger(text: string, bits: 32 | 64): Value | string | undefined {
  if (!INT.test(text)) return undefined;
  const neg = text.startsWith('-');
  const mag = BigInt(neg ? text.slice(1) : text);
  const b = neg ? -mag : mag;
  const limit = 1n << BigInt(bits);
  if (b < -(limit >> 1n) || b >= limit) return `${text} does not fit in ${bits} bits`;
  return fromBig(b);
}

export function symbolAddress(index: number): number {
  return ADDR_BASE + index * ADDR_STRIDE;
}

/** A value as herd prints it: signed (or unsigned) at the width, or an address as `t` / `t+8`. */
export function showValue(v: Value, width: Width, signed: boolean, symbols: readonly MemSymbol[]): string {
  const t = truncate(v, width);
  const addr = addressName(t, symbols);
  if (addr !== undefined) return addr;
  const b = toBig(t);
  return String(signed ? BigInt.asIntN(width * 8, b) : b);
}

/** The value for JSON: a number when it is exactly one, else the printed string. */
export function jsonValue(
  v: Value,
  width: Width,
  signed: boolean,
  symbols: readonly MemSymbol[],
): number | string {
  const s = showValue(v, width, signed, symbols);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

function addressName(v: Value, symbols: readonly MemSymbol[]): string | undefined {
  if (v.hi !== 0 || v.lo < ADDR_BASE) return undefined;
  const k = Math.floor((v.lo - ADDR_BASE) / ADDR_STRIDE);
  if (k >= symbols.length) return undefined;
  const off = v.lo - symbolAddress(k);
  return off === 0 ? symbols[k].name : `${symbols[k].name}+${off}`;
}
