/**
 * A parser for x86 litmus tests in the herdtools7 format (http://diy.inria.fr/doc/litmus.html,
 * the tests of herdtools7's catalogue/x86): a first line `X86 <name>`, an optional quoted doc
 * string and `key=value` lines, the initial state `{ x=1; 0:EAX=0; }` (anything not given is 0),
 * the thread table `P0 | P1 ;` with one row of instructions per line (`MOV [x],$1 | MOV EAX,[y] ;`,
 * cells may be empty), an optional `locations [...]` line and the final condition. Comments are
 * OCaml's `(* ... *)`. Anything outside the supported subset is a one-line `file:line: ...` error.
 */
import { UserError } from '../errors.ts';
import { type NameResolver, parseCondition, parseLocations, propLocs, type SourceLine } from './condition.ts';
import { type Instr, type LitmusTest, type Loc, REGISTERS, type Rmw, type Source } from './test.ts';

const KNOWN_MNEMONICS = [
  'MOV',
  'MFENCE',
  'XCHG',
  'ADD',
  'SUB',
  'AND',
  'OR',
  'XOR',
  'INC',
  'DEC',
  'XADD',
  'CMPXCHG',
];

const SUPPORTED =
  'MOV, MFENCE, XCHG, and LOCK ADD/SUB/AND/OR/XOR/INC/DEC/XADD/CMPXCHG with a memory destination';

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

type Operand = { kind: 'mem'; name: string } | { kind: 'reg'; reg: number } | { kind: 'imm'; text: string };

const INT = /^-?(0x[0-9a-f]+|\d+)$/i;

class Parser implements NameResolver {
  readonly locations: string[] = [];
  readonly initMem: number[] = [];
  readonly used: Set<number>[] = [];
  threadCount = 0;

  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  fail(line: number, msg: string): never {
    throw new UserError(`${this.file}:${line}: ${msg}`);
  }

  value(text: string, line: number): number {
    if (!INT.test(text)) {
      if (/^[A-Za-z_]\w*$/.test(text))
        this.fail(line, `"${text}" as a value (an address) is not supported: values are integers`);
      this.fail(line, `"${text}" is not an integer`);
    }
    const n = Number(text.startsWith('-') ? -Number(text.slice(1)) : text);
    if (n < -(2 ** 31) || n > 2 ** 32 - 1) this.fail(line, `${text} does not fit in 32 bits`);
    return n >>> 0;
  }

  mem(name: string, line: number): number {
    if ((REGISTERS as readonly string[]).includes(name.toUpperCase()))
      this.fail(line, `"${name}" is a register, not a memory location (write it as 0:${name.toUpperCase()})`);
    let i = this.locations.indexOf(name);
    if (i < 0) {
      i = this.locations.length;
      this.locations.push(name);
      this.initMem.push(0);
    }
    return i;
  }

  reg(thread: number, name: string, line: number): number {
    if (thread >= this.threadCount)
      this.fail(line, `${thread}:${name}: there is no thread P${thread} (the test has ${this.threadCount})`);
    const r = (REGISTERS as readonly string[]).indexOf(name.toUpperCase());
    if (r < 0) this.fail(line, `"${name}" is not a supported register (${REGISTERS.join(', ')})`);
    this.used[thread].add(r);
    return r;
  }

  operand(text: string, thread: number, line: number): Operand {
    const m = /^\[\s*([A-Za-z_]\w*)\s*\]$/.exec(text);
    if (m) {
      this.mem(m[1], line);
      return { kind: 'mem', name: m[1] };
    }
    if (text.startsWith('$')) {
      this.value(text.slice(1), line);
      return { kind: 'imm', text: text.slice(1) };
    }
    if (/^[A-Za-z]\w*$/.test(text)) return { kind: 'reg', reg: this.reg(thread, text, line) };
    return this.fail(line, `operand "${text}" is not a register, an immediate $n or a location [x]`);
  }

