/**
 * The final condition of a litmus test and its `locations [...]` line: a proposition over the
 * final values of memory locations (`x=1`, `[x]=1`) and registers (`0:EAX=1`, `0:rax=1`,
 * `0:RAX=1`), built with `~`, `/\`, `\/`, parentheses, `true` and `false`, under `exists`,
 * `~exists` or `forall` (the herdtools7 syntax; `~` binds tighter than `/\`, which binds tighter
 * than `\/`). A value is an integer or the name of a location (its address).
 */
import type { Condition, Loc, Prop, Quantifier, Value, Width } from './test.ts';

export interface SourceLine {
  text: string;
  line: number;
}

interface Token {
  t: string;
  line: number;
}

/** How the parser turns names into indices (parse.ts owns the tables). */
export interface NameResolver {
  /** The cell of location `name` (its first element if it is an array). */
  mem(name: string, line: number): number;
  /** The cell of element `index` of array `name`. */
  element(name: string, index: number, line: number): number;
  reg(thread: number, name: string, line: number): { reg: number; width: Width };
  /**
   * A value as the test writes it (decimal or 0x hex, maybe negative, or a location's name for its
   * address), truncated to `width` bytes.
   */
  value(text: string, line: number, width: Width): Value;
  /** How many bytes a place holds. */
  widthOf(at: Loc): Width;
  fail(line: number, msg: string): never;
}

const TOKEN = /\s+|\/\\|\\\/|=>|[~()[\]=;]|[A-Za-z0-9_:$.+-]+|./g;

function tokenize(lines: readonly SourceLine[]): Token[] {
  const out: Token[] = [];
  for (const { text, line } of lines) {
    for (const m of text.matchAll(TOKEN)) if (m[0].trim() !== '') out.push({ t: m[0], line });
  }
  return out;
}

class Tokens {
  i = 0;
  readonly ts: Token[];
  readonly r: NameResolver;
  readonly lastLine: number;
  constructor(ts: Token[], r: NameResolver, lastLine: number) {
    this.ts = ts;
    this.r = r;
    this.lastLine = lastLine;
  }
  peek(): string | undefined {
    return this.ts[this.i]?.t;
  }
  line(): number {
    return this.ts[this.i]?.line ?? this.lastLine;
  }
  next(what: string): Token {
    const tok = this.ts[this.i];
    if (!tok) this.r.fail(this.lastLine, `the condition ends where ${what} was expected`);
    this.i++;
    return tok;
  }
  expect(t: string): void {
    const tok = this.next(`"${t}"`);
    if (tok.t !== t) this.r.fail(tok.line, `expected "${t}" in the condition, got "${tok.t}"`);
  }
}

const THREAD_REG = /^(\d+):([A-Za-z]\w*)$/;
const NAME = /^[A-Za-z_]\w*$/;

/** A location: `x`, `[x]`, `t[1]` or `N:REG`. */
function parseLoc(ts: Tokens): Loc {
  const tok = ts.next('a location');
  if (tok.t === '[') {
    const name = ts.next('a location name');
    if (!NAME.test(name.t)) ts.r.fail(name.line, `"${name.t}" is not a location name`);
    ts.expect(']');
    return { kind: 'mem', cell: ts.r.mem(name.t, name.line) };
  }
  const m = THREAD_REG.exec(tok.t);
  if (m) return { kind: 'reg', thread: Number(m[1]), ...ts.r.reg(Number(m[1]), m[2], tok.line) };
  if (NAME.test(tok.t) && ts.peek() === '[') {
    // An array element: t[1]
    ts.next('[');
    const k = ts.next('an index');
    if (!/^\d+$/.test(k.t)) ts.r.fail(k.line, `"${k.t}" is not an array index`);
    ts.expect(']');
    return { kind: 'mem', cell: ts.r.element(tok.t, Number(k.t), tok.line) };
  }
  if (NAME.test(tok.t)) return { kind: 'mem', cell: ts.r.mem(tok.t, tok.line) };
  return ts.r.fail(tok.line, `expected a location (x, [x], 0:EAX or 0:rax) in the condition, got "${tok.t}"`);
}

