/**
 * x86 register names (SDM Vol. 1 3.4.1 and 3.7.2.1): the 16 general-purpose registers of 64-bit
 * mode and their 32-, 16- and 8-bit parts, numbered 0 (rax) to 15 (r15), then RIP (16) and CS
 * (17). A 32-bit write zero-extends into the 64-bit register; 8- and 16-bit writes leave the
 * upper bits alone (SDM Vol. 1 3.4.1.1). X86 (Intel-syntax, 32-bit) tests name the 32-bit parts
 * only (EAX, ...).
 *
 * RIP and CS may be named in a test's initial state and condition (herd's instruction tests A001
 * and A002 do); no instruction irqlab reads writes them, so they keep their initial values.
 */
import type { Arch, Width } from './test.ts';

export const GPR_COUNT = 16;
export const REG_RIP = 16;
export const REG_CS = 17;

const Q = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rbp',
  'rsp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];
const D = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', ...Q.slice(8).map((r) => `${r}d`)];
const W = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp', ...Q.slice(8).map((r) => `${r}w`)];
const B = ['al', 'bl', 'cl', 'dl', 'sil', 'dil', 'bpl', 'spl', ...Q.slice(8).map((r) => `${r}b`)];

const BY_WIDTH: Record<Width, string[]> = { 1: B, 2: W, 4: D, 8: Q };

/** A register as a test names it: its number and the part it names. */
export interface RegPart {
  reg: number;
  width: Width;
}

const TABLE = new Map<string, RegPart>();
for (const w of [8, 4, 2, 1] as const)
  BY_WIDTH[w].forEach((name, reg) => {
    TABLE.set(name, { reg, width: w });
  });
TABLE.set('rip', { reg: REG_RIP, width: 8 });
TABLE.set('cs', { reg: REG_CS, width: 2 });

/** The 32-bit registers an X86 test may name. */
const X86_NAMES = D.slice(0, 8).map((r) => r.toUpperCase());

/** A register name in any case, or undefined. X86 tests have the 32-bit registers only. */
export function lookupReg(arch: Arch, name: string): RegPart | undefined {
  const r = TABLE.get(name.toLowerCase());
  if (r === undefined) return undefined;
  if (arch === 'X86') return r.width === 4 && r.reg < 8 ? r : undefined;
  return r;
}

/** What lookupReg accepts, for error messages. */
export function regNamesHelp(arch: Arch): string {
  return arch === 'X86'
    ? X86_NAMES.join(', ')
    : 'rax..r15 and their parts (eax, ax, al, ..., r8d, r8w, r8b), rip, cs';
}

/** The high-byte registers (AH, BH, CH, DH): refused with a reason. */
export function isHighByteReg(name: string): boolean {
  return /^[abcd]h$/i.test(name);
}

/** How a register part is printed: upper case in X86 tests, lower case (herd's AT&T) in X86_64. */
export function regName(arch: Arch, reg: number, width: Width): string {
  if (reg === REG_RIP) return arch === 'X86' ? 'RIP' : 'rip';
  if (reg === REG_CS) return arch === 'X86' ? 'CS' : 'cs';
  const n = BY_WIDTH[width][reg];
  return arch === 'X86' ? n.toUpperCase() : n;
}
