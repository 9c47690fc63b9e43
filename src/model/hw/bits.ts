/**
 * 256-bit interrupt registers (IRR, ISR, TMR, PIR, vIRR, vISR, EOI-exit bitmap) stored as eight
 * 32-bit words at an offset inside a Uint32Array. Every unit of the model keeps its state in such
 * an array (the World), so that a whole machine is one flat value the checker can copy and hash
 * without allocating.
 *
 * Vector V lives in bit (V & 31) of word (V >> 5), the order of the xAPIC page, where word i sits
 * at offset base + 0x10 * i (SDM Vol. 3A, "Interrupt Request Register (IRR), In-Service Register
 * (ISR), Trigger Mode Register (TMR)"). The same bits read as four 64-bit words give word j =
 * 32-bit words 2j (low half) and 2j+1 (high half): the `unsigned long pir[NR_PIR_WORDS]` view that
 * KVM uses since seed 000 patch 4/8.
 */

/** Number of 32-bit words in a 256-bit register. */
export const REG_WORDS32 = 8;
/** Number of 64-bit words in a 256-bit register. */
export const REG_WORDS64 = 4;

export function regTest(m: Uint32Array, o: number, v: number): boolean {
  return ((m[o + (v >>> 5)] >>> (v & 31)) & 1) === 1;
}

export function regSet(m: Uint32Array, o: number, v: number): void {
  m[o + (v >>> 5)] |= 1 << (v & 31);
}

export function regClear(m: Uint32Array, o: number, v: number): void {
  m[o + (v >>> 5)] &= ~(1 << (v & 31));
}

/** Sets bit v and returns its previous value: one `lock bts` (test_and_set_bit). */
export function regTestAndSet(m: Uint32Array, o: number, v: number): boolean {
  const was = regTest(m, o, v);
  regSet(m, o, v);
  return was;
}

/** Highest set vector, or -1 when the register is empty (KVM apic_find_highest_vector). */
export function regHighest(m: Uint32Array, o: number): number {
  for (let i = REG_WORDS32 - 1; i >= 0; i--) {
    const w = m[o + i];
    if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
  }
  return -1;
}

export function regEmpty(m: Uint32Array, o: number): boolean {
  for (let i = 0; i < REG_WORDS32; i++) if (m[o + i] !== 0) return false;
  return true;
}

export function regZero(m: Uint32Array, o: number): void {
  m.fill(0, o, o + REG_WORDS32);
}

/** dst |= src (both 256-bit registers, possibly in different arrays). */
export function regMerge(dst: Uint32Array, d: number, src: Uint32Array, s: number): void {
  for (let i = 0; i < REG_WORDS32; i++) dst[d + i] |= src[s + i];
}

export function regCopy(dst: Uint32Array, d: number, src: Uint32Array, s: number): void {
  for (let i = 0; i < REG_WORDS32; i++) dst[d + i] = src[s + i];
}

export function regCount(m: Uint32Array, o: number): number {
  let n = 0;
  for (let i = 0; i < REG_WORDS32; i++) {
    let w = m[o + i];
    while (w !== 0) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}

/** 32-bit word i (0..7) of the register. */
export function word32(m: Uint32Array, o: number, i: number): number {
  return m[o + i];
}

/** True when 64-bit word j (0..3) is zero: the test `if (!pir_copy[j])` of the 64-bit harvest. */
export function word64Empty(m: Uint32Array, o: number, j: number): boolean {
  return m[o + 2 * j] === 0 && m[o + 2 * j + 1] === 0;
}

/** 64-bit word j as a BigInt (for display and encoding only, never on a hot path). */
export function word64(m: Uint32Array, o: number, j: number): bigint {
  return (BigInt(m[o + 2 * j + 1]) << 32n) | BigInt(m[o + 2 * j]);
}

/** Lists the set vectors in ascending order (for traces and tests, not hot paths). */
export function regVectors(m: Uint32Array, o: number): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if (regTest(m, o, v)) out.push(v);
  return out;
}

/** A fresh standalone 256-bit register (offset 0). */
export function newReg(vectors: readonly number[] = []): Uint32Array {
  const r = new Uint32Array(REG_WORDS32);
  for (const v of vectors) regSet(r, 0, v);
  return r;
}

/** Priority class of a vector or of a TPR/PPR value: bits 7:4 (SDM "Task and Processor Priorities"). */
export function prioClass(x: number): number {
  return (x >>> 4) & 0xf;
}

/**
 * The processor-priority rule (SDM Vol. 3A "Processor-Priority Register"; the same rule is PPR
 * virtualization, SDM Vol. 3C x.1.3, and AVIC's vPPR): PPR = TPR when TPR[7:4] >= ISRV[7:4], else
 * ISRV & 0xF0, with ISRV the highest in-service vector (0 when none). One definition for the
 * LAPIC, the virtual APIC and AVIC.
 */
export function processorPriority(tpr: number, isrv: number): number {
  return prioClass(tpr) >= prioClass(isrv) ? tpr & 0xff : isrv & 0xf0;
}

/** Formats a vector the way the manuals and kernel logs do: 0x31. */
export function hex(v: number): string {
  return `0x${v.toString(16).padStart(2, '0')}`;
}
