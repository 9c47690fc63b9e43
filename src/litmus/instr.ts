/**
 * What an instruction does, whichever syntax it was written in (operands.ts reads both): the
 * mnemonic and the kinds of its operands choose one of the model's instructions (test.ts Instr).
 * Anything outside the subset is refused with one `file:line: P<n>: <instruction>: <why>` line.
 *
 * Sizes: the AT&T suffix, else the register operands, else the declared type of a memory
 * operand. A memory access must have its location's size: mixed-size accesses are refused.
 */
import type { OperandContext, RawInstr, RawOperand } from './operands.ts';
import { JCC } from './operands.ts';
import type { Addr, Alu, AluOperand, Cell, Cond, Instr, Rmw, Source, Value, Width } from './test.ts';
import { truncate } from './value.ts';

export interface InstrContext extends OperandContext {
  cell(index: number): Cell;
  /** The declared type of a cell's location, for messages. */
  cellType(index: number): string;
}

/** An instruction, and the label a branch goes to (resolved once the thread is read). */
export interface BuiltInstr {
  instr: Instr;
  label?: string;
}

const LOCKABLE = ['add', 'sub', 'and', 'or', 'xor', 'inc', 'dec', 'xadd', 'cmpxchg', 'xchg'];
const ARITH = ['add', 'sub', 'and', 'or', 'xor'];
const SHIFTS: Record<string, Alu> = { shl: 'shl', sal: 'shl', shr: 'shr', sar: 'sar' };

export function buildInstr(ctx: InstrContext, raw: RawInstr, thread: number, line: number): BuiltInstr {
  const { base, lock, ops, text } = raw;
  const at = { text, line };
  const bad = (why: string): never => ctx.fail(line, `P${thread}: ${text}: ${why}`);
  const name = base.toUpperCase();
  if (lock && !LOCKABLE.includes(base)) bad(`${name} cannot take a LOCK prefix`);
  const none = () => {
    if (ops.length !== 0) bad(`${name} takes no operands`);
  };

  switch (base) {
    case 'mfence':
      none();
      return { instr: { op: 'mfence', ...at } };
    // Under x86-TSO, LFENCE and SFENCE order nothing that is not already ordered for ordinary
    // (write-back) memory: loads are not reordered with loads, nor stores with stores (SDM Vol. 3A
    // 9.2.2). ENDBR64 only marks a branch target (SDM Vol. 1 18.3, CET); herd reads it as a NOP.
    case 'lfence':
    case 'sfence':
    case 'endbr64':
      none();
      return { instr: { op: 'nop', ...at } };
    case 'nop':
      return { instr: { op: 'nop', ...at } };
    case 'ret':
      none();
      return { instr: { op: 'ret', ...at } };
  }
  if (base === 'jmp' || JCC[base] !== undefined) {
    if (ops.length !== 1 || ops[0].kind !== 'name') bad(`${name} takes a label`);
    const cond = base === 'jmp' ? null : (JCC[base] as Cond);
    return { instr: { op: 'jump', cond, target: -1, ...at }, label: (ops[0] as { name: string }).name };
  }

  const shift = SHIFTS[base];
  // A shift's count (an immediate or CL) has its own size.
  const sized = shift !== undefined ? ops.slice(0, 1) : ops;
  const w = widthOf(ctx, raw, sized, bad);
  for (const o of ops)
    if (o.kind === 'name') bad(`"${o.name}" is not an operand here (memory is written (x))`);
  const src = (o: RawOperand): Source =>
    o.kind === 'reg'
      ? { kind: 'reg', reg: o.reg }
      : { kind: 'imm', value: truncate((o as { kind: 'imm'; value: Value }).value, w) };
  const aluOp = (o: RawOperand): AluOperand => (o.kind === 'mem' ? { kind: 'mem', addr: o.addr } : src(o));
  const addr = (o: RawOperand): Addr => (o as { addr: Addr }).addr;
  const reg = (o: RawOperand): number => (o as { reg: number }).reg;
  const shape = ops.map((o) => o.kind).join(',');

  if (base === 'mov') {
    if (shape === 'reg,reg' || shape === 'reg,imm')
      return { instr: { op: 'mov', width: w, reg: reg(ops[0]), src: src(ops[1]), ...at } };
    if (shape === 'reg,mem')
      return { instr: { op: 'load', width: w, reg: reg(ops[0]), addr: addr(ops[1]), ...at } };
    if (shape === 'mem,reg' || shape === 'mem,imm')
      return { instr: { op: 'store', width: w, addr: addr(ops[0]), src: src(ops[1]), ...at } };
    return bad('MOV moves between a register and a register, an immediate or memory, or stores to memory');
  }
  if (base === 'xchg') {
    // XCHG with a memory operand is locked with or without the prefix (SDM Vol. 3A 9.1.2.2).
    if (shape === 'mem,reg' || shape === 'reg,mem') {
      const [m, r] = ops[0].kind === 'mem' ? [ops[0], ops[1]] : [ops[1], ops[0]];
      return { instr: rmw('xchg', w, addr(m), reg(r), src(r), at) };
    }
    return bad('XCHG is read with one memory operand and one register');
  }
  const lockedMem = (): void => {
    if (!lock) bad('a read-modify-write of memory without LOCK is not atomic and is not supported');
  };
  if (ARITH.includes(base)) {
    if (shape === 'mem,reg' || shape === 'mem,imm') {
      lockedMem();
      return { instr: rmw(base as Rmw, w, addr(ops[0]), -1, src(ops[1]), at) };
    }
    if (ops.length === 2 && ops[0].kind === 'reg' && ops[1].kind !== 'name') {
      if (lock) bad('LOCK needs a memory destination');
      return {
        instr: { op: 'alu', alu: base as Alu, width: w, dst: aluOp(ops[0]), src: aluOp(ops[1]), ...at },
      };
    }
    return bad(`${name} takes a register or memory destination and a register, immediate or memory source`);
  }
  if (base === 'inc' || base === 'dec') {
    const one: Source = { kind: 'imm', value: { lo: 1, hi: 0 } };
    if (shape === 'mem') {
      lockedMem();
      return { instr: rmw(base, w, addr(ops[0]), -1, one, at) };
    }
    if (shape === 'reg') {
      if (lock) bad('LOCK needs a memory destination');
      return { instr: { op: 'alu', alu: base, width: w, dst: aluOp(ops[0]), src: one, ...at } };
    }
    return bad(`${name} takes one register or memory operand`);
  }
  if (base === 'xadd' || base === 'cmpxchg') {
    if (shape !== 'mem,reg') bad(`${name} is read with a memory destination and a register`);
    lockedMem();
    return { instr: rmw(base, w, addr(ops[0]), reg(ops[1]), src(ops[1]), at) };
  }
  if (base === 'cmp' || base === 'test') {
    if (ops.length !== 2 || ops[0].kind === 'imm' || shape === 'mem,mem')
      bad(`${name} compares a register or memory with a register, an immediate or memory`);
    return { instr: { op: 'alu', alu: base, width: w, dst: aluOp(ops[0]), src: aluOp(ops[1]), ...at } };
  }
  if (shift !== undefined) {
    if (ops[0]?.kind !== 'reg') bad(`${name} is read with a register destination`);
    const count: Source =
      ops.length === 1
        ? { kind: 'imm', value: { lo: 1, hi: 0 } }
        : ops[1].kind === 'imm'
          ? { kind: 'imm', value: { lo: ops[1].value.lo & 0xff, hi: 0 } }
          : ops[1].kind === 'reg' && ops[1].reg === 2 && ops[1].width === 1
            ? { kind: 'reg', reg: 2 }
            : bad(`the count of ${name} is an immediate or CL`);
    if (ops.length > 2) bad(`${name} takes a count and a register`);
    return { instr: { op: 'alu', alu: shift, width: w, dst: aluOp(ops[0]), src: count, ...at } };
  }
  return bad(`unsupported instruction`);
}