function parseAtom(ts: Tokens): Prop {
  const t = ts.peek();
  if (t === '(') {
    ts.next('(');
    const p = parseOr(ts);
    ts.expect(')');
    return p;
  }
  if (t === '~') {
    ts.next('~');
    return { kind: 'not', p: parseAtom(ts) };
  }
  if (t === 'true' || t === 'false') {
    ts.next(t);
    return { kind: 'const', value: t === 'true' };
  }
  const at = parseLoc(ts);
  ts.expect('=');
  const v = ts.next('a value');
  return { kind: 'eq', at, value: ts.r.value(v.t, v.line, ts.r.widthOf(at)) };
}

/** A left-associated chain of `sub`s joined by `op`. */
function parseChain(ts: Tokens, op: string, kind: 'and' | 'or', sub: (ts: Tokens) => Prop): Prop {
  let p = sub(ts);
  while (ts.peek() === op) {
    ts.next(op);
    p = { kind, a: p, b: sub(ts) };
  }
  return p;
}

function parseAnd(ts: Tokens): Prop {
  return parseChain(ts, '/\\', 'and', parseAtom);
}

function parseOr(ts: Tokens): Prop {
  return parseChain(ts, '\\/', 'or', parseAnd);
}

const QUANTIFIERS: Record<string, Quantifier> = {
  exists: 'exists',
  '~exists': 'not-exists',
  forall: 'forall',
};

/** The lines from the quantifier to the end of the file. */
export function parseCondition(lines: readonly SourceLine[], r: NameResolver): Condition {
  const first = lines[0];
  const m = /^\s*(~\s*exists|exists|forall)\b(.*)$/.exec(first.text);
  if (!m) return r.fail(first.line, `expected exists, ~exists or forall, got "${first.text.trim()}"`);
  const quantifier = QUANTIFIERS[m[1].replace(/\s+/g, '')];
  const rest = [{ text: m[2], line: first.line }, ...lines.slice(1)];
  const ts = new Tokens(tokenize(rest), r, lines[lines.length - 1].line);
  if (ts.ts.length === 0) r.fail(first.line, `${m[1]} needs a proposition, e.g. (0:EAX=0 /\\ 1:EAX=0)`);
  const body = parseOr(ts);
  const extra = ts.ts[ts.i];
  if (extra) r.fail(extra.line, `unexpected "${extra.t}" after the condition`);
  const text = lines
    .map((l) => l.text.trim())
    .filter((l) => l !== '')
    .join(' ');
  return { quantifier, body, text };
}

/** `locations [x; 0:EAX;]`: more places to list in each outcome. */
export function parseLocations(line: SourceLine, r: NameResolver): Loc[] {
  const m = /^\s*locations\s*(.*)$/.exec(line.text);
  const ts = new Tokens(tokenize([{ text: m ? m[1] : '', line: line.line }]), r, line.line);
  ts.expect('[');
  const out: Loc[] = [];
  while (ts.peek() !== ']') {
    out.push(parseLoc(ts));
    if (ts.peek() === ';') ts.next(';');
  }
  ts.expect(']');
  const extra = ts.ts[ts.i];
  if (extra) r.fail(extra.line, `unexpected "${extra.t}" after locations [...]`);
  return out;
}

/** Evaluates a proposition; `eq` says whether a place's final value is `value`. Allocates nothing. */
export function evalProp(p: Prop, eq: (at: Loc, value: Value) => boolean): boolean {
  switch (p.kind) {
    case 'const':
      return p.value;
    case 'eq':
      return eq(p.at, p.value);
    case 'not':
      return !evalProp(p.p, eq);
    case 'and':
      return evalProp(p.a, eq) && evalProp(p.b, eq);
    case 'or':
      return evalProp(p.a, eq) || evalProp(p.b, eq);
  }
}

/** The places a proposition reads, in order of first mention, without repeats. */
export function propLocs(p: Prop, out: Loc[] = []): Loc[] {
  if (p.kind === 'eq') {
    const same = (l: Loc) =>
      l.kind === p.at.kind &&
      (l.kind === 'mem'
        ? p.at.kind === 'mem' && l.cell === p.at.cell
        : p.at.kind === 'reg' && l.thread === p.at.thread && l.reg === p.at.reg && l.width === p.at.width);
    if (!out.some(same)) out.push(p.at);
  } else if (p.kind === 'not') propLocs(p.p, out);
  else if (p.kind === 'and' || p.kind === 'or') {
    propLocs(p.a, out);
    propLocs(p.b, out);
  }
  return out;
}