  instr(cell: string, thread: number, line: number): Instr {
    const m = /^(LOCK\s+)?([A-Za-z]+)\b\s*(.*)$/i.exec(cell);
    if (!m) return this.fail(line, `P${thread}: cannot read "${cell}" as an instruction`);
    const lock = m[1] !== undefined;
    const mnemonic = m[2].toUpperCase();
    if (!KNOWN_MNEMONICS.includes(mnemonic))
      this.fail(line, `P${thread}: unsupported instruction "${cell}" (supported: ${SUPPORTED})`);
    const raw = m[3].trim() === '' ? [] : m[3].split(',').map((s) => s.trim());
    const ops = raw.map((o) => this.operand(o, thread, line));
    const show = (o: Operand) =>
      o.kind === 'mem' ? `[${o.name}]` : o.kind === 'imm' ? `$${o.text}` : REGISTERS[o.reg];
    const text = `${lock ? 'LOCK ' : ''}${mnemonic}${ops.length ? ` ${ops.map(show).join(',')}` : ''}`;
    const bad = (why: string): never => this.fail(line, `P${thread}: ${text}: ${why}`);
    const src = (o: Operand): Source =>
      o.kind === 'reg'
        ? { reg: o.reg, imm: 0 }
        : { reg: -1, imm: this.value((o as { text: string }).text, line) };
    const loc = (o: Operand) => this.mem((o as { name: string }).name, line);
    const reg = (o: Operand) => (o as { reg: number }).reg;
    const shape = ops.map((o) => o.kind).join(',');
    const base = { text, line };

    if (lock && (mnemonic === 'MOV' || mnemonic === 'MFENCE')) bad(`${mnemonic} cannot take a LOCK prefix`);
    switch (mnemonic) {
      case 'MOV':
        if (shape === 'mem,imm' || shape === 'mem,reg')
          return { op: 'store', loc: loc(ops[0]), src: src(ops[1]), ...base };
        if (shape === 'reg,mem') return { op: 'load', reg: reg(ops[0]), loc: loc(ops[1]), ...base };
        if (shape === 'reg,imm' || shape === 'reg,reg')
          return { op: 'mov', reg: reg(ops[0]), src: src(ops[1]), ...base };
        return bad('MOV takes [x],$n | [x],REG | REG,[x] | REG,$n | REG,REG');
      case 'MFENCE':
        if (ops.length !== 0) bad('MFENCE takes no operands');
        return { op: 'mfence', ...base };
      case 'XCHG':
        // XCHG with a memory operand is locked with or without the prefix (SDM Vol. 3A 9.1.2.2).
        if (shape === 'mem,reg')
          return { op: 'rmw', rmw: 'xchg', loc: loc(ops[0]), reg: reg(ops[1]), src: src(ops[1]), ...base };
        if (shape === 'reg,mem')
          return { op: 'rmw', rmw: 'xchg', loc: loc(ops[1]), reg: reg(ops[0]), src: src(ops[0]), ...base };
        return bad('XCHG takes [x],REG or REG,[x]');
      case 'ADD':
      case 'SUB':
      case 'AND':
      case 'OR':
      case 'XOR':
      case 'INC':
      case 'DEC':
      case 'XADD':
      case 'CMPXCHG':
        return this.lockedRmw(mnemonic, lock, ops, shape, base, bad, src, loc, reg);
      default:
        return this.fail(line, `P${thread}: unsupported instruction "${cell}" (supported: ${SUPPORTED})`);
    }
  }

