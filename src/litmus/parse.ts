/**
 * A parser for x86 litmus tests in the herdtools7 format (http://diy.inria.fr/doc/litmus.html):
 * a first line `X86 <name>` (Intel syntax, herdtools7's catalogue/x86) or `X86_64 <name>` (AT&T
 * syntax, catalogue/x86_64 and herd's instruction tests), an optional quoted doc string and
 * `key=value` lines, the initial state `{ int64_t t[2]={1,-1}; x=1; 0:EAX=0; 0:rax=t; }`
 * (declarations, then values; anything not given is 0, a location not declared is an `int`), the
 * thread table `P0 | P1 ;` with one row of instructions per line (cells may be empty or hold a
 * label `L0:`), an optional `locations [...]` line and the final condition. Comments are OCaml's
 * `(* ... *)`. Anything outside the supported subset is a one-line `file:line: ...` error.
 *
 * operands.ts reads an instruction in either syntax; instr.ts gives it its meaning.
 */
import { UserError } from '../errors.ts';
import { type NameResolver, parseCondition, parseLocations, propLocs, type SourceLine } from './condition.ts';
import { type BuiltInstr, buildInstr, type InstrContext } from './instr.ts';
import { readInstr } from './operands.ts';
import { lookupReg, regNamesHelp } from './registers.ts';
import {
  type Arch,
  type Cell,
  type Instr,
  isStore,
  type LitmusTest,
  type Loc,
  type MemSymbol,
  REGISTER_COUNT,
  type Value,
  type Width,
} from './test.ts';
import { ADDR_STRIDE, parseInteger, symbolAddress, truncate } from './value.ts';

/** Removes `(* ... *)` comments (they nest in OCaml; herd's lexer nests them too), keeping newlines. */
function stripComments(text: string, fail: (line: number, msg: string) => never): string {
  let out = '';
  let depth = 0;
  let line = 1;
  let openedAt = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (c === '(' && text[i + 1] === '*') {
      if (depth === 0) openedAt = line;
      depth++;
      i++;
      continue;
    }
    if (depth > 0 && c === '*' && text[i + 1] === ')') {
      depth--;
      i++;
      continue;
    }
    if (depth === 0 || c === '\n') out += c;
  }
  if (depth > 0) fail(openedAt, 'comment "(*" is never closed');
  return out;
}

/**
 * C types of the initial state (herd reads them in X86_64 tests): bytes and signedness. `long`
 * and pointers are 8 bytes in X86_64 (LP64) and 4 in X86.
 */
function typeOf(arch: Arch, type: string): { width: Width; signed: boolean } | undefined {
  const t = type.replace(/\s+/g, ' ').trim();
  const long: Width = arch === 'X86' ? 4 : 8;
  if (t.endsWith('*')) return { width: long, signed: false };
  const table: Record<string, [Width, boolean]> = {
    char: [1, true],
    'signed char': [1, true],
    'unsigned char': [1, false],
    int8_t: [1, true],
    uint8_t: [1, false],
    short: [2, true],
    'unsigned short': [2, false],
    int16_t: [2, true],
    uint16_t: [2, false],
    int: [4, true],
    'signed int': [4, true],
    unsigned: [4, false],
    'unsigned int': [4, false],
    int32_t: [4, true],
    uint32_t: [4, false],
    long: [long, true],
    'unsigned long': [long, false],
    'long long': [8, true],
    'unsigned long long': [8, false],
    int64_t: [8, true],
    uint64_t: [8, false],
    intptr_t: [long, true],
    uintptr_t: [long, false],
  };
  const e = table[t];
  return e ? { width: e[0], signed: e[1] } : undefined;
}

class Parser implements NameResolver, InstrContext {
  readonly symbols: MemSymbol[] = [];
  readonly cells: Cell[] = [];
  readonly initMem: Value[] = [];
  readonly used: Set<number>[] = [];
  threadCount = 0;
  /** The thread whose instructions are being read (for useReg). */
  thread = 0;

