/**
 * Reading one instruction of a thread table cell in either syntax herd uses for x86:
 *
 * - `X86` tests, Intel syntax (herd's X86 parser): `MOV [x],$1`, `MOV EAX,[y]`, `LOCK XADD [x],EAX`;
 *   destination first; registers EAX..ESP; memory `[x]`; immediates `$n`.
 * - `X86_64` tests, AT&T syntax (herd's X86_64 parser, GNU as): `movl $1,(x)`, `movl (y),%eax`,
 *   `lock xaddl %eax,(x)`; source first; an optional size suffix b/w/l/q; registers `%rax`,
 *   `%eax`, `%ax`, `%al`, ...; memory `(x)` (herd's symbolic location), `x(%rip)`,
 *   `disp(%base,%index,scale)`; immediates `$n`, `$x` (the address of x) and, as herd reads
 *   them, bare numbers (`shl 2,%eax` in herd's test A007).
 *
 * The result is syntax-free: the mnemonic's base, its size suffix, the LOCK prefix, and the
 * operands destination first. instr.ts gives it a meaning.
 */
import { isHighByteReg, lookupReg, regNamesHelp } from './registers.ts';
import type { Addr, Arch, Value, Width } from './test.ts';
import { isIntegerText } from './value.ts';

export type RawOperand =
  | { kind: 'reg'; reg: number; width: Width }
  | { kind: 'imm'; value: Value }
  | { kind: 'mem'; addr: Addr }
  /** A bare name: a branch target. */
  | { kind: 'name'; name: string };

/** What operands.ts needs from the parser: locations, values and errors. */
export interface OperandContext {
  readonly arch: Arch;
  fail(line: number, msg: string): never;
  /** The first cell of the location `name` (declared now as an `int` if the test has not). */
  cellOf(name: string, line: number): number;
  /** The address of the location `name`. */
  addressOf(name: string, line: number): number;
  /** An integer as written, sign-extended to 64 bits. */
  integer(text: string, line: number): Value;
  /** Notes that the thread names this register. */
  useReg(reg: number): void;
}

export interface RawInstr {
  /** The mnemonic without its size suffix, lower case (`mov`, `je`, `nop`). */
  base: string;
  /** The AT&T size suffix's width, if the mnemonic has one. */
  suffix?: Width;
  lock: boolean;
  /** Destination first. */
  ops: RawOperand[];
  /** The instruction as written, blanks collapsed. */
  text: string;
}

/** Mnemonics that take an AT&T size suffix. */
const SIZED = [
  'mov',
  'xchg',
  'add',
  'sub',
  'and',
  'or',
  'xor',
  'inc',
  'dec',
  'xadd',
  'cmpxchg',
  'cmp',
  'test',
  'shl',
  'sal',
  'shr',
  'sar',
  'nop',
];

/** Branches (SDM Vol. 2 "Jcc" and its aliases), fences, RET, ENDBR64. */
export const JCC: Record<string, string> = {
  je: 'e',
  jz: 'e',
  jne: 'ne',
  jnz: 'ne',
  jl: 'l',
  jnge: 'l',
  jle: 'le',
  jng: 'le',
  jg: 'g',
  jnle: 'g',
  jge: 'ge',
  jnl: 'ge',
  jb: 'b',
  jc: 'b',
  jnae: 'b',
  jbe: 'be',
  jna: 'be',
  ja: 'a',
  jnbe: 'a',
  jae: 'ae',
  jnb: 'ae',
  jnc: 'ae',
  js: 's',
  jns: 'ns',
  jo: 'o',
  jno: 'no',
};
const UNSIZED = ['mfence', 'lfence', 'sfence', 'endbr64', 'ret', 'jmp', ...Object.keys(JCC)];

export const SUPPORTED_MNEMONICS = `${[...SIZED, 'mfence', 'lfence', 'sfence', 'endbr64', 'ret', 'jmp'].join(', ')} and Jcc`;