  lockedRmw(
    mnemonic: string,
    lock: boolean,
    ops: Operand[],
    shape: string,
    base: { text: string; line: number },
    bad: (why: string) => never,
    src: (o: Operand) => Source,
    loc: (o: Operand) => number,
    reg: (o: Operand) => number,
  ): Instr {
    if (ops[0]?.kind !== 'mem') bad('only a memory destination is supported');
    if (!lock) bad('a read-modify-write of memory without LOCK is not atomic and is not supported');
    if (mnemonic === 'INC' || mnemonic === 'DEC') {
      if (shape !== 'mem') bad(`${mnemonic} takes one operand [x]`);
      const rmw: Rmw = mnemonic === 'INC' ? 'add' : 'sub';
      return { op: 'rmw', rmw, loc: loc(ops[0]), reg: -1, src: { reg: -1, imm: 1 }, ...base };
    }
    if (mnemonic === 'XADD' || mnemonic === 'CMPXCHG') {
      if (shape !== 'mem,reg') bad(`${mnemonic} takes [x],REG`);
      const rmw: Rmw = mnemonic === 'XADD' ? 'xadd' : 'cmpxchg';
      return { op: 'rmw', rmw, loc: loc(ops[0]), reg: reg(ops[1]), src: src(ops[1]), ...base };
    }
    if (shape !== 'mem,imm' && shape !== 'mem,reg') bad(`${mnemonic} takes [x],$n or [x],REG`);
    const rmw = mnemonic.toLowerCase() as Rmw;
    return { op: 'rmw', rmw, loc: loc(ops[0]), reg: -1, src: src(ops[1]), ...base };
  }
}

const CONDITION_START = /^\s*(~\s*exists|exists|forall)\b/;

export function parseLitmus(text: string, file: string): LitmusTest {
  const p = new Parser(file);
  const fail = (line: number, msg: string): never => p.fail(line, msg);
  const lines = stripComments(text, fail)
    .split(/\r?\n/)
    .map((t, i) => ({ text: t, line: i + 1 }));
  let i = 0;
  const skipBlank = () => {
    while (i < lines.length && lines[i].text.trim() === '') i++;
  };
  // Where "the file ends" is reported: its last line that is not blank.
  const lastLine = lines.reduce((last, l) => (l.text.trim() === '' ? last : l.line), 1);

  skipBlank();
  if (i === lines.length) fail(1, 'empty file: expected "X86 <name>"');
  const head = /^\s*(\S+)\s+(\S+)\s*$/.exec(lines[i].text);
  if (!head) fail(lines[i].line, `expected "X86 <name>", got "${lines[i].text.trim()}"`);
  if (head![1] !== 'X86')
    fail(lines[i].line, `architecture "${head![1]}" is not supported (only X86 tests, e.g. "X86 SB")`);
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
  const initLines: SourceLine[] = [];
  const openLine = lines[i].line;
  {
    let rest = lines[i].text.slice(lines[i].text.indexOf('{') + 1);
    for (;;) {
      const close = rest.indexOf('}');
      if (close >= 0) {
        initLines.push({ text: rest.slice(0, close), line: lines[i].line });
        if (rest.slice(close + 1).trim() !== '')
          fail(lines[i].line, `unexpected "${rest.slice(close + 1).trim()}" after the initial state`);
        break;
      }
      initLines.push({ text: rest, line: lines[i].line });
      i++;
      if (i === lines.length) fail(openLine, 'the initial state "{" is never closed by "}"');
      rest = lines[i].text;
    }
    i++;
  }

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

  const initRegs = procs.map(() => REGISTERS.map(() => 0));
  for (const { text: t, line } of initLines) {
    for (const entry of t.split(';').map((e) => e.trim())) {
      if (entry === '') continue;
      const m = /^(?:(\d+):([A-Za-z]\w*)|\[\s*([A-Za-z_]\w*)\s*\]|([A-Za-z_]\w*))\s*=\s*(\S+)$/.exec(entry);
      if (!m) fail(line, `initial state: expected x=n or 0:EAX=n, got "${entry}"`);
      const v = p.value(m![5], line);
      if (m![1] !== undefined) initRegs[Number(m![1])][p.reg(Number(m![1]), m![2], line)] = v;
      else p.initMem[p.mem(m![3] ?? m![4], line)] = v;
    }
  }

  // Rows of instructions until the condition (or locations) starts.
  const threads: Instr[][] = procs.map(() => []);
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
      if (c !== '') threads[k].push(p.instr(c, k, line));
    });
    i++;
  }

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
    name,
    doc,
    meta,
    locations: p.locations,
    initMem: p.initMem,
    initRegs,
    threads,
    usedRegs: p.used.map((s) => [...s].sort((a, b) => a - b)),
    condition,
    observed,
  };
}