function rmw(
  kind: Rmw,
  width: Width,
  addr: Addr,
  reg: number,
  src: Source,
  at: { text: string; line: number },
): Instr {
  return { op: 'rmw', rmw: kind, width, addr, reg, src, ...at };
}

/** The operation's size: the suffix, else the registers, else the location's declared type. */
function widthOf(ctx: InstrContext, raw: RawInstr, sized: RawOperand[], bad: (why: string) => never): Width {
  const regs = sized.filter((o) => o.kind === 'reg') as { reg: number; width: Width }[];
  const mems = sized.filter((o) => o.kind === 'mem' && o.addr.kind === 'fixed') as {
    addr: { kind: 'fixed'; cell: number };
  }[];
  const w: Width | undefined =
    raw.suffix ?? regs[0]?.width ?? (mems[0] ? ctx.cell(mems[0].addr.cell).width : undefined);
  if (w === undefined)
    return bad('the operand size is unknown: give the mnemonic a size suffix (b, w, l or q)');
  for (const r of regs)
    if (r.width !== w)
      bad(`a ${r.width}-byte register in a ${w}-byte operation (the suffix or the other register says ${w})`);
  for (const m of mems) {
    const c = ctx.cell(m.addr.cell);
    if (c.width !== w)
      bad(
        `${w === 8 ? 'an' : 'a'} ${w}-byte access to ${c.name}, which is ${ctx.cellType(m.addr.cell)} (${c.width} bytes): mixed-size accesses are not supported`,
      );
  }
  return w;
}