/** Splits at commas outside parentheses and brackets. */
function splitOperands(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(' || c === '[') depth++;
    if (c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** `[lock[;]] mnemonic operands` of a cell, or undefined if it does not look like one. */
function splitInstr(cell: string): { lock: boolean; mnemonic: string; rest: string } | undefined {
  const m = /^(lock(?:\s*;\s*|\s+))?([A-Za-z][A-Za-z0-9]*)\b\s*(.*)$/i.exec(cell);
  if (!m) return undefined;
  return { lock: m[1] !== undefined, mnemonic: m[2], rest: m[3].trim() };
}

function mnemonicOf(arch: Arch, written: string): { base: string; suffix?: Width } | undefined {
  const m = written.toLowerCase();
  if (SIZED.includes(m) || UNSIZED.includes(m)) return { base: m };
  if (arch === 'X86_64') {
    const w = ({ b: 1, w: 2, l: 4, q: 8 } as Record<string, Width>)[m.slice(-1)];
    if (w !== undefined && SIZED.includes(m.slice(0, -1))) return { base: m.slice(0, -1), suffix: w };
  }
  return undefined;
}

export function readInstr(ctx: OperandContext, cell: string, thread: number, line: number): RawInstr {
  const parts = splitInstr(cell);
  if (!parts) return ctx.fail(line, `P${thread}: cannot read "${cell}" as an instruction`);
  const mn = mnemonicOf(ctx.arch, parts.mnemonic);
  if (!mn)
    return ctx.fail(
      line,
      `P${thread}: unsupported instruction "${cell}" (supported: ${SUPPORTED_MNEMONICS})`,
    );
  // X86 tests print their registers in upper case, as herd does.
  const written = splitOperands(parts.rest).map((o) =>
    ctx.arch === 'X86' && lookupReg('X86', o) !== undefined ? o.toUpperCase() : o,
  );
  const text = `${parts.lock ? (ctx.arch === 'X86' ? 'LOCK ' : 'lock ') : ''}${ctx.arch === 'X86' ? parts.mnemonic.toUpperCase() : parts.mnemonic}${written.length ? ` ${written.join(',')}` : ''}`;
  // NOP's operands are never evaluated (LLVM's padding `nopl 0(%rax,%rax,1)`, herd's A004/A005).
  if (mn.base === 'nop') return { ...mn, lock: parts.lock, ops: [], text };
  const read = ctx.arch === 'X86' ? intelOperand : attOperand;
  const ops = written.map((o) => read(ctx, o, thread, line, text));
  // AT&T writes the source first; the rest of irqlab reads the destination first.
  if (ctx.arch === 'X86_64') ops.reverse();
  return { ...mn, lock: parts.lock, ops, text };
}

function register(ctx: OperandContext, name: string, thread: number, line: number, text: string): RawOperand {
  const r = lookupReg(ctx.arch, name);
  if (!r) {
    if (isHighByteReg(name))
      ctx.fail(line, `P${thread}: ${text}: the high-byte register "${name}" is not supported`);
    ctx.fail(line, `P${thread}: ${text}: "${name}" is not a supported register (${regNamesHelp(ctx.arch)})`);
  }
  if (r.reg >= 16) ctx.fail(line, `P${thread}: ${text}: "${name}" cannot be an operand`);
  ctx.useReg(r.reg);
  return { kind: 'reg', reg: r.reg, width: r.width };
}

function intelOperand(
  ctx: OperandContext,
  o: string,
  thread: number,
  line: number,
  text: string,
): RawOperand {
  const m = /^\[\s*([A-Za-z_]\w*)\s*\]$/.exec(o);
  if (m) {
    if (lookupReg('X86', m[1]))
      ctx.fail(
        line,
        `P${thread}: ${text}: "[${m[1]}]", an address in a register, is only read in X86_64 tests`,
      );
    return { kind: 'mem', addr: { kind: 'fixed', cell: ctx.cellOf(m[1], line) } };
  }
  if (o.startsWith('$') && isIntegerText(o.slice(1)))
    return { kind: 'imm', value: ctx.integer(o.slice(1), line) };
  if (/^[A-Za-z_]\w*$/.test(o)) {
    if (lookupReg('X86', o) || lookupReg('X86_64', o) || isHighByteReg(o))
      return register(ctx, o, thread, line, text);
    return { kind: 'name', name: o };
  }
  return ctx.fail(
    line,
    `P${thread}: ${text}: operand "${o}" is not a register, an immediate $n or a location [x]`,
  );
}

const ATT_MEM = /^(?:%([a-z]+)\s*:\s*)?([-\w]*)\s*\(\s*([^()]*)\)$/i;

function attOperand(ctx: OperandContext, o: string, thread: number, line: number, text: string): RawOperand {
  const fail = (why: string): never => ctx.fail(line, `P${thread}: ${text}: ${why}`);
  if (o.startsWith('%') && !o.includes('(')) return register(ctx, o.slice(1), thread, line, text);
  if (o.startsWith('$')) {
    const v = o.slice(1).trim();
    if (isIntegerText(v)) return { kind: 'imm', value: ctx.integer(v, line) };
    if (/^[A-Za-z_]\w*$/.test(v)) return { kind: 'imm', value: { lo: ctx.addressOf(v, line), hi: 0 } };
    return fail(`"${o}" is not an immediate ($n or $x)`);
  }
  if (isIntegerText(o)) return { kind: 'imm', value: ctx.integer(o, line) };
  const m = ATT_MEM.exec(o);
  if (!m) {
    if (/^[A-Za-z_][\w.]*$/.test(o)) return { kind: 'name', name: o };
    return fail(`operand "${o}" is not a register %r, an immediate $n or a memory operand (x), d(%r,%r,s)`);
  }
  const [, segment, disp, inner] = m;
  if (segment !== undefined) fail(`the segment override "%${segment}:" is not supported`);
  const parts = inner.split(',').map((p) => p.trim());
  // herd's symbolic location: (x)
  if (parts.length === 1 && /^[A-Za-z_]\w*$/.test(parts[0]) && disp === '') {
    return { kind: 'mem', addr: { kind: 'fixed', cell: ctx.cellOf(parts[0], line) } };
  }
  const reg = (p: string | undefined): number => {
    if (p === undefined || p === '') return -1;
    if (!p.startsWith('%')) return fail(`"${p}" in "${o}" is not a register`);
    const r = lookupReg('X86_64', p.slice(1));
    if (!r || (r.width !== 8 && r.width !== 4) || r.reg === 17)
      return fail(`"${p}" in "${o}" is not a 64- or 32-bit address register`);
    if (r.reg < 16) ctx.useReg(r.reg);
    return r.reg;
  };
  if (parts.length > 3) fail(`"${o}" has too many parts`);
  const base = reg(parts[0]);
  const index = reg(parts[1]);
  const scale = parts[2] === undefined || parts[2] === '' ? 1 : Number(parts[2]);
  if (![1, 2, 4, 8].includes(scale)) fail(`the scale in "${o}" must be 1, 2, 4 or 8`);
  if (index === 16) fail(`%rip cannot be an index register`);
  if (base === 16) {
    // RIP-relative: x(%rip) is the location x, wherever the code is.
    if (index >= 0 || !/^[A-Za-z_]\w*$/.test(disp)) fail(`RIP-relative addressing is read only as x(%rip)`);
    return { kind: 'mem', addr: { kind: 'fixed', cell: ctx.cellOf(disp, line) } };
  }
  if (base < 0 && index < 0) fail(`"${o}" has no register and is not (x)`);
  let d = 0;
  if (disp !== '') {
    if (isIntegerText(disp)) {
      const v = ctx.integer(disp, line);
      d = (v.hi >= 0x80000000 ? v.hi - 2 ** 32 : v.hi) * 2 ** 32 + v.lo;
    } else if (/^[A-Za-z_]\w*$/.test(disp)) d = ctx.addressOf(disp, line);
    else fail(`the displacement "${disp}" is not a number or a location`);
  }
  return { kind: 'mem', addr: { kind: 'computed', base, index, scale, disp: d } };
}