  readonly file: string;
  readonly arch: Arch;
  constructor(file: string, arch: Arch) {
    this.file = file;
    this.arch = arch;
  }

  fail(line: number, msg: string): never {
    throw new UserError(`${this.file}:${line}: ${msg}`);
  }

  /** Declares a location; herd's default type is int (X86_64Base.base_type). */
  declare(name: string, type: string, count: number, line: number): MemSymbol {
    if (this.symbols.some((s) => s.name === name)) this.fail(line, `${name} is declared twice`);
    const ty = typeOf(this.arch, type);
    if (!ty)
      this.fail(
        line,
        `initial state: the type "${type}" is not supported (int, int64_t, uint64_t, char, ...)`,
      );
    if (count < 1 || count * ty.width > ADDR_STRIDE)
      this.fail(line, `${name}[${count}]: the size is out of range`);
    const sym: MemSymbol = {
      name,
      type,
      width: ty.width,
      signed: ty.signed,
      count,
      firstCell: this.cells.length,
    };
    const index = this.symbols.length;
    this.symbols.push(sym);
    for (let k = 0; k < count; k++) {
      this.cells.push({
        name: count === 1 ? name : `${name}[${k}]`,
        symbol: index,
        width: ty.width,
        signed: ty.signed,
      });
      this.initMem.push({ lo: 0, hi: 0 });
    }
    return sym;
  }

  symbolIndex(name: string, line: number): number {
    if (lookupReg(this.arch, name) && !/^\d/.test(name))
      this.fail(line, `"${name}" is a register, not a memory location (write it as 0:${name})`);
    const k = this.symbols.findIndex((s) => s.name === name);
    if (k >= 0) return k;
    this.declare(name, 'int', 1, line);
    return this.symbols.length - 1;
  }

  mem(name: string, line: number): number {
    return this.symbols[this.symbolIndex(name, line)].firstCell;
  }

  element(name: string, index: number, line: number): number {
    const sym = this.symbols[this.symbolIndex(name, line)];
    if (index >= sym.count) this.fail(line, `${name}[${index}]: ${name} has ${sym.count} element(s)`);
    return sym.firstCell + index;
  }

  cellOf(name: string, line: number): number {
    return this.mem(name, line);
  }

  cell(index: number): Cell {
    return this.cells[index];
  }

  cellType(index: number): string {
    const s = this.symbols[this.cells[index].symbol];
    return s.count > 1
      ? `an element of ${s.type} ${s.name}[${s.count}]`
      : `${s.type === 'int' ? 'an' : 'a'} ${s.type}`;
  }

  addressOf(name: string, line: number): number {
    return symbolAddress(this.symbolIndex(name, line));
  }

  integer(text: string, line: number): Value {
    const v = parseInteger(text, this.arch === 'X86' ? 32 : 64);
    if (v === undefined) return this.fail(line, `"${text}" is not an integer`);
    if (typeof v === 'string') return this.fail(line, v);
    return v;
  }

  value(text: string, line: number, width: Width): Value {
    if (/^[A-Za-z_]\w*$/.test(text)) return { lo: this.addressOf(text, line), hi: 0 };
    return truncate(this.integer(text, line), width);
  }

  widthOf(at: Loc): Width {
    return at.kind === 'mem' ? this.cells[at.cell].width : at.width;
  }

  useReg(reg: number): void {
    this.used[this.thread].add(reg);
  }

  reg(thread: number, name: string, line: number): { reg: number; width: Width } {
    if (thread >= this.threadCount)
      this.fail(line, `${thread}:${name}: there is no thread P${thread} (the test has ${this.threadCount})`);
    const r = lookupReg(this.arch, name);
    if (!r) this.fail(line, `"${name}" is not a supported register (${regNamesHelp(this.arch)})`);
    this.used[thread].add(r.reg);
    return r;
  }
}

/** A `{ ... }` block's text from the line holding its `{`: braces nest (array initialisers). */
function readInitBlock(
  lines: readonly SourceLine[],
  from: number,
  fail: (line: number, msg: string) => never,
): { entries: SourceLine[]; next: number } {
  const entries: SourceLine[] = [];
  let depth = 0;
  let cur = '';
  let curLine = lines[from].line;
  let i = from;
  const push = () => {
    if (cur.trim() !== '') entries.push({ text: cur.trim(), line: curLine });
    cur = '';
  };
  let started = false;
  for (; i < lines.length; i++) {
    const text = lines[i].text;
    for (let k = started ? 0 : text.indexOf('{'); k < text.length; k++) {
      const c = text[k];
      if (!started) {
        started = true;
        depth = 1;
        curLine = lines[i].line;
        continue;
      }
      if (c === '{') depth++;
      if (c === '}') depth--;
      if (depth === 0) {
        push();
        const after = text.slice(k + 1).trim();
        if (after !== '') fail(lines[i].line, `unexpected "${after}" after the initial state`);
        return { entries, next: i + 1 };
      }
      if (c === ';' && depth === 1) {
        push();
        continue;
      }
      if (cur.trim() === '') curLine = lines[i].line;
      cur += c;
    }
    cur += ' ';
  }
  return fail(lines[from].line, 'the initial state "{" is never closed by "}"');
}

const DECLARATION = /^(.+?)(?:\s*(\*)\s*|\s+)(\d+:[A-Za-z]\w*|[A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?$/;

/** The initial state: declarations first (so values may name any location), then values. */
function readInit(p: Parser, entries: readonly SourceLine[], initRegs: Value[][]): void {
  const assignments: { lhs: string; rhs: string; line: number }[] = [];
  for (const { text, line } of entries) {
    const eq = text.indexOf('=');
    const lhs = (eq < 0 ? text : text.slice(0, eq)).trim();
    const rhs = eq < 0 ? undefined : text.slice(eq + 1).trim();
    if (/^(\d+:[A-Za-z]\w*|\[\s*[A-Za-z_]\w*\s*\]|[A-Za-z_]\w*)$/.test(lhs)) {
      if (rhs === undefined || rhs === '')
        p.fail(line, `initial state: expected x=n or 0:EAX=n, got "${text}"`);
      assignments.push({ lhs, rhs, line });
      continue;
    }
    const d = DECLARATION.exec(lhs);
    if (!d) p.fail(line, `initial state: expected x=n, 0:EAX=n or a declaration "int x", got "${text}"`);
    const [, type, star, name, count] = d;
    if (/^\d+:/.test(name)) {
      // A typed register (`int64_t 0:rcx;`): registers have their own size, the type adds nothing.
      if (!typeOf(p.arch, type + (star ?? '')))
        p.fail(line, `initial state: the type "${type}" is not supported`);
      if (rhs !== undefined) assignments.push({ lhs: name, rhs, line });
      else {
        const [t, r] = name.split(':');
        p.reg(Number(t), r, line);
      }
      continue;
    }
    const sym = p.declare(name, type + (star ?? ''), count === undefined ? 1 : Number(count), line);
    if (rhs === undefined) continue;
    if (count === undefined) {
      assignments.push({ lhs: name, rhs, line });
      continue;
    }
    const list = /^\{(.*)\}$/.exec(rhs);
    if (!list) p.fail(line, `initial state: ${name}[${count}] is given a list {v, ...}, got "${rhs}"`);
    const values = list[1].trim() === '' ? [] : list[1].split(',').map((v) => v.trim());
    if (values.length > sym.count)
      p.fail(line, `initial state: ${values.length} values for ${name}[${count}]`);
    values.forEach((v, k) => {
      p.initMem[sym.firstCell + k] = p.value(v, line, sym.width);
    });
  }
  for (const { lhs, rhs, line } of assignments) {
    const r = /^(\d+):([A-Za-z]\w*)$/.exec(lhs);
    if (r) {
      const t = Number(r[1]);
      const { reg, width } = p.reg(t, r[2], line);
      // An initial register value is the whole register, whatever part names it.
      initRegs[t][reg] = p.value(rhs, line, width);
      continue;
    }
    const cell = p.mem(lhs.replace(/[[\]\s]/g, ''), line);
    p.initMem[cell] = p.value(rhs, line, p.cells[cell].width);
  }
}

/** Branch targets: each label is the index of the instruction that follows it. */
function resolveLabels(
  p: Parser,
  thread: number,
  prog: Instr[],
  labels: Map<string, number>,
  jumps: { at: number; label: string; line: number }[],
): void {
  for (const j of jumps) {
    const target = labels.get(j.label);
    if (target === undefined) p.fail(j.line, `P${thread}: no label "${j.label}" in P${thread}`);
    (prog[j.at] as { target: number }).target = target;
  }
}

/**
 * The model gives each thread a store buffer as deep as the stores it can run, so a store must
 * run at most once: one on a loop is refused (x86-TSO's buffer is unbounded, and so would be
 * the state space).
 */
function checkStoresRunOnce(p: Parser, thread: number, prog: Instr[]): void {
  const next = (k: number): number[] => {
    const i = prog[k];
    if (i.op === 'ret') return [];
    if (i.op === 'jump') return i.cond === null ? [i.target] : [k + 1, i.target];
    return [k + 1];
  };
  prog.forEach((ins, k) => {
    if (!isStore(ins)) return;
    const seen = new Set<number>();
    const stack = next(k);
    while (stack.length > 0) {
      const j = stack.pop()!;
      if (j === k)
        p.fail(
          ins.line,
          `P${thread}: ${ins.text}: a store on a loop is not supported (it could fill the store buffer without bound)`,
        );
      if (j >= prog.length || seen.has(j)) continue;
      seen.add(j);
      stack.push(...next(j));
    }
  });
}

const CONDITION_START = /^\s*(~\s*exists|exists|forall)\b/;

const ARCHS: readonly string[] = ['X86', 'X86_64'];

export function parseLitmus(text: string, file: string): LitmusTest {
  const early = (line: number, msg: string): never => {
    throw new UserError(`${file}:${line}: ${msg}`);
  };
  const lines = stripComments(text, early)
    .split(/\r?\n/)
    .map((t, i) => ({ text: t, line: i + 1 }));
  let i = 0;
  const skipBlank = () => {
    while (i < lines.length && lines[i].text.trim() === '') i++;
  };
  // Where "the file ends" is reported: its last line that is not blank.
  const lastLine = lines.reduce((last, l) => (l.text.trim() === '' ? last : l.line), 1);

  skipBlank();
  if (i === lines.length) early(1, 'empty file: expected "X86 <name>" or "X86_64 <name>"');
  const head = /^\s*(\S+)\s+(\S+)\s*$/.exec(lines[i].text);
  if (!head) early(lines[i].line, `expected "X86 <name>" or "X86_64 <name>", got "${lines[i].text.trim()}"`);
  if (!ARCHS.includes(head![1]))
    early(
      lines[i].line,
      `architecture "${head![1]}" is not supported (X86 tests in Intel syntax and X86_64 tests in AT&T syntax, e.g. "X86_64 SB")`,
    );
  const p = new Parser(file, head![1] as Arch);
  const fail = (line: number, msg: string): never => p.fail(line, msg);
  const name = head![2];
  i++;

  let doc: string | undefined;
  const meta: Record<string, string> = {};
  for (;;) {
    skipBlank();
    if (i === lines.length) fail(lastLine, 'the file ends before the initial state "{ ... }"');
    const t = lines[i].text.trim();
    if (t.startsWith('{')) break;
    if (t.startsWith('"')) {
      const start = lines[i].line;
      let s = t;
      while (!/^"[^"]*"$/.test(s)) {
        i++;
        if (i === lines.length || s.indexOf('"', 1) >= 0)
          fail(start, 'the doc string is not closed by one "');
        s += `\n${lines[i].text.trim()}`;
      }
      doc = s.slice(1, -1);
    } else {
      const kv = /^([A-Za-z][\w.-]*)\s*=\s*(.*)$/.exec(t);
      if (!kv) fail(lines[i].line, `expected a doc string, key=value or the initial state "{", got "${t}"`);
      meta[kv![1]] = kv![2];
    }
    i++;
  }

  // The initial state: entries separated by ';' between '{' and '}', maybe over several lines.
  const init = readInitBlock(lines, i, fail);
  i = init.next;

  // The thread table's header: P0 | P1 | ... ;
  skipBlank();
  if (i === lines.length) fail(lastLine, 'the file ends before the thread table "P0 | P1 ;"');
  const headerLine = lines[i];
  const header = headerLine.text.trim();
  if (!header.endsWith(';')) fail(headerLine.line, `expected the thread table "P0 | P1 ;", got "${header}"`);
  const procs = header
    .slice(0, -1)
    .split('|')
    .map((c) => c.trim());
  procs.forEach((c, k) => {
    if (c !== `P${k}`) fail(headerLine.line, `thread ${k} of the table header should be "P${k}", got "${c}"`);
  });
  p.threadCount = procs.length;
  for (let k = 0; k < procs.length; k++) p.used.push(new Set());
  i++;

  const initRegs = procs.map(() => Array.from({ length: REGISTER_COUNT }, () => ({ lo: 0, hi: 0 })));
  readInit(p, init.entries, initRegs);

  // Rows of instructions until the condition (or locations) starts.
  const threads: Instr[][] = procs.map(() => []);
  const labels = procs.map(() => new Map<string, number>());
  const jumps = procs.map(() => [] as { at: number; label: string; line: number }[]);
  for (;;) {
    skipBlank();
    if (i === lines.length) fail(lastLine, 'the file ends before the condition (exists, ~exists or forall)');
    const { text: raw, line } = lines[i];
    if (CONDITION_START.test(raw) || /^\s*(locations|filter)\b/.test(raw)) break;
    const row = raw.trim();
    if (!row.endsWith(';')) fail(line, `a row of the thread table must end with ";", got "${row}"`);
    const cells = row
      .slice(0, -1)
      .split('|')
      .map((c) => c.trim());
    if (cells.length !== procs.length)
      fail(line, `this row has ${cells.length} cell(s) but the table has ${procs.length} thread(s)`);
    cells.forEach((c, k) => {
      let cell = c;
      const label = /^([A-Za-z_][\w.]*)\s*:(?!:)\s*(.*)$/.exec(cell);
      if (label && lookupReg(p.arch, label[1]) === undefined) {
        if (labels[k].has(label[1])) fail(line, `P${k}: the label "${label[1]}" is defined twice`);
        labels[k].set(label[1], threads[k].length);
        cell = label[2];
      }
      if (cell === '') return;
      p.thread = k;
      const built: BuiltInstr = buildInstr(p, readInstr(p, cell, k, line), k, line);
      if (built.label !== undefined) jumps[k].push({ at: threads[k].length, label: built.label, line });
      threads[k].push(built.instr);
    });
    i++;
  }
  threads.forEach((prog, k) => {
    resolveLabels(p, k, prog, labels[k], jumps[k]);
    checkStoresRunOnce(p, k, prog);
  });

  let observed: Loc[] = [];
  if (/^\s*filter\b/.test(lines[i].text)) fail(lines[i].line, 'filter is not supported');
  if (/^\s*locations\b/.test(lines[i].text)) {
    observed = parseLocations(lines[i], p);
    i++;
    skipBlank();
    if (i === lines.length) fail(lastLine, 'the file ends before the condition (exists, ~exists or forall)');
  }
  const condition = parseCondition(lines.slice(i), p);
  for (const l of propLocs(condition.body)) {
    if (!observed.some((o) => JSON.stringify(o) === JSON.stringify(l))) observed.push(l);
  }

  return {
    file,
    arch: p.arch,
    name,
    doc,
    meta,
    symbols: p.symbols,
    cells: p.cells,
    initMem: p.initMem,
    initRegs,
    threads,
    usedRegs: p.used.map((s) => [...s].sort((a, b) => a - b)),
    condition,
    observed,
  };
}
