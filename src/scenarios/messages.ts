/**
 * Validation messages in the project's words. zod's own messages speak of its types ("Too small:
 * expected number to be >=1", "Invalid input: expected string, received undefined"); here every
 * issue kind the scenario schema can produce is said as a user of irqlab would put it ("pcpus must
 * be an integer 1-32, not 0"), a misspelt field, step kind or name gets "did you mean", and the
 * first issue becomes the one-line error naming the file and the place.
 *
 * `{field}` in a message (the schema's own ones included) stands for the name of the field at the
 * issue's path, filled in by formatIssues, which alone knows the whole path.
 */
import type { z } from 'zod';
import { actorStep, step } from './schema.ts';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/**
 * A field path as the messages print it: `steps[4].vector`, `expect.delivered.0`. A key that is not
 * a plain word (a field name such as "vcpu0.vIRR" contains dots) is quoted: `expect.state."vcpu0.vIRR"`.
 */
export function pathString(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') {
      s += `[${p}]`;
      continue;
    }
    const key = String(p);
    const shown = /^[A-Za-z0-9_$-]+$/.test(key) ? key : JSON.stringify(key);
    s += s ? `.${shown}` : shown;
  }
  return s || '(top level)';
}

/**
 * Edit distance with adjacent transpositions ("eio" for "eoi" is one slip), case-insensitive (a
 * name differing only in case is distance 0): the optimal string alignment distance.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let before: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[y.length];
}

/**
 * How far `word` is from `candidate` if it is a likely slip of it, or undefined. Dotted names
 * ("guest.hlt") are compared part by part, each part within a third of its letters (at least one
 * edit), so "guest.hlr" is a slip of "guest.hlt" but "guest.nmi" is no slip of "guest.eoi".
 */
function slip(word: string, candidate: string): number | undefined {
  const ws = word.split('.');
  const cs = candidate.split('.');
  if (ws.length !== cs.length) return undefined;
  let total = 0;
  for (let k = 0; k < ws.length; k++) {
    const d = distance(ws[k], cs[k]);
    if (d > Math.max(1, Math.floor(ws[k].length / 3))) return undefined;
    total += d;
  }
  return total;
}

/** The candidate `word` is most likely a slip of (ties go to the first), or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = slip(word, c);
    if (d !== undefined && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}

function kindsOf(u: typeof step | typeof actorStep): string[] {
  return u.options.map((o) => o.shape.do.value);
}
/** The step kinds of `steps` (irqlab run) and of actors (irqlab check). */
export const STEP_KINDS: readonly string[] = kindsOf(step);
export const ACTOR_STEP_KINDS: readonly string[] = kindsOf(actorStep);

/** A value as a message quotes it: strings in quotes, short; lists and objects by kind. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** "a or b", "one of a, b, c". */
function oneOf(values: readonly unknown[]): string {
  const vs = values.map((v) => String(v));
  return vs.length === 2 ? `${vs[0]} or ${vs[1]}` : `one of ${vs.join(', ')}`;
}

/** The bounds of a number schema as users read them, ignoring the safe-integer bounds of int(). */
function numberRange(schema: unknown): string {
  const s = schema as { minValue?: number | null; maxValue?: number | null; isInt?: boolean } | undefined;
  const kind = s?.isInt === false ? 'a number' : 'an integer';
  const lo = s?.minValue ?? null;
  const hi = s?.maxValue ?? null;
  const loSet = lo !== null && Number.isFinite(lo) && lo !== Number.MIN_SAFE_INTEGER;
  const hiSet = hi !== null && Number.isFinite(hi) && hi !== Number.MAX_SAFE_INTEGER;
  if (loSet && hiSet) return `${kind} ${lo}-${hi}`;
  if (loSet) return `${kind} ${lo} or more`;
  if (hiSet) return `${kind} ${hi} or less`;
  return kind;
}

function expectedNoun(expected: string, schema: unknown): string {
  switch (expected) {
    case 'number':
    case 'int':
      return numberRange(schema);
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'an object';
    default:
      return expected;
  }
}

/**
 * The per-parse error map (`safeParse(x, { error: scenarioErrorMap })`): zod asks it for a message
 * only where the schema gives none, so the schema's own messages stand.
 */
export function scenarioErrorMap(iss: RawIssue): string {
  // The schema instance the issue came from; zod passes it along (for min/max and object shapes).
  const schema = (iss as { schema?: unknown }).schema ?? iss.inst;
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) return '{field} is required';
      return `{field} must be ${expectedNoun(iss.expected, schema)}, not ${shown(input)}`;
    case 'too_small':
    case 'too_big': {
      const small = iss.code === 'too_small';
      const n = Number(small ? iss.minimum : iss.maximum);
      if (iss.origin === 'number' || iss.origin === 'int')
        return `{field} must be ${numberRange(schema)}, not ${shown(input)}`;
      if (iss.origin === 'string')
        return small && n === 1
          ? '{field} must not be empty'
          : `{field} must be ${small ? 'at least' : 'at most'} ${n} characters`;
      if (iss.origin === 'array')
        return `{field} must have ${small ? 'at least' : 'at most'} ${n} ${n === 1 ? 'entry' : 'entries'}`;
      return `{field} is too ${small ? 'small' : 'big'}`;
    }
    case 'invalid_format':
      return `{field} must match ${iss.pattern ?? iss.format}`;
    case 'not_multiple_of':
      return `{field} must be a multiple of ${iss.divisor}`;
    case 'invalid_value': {
      const typo = typeof input === 'string' ? didYouMean(input, iss.values.map(String)) : '';
      return `{field} must be ${oneOf(iss.values)}, not ${shown(input)}${typo}`;
    }
    case 'unrecognized_keys': {
      const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
      const allowed = Object.keys(shape);
      return `unknown field ${iss.keys.map((k) => `${JSON.stringify(k)}${didYouMean(k, allowed)}`).join(', ')}`;
    }
    case 'invalid_union': {
      if (iss.note !== 'No matching discriminator') return 'Invalid input';
      const kind = (input as { do?: unknown } | undefined)?.do;
      const options = (iss as { options?: unknown[] }).options?.map(String) ?? [];
      if (kind === undefined) return `a step needs "do", its kind (${oneOf(options)})`;
      // Which list the step is in: `steps` (irqlab run) or an actor's (irqlab check).
      const run = STEP_KINDS.every((k) => options.includes(k));
      const other = run ? ACTOR_STEP_KINDS : STEP_KINDS;
      if (typeof kind === 'string' && other.includes(kind))
        return run
          ? `${kind} is a step of an actor (irqlab check), not of "steps" (irqlab run)`
          : `${kind} is a step of "steps" (irqlab run), not of an actor (irqlab check)`;
      const typo = typeof kind === 'string' ? didYouMean(kind, options) : '';
      return `unknown step kind ${shown(kind)}${typo || ` (kinds: ${options.join(', ')})`}`;
    }
    case 'invalid_key': {
      const inner = iss.issues[0];
      return inner?.message ?? '{field}: not a valid key';
    }
    case 'invalid_element':
      return '{field} has an invalid entry';
    case 'custom':
      return '{field} is not valid';
  }
  return '{field} is not valid';
}

/** Keys whose values are records: a key below them is data, not a field name. */
const RECORDS = new Set(['delivered', 'hostIrqs', 'exits', 'state', 'presets']);

/** What one entry of a list is called. */
const ENTRY: Record<string, string> = {
  vcpus: 'vCPU',
  steps: 'step',
  actors: 'actor',
  irtes: 'IRTE',
  ioapic: 'I/O APIC pin',
  properties: 'property',
  apicvInhibits: 'inhibit reason',
  pir: 'vector',
  virr: 'vector',
  eoiExit: 'vector',
};

/** The name `{field}` stands for at a path. */
export function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'a scenario';
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (typeof last === 'number') {
    if (parent === undefined) return 'entry';
    const p = String(parent);
    if (ENTRY[p]) return ENTRY[p];
    const grand = path[path.length - 3];
    if (grand === 'delivered' || grand === 'hostIrqs') return 'vector';
    if (grand === 'exits') return 'exit reason';
    return 'entry';
  }
  const key = String(last);
  if (parent !== undefined && RECORDS.has(String(parent))) return 'value';
  if (path.length >= 3 && path[path.length - 3] === 'presets') return 'knob value';
  return key;
}

/** The value had no union branch's type (nested unions: no branch's type at any depth). */
function typeMismatch(i: Issue): boolean {
  if (i.code === 'invalid_type') return true;
  return i.code === 'invalid_union' && i.errors.every((branch) => branch.every(typeMismatch));
}

/**
 * The issue to show for a union that nothing matched, and its path inside the union. zod's own
 * message for it is "Invalid input". A branch whose type the value has ("49" is a string, but not a
 * hex one) failed for the reason worth showing; when the value has no branch's type (1.5, true),
 * the union's own message says what is expected.
 */
function unionIssue(i: Issue & { code: 'invalid_union' }): { issue: Issue; path: PropertyKey[] } {
  for (const branch of i.errors) {
    const inner = branch.find((b) => !typeMismatch(b));
    if (inner === undefined) continue;
    if (inner.code === 'invalid_union' && inner.errors.length > 0) {
      const deeper = unionIssue(inner);
      return { issue: deeper.issue, path: [...inner.path, ...deeper.path] };
    }
    return { issue: inner, path: [...inner.path] };
  }
  if (i.message !== 'Invalid input' || i.errors.length === 0) return { issue: i, path: [] };
  const expected = [
    ...new Set(
      i.errors
        .flat()
        .flatMap((b) =>
          b.code === 'invalid_type'
            ? [b.expected === 'int' ? 'an integer' : expectedNoun(b.expected, undefined)]
            : [],
        ),
    ),
  ];
  return { issue: { ...i, message: `{field} must be ${expected.join(' or ')}` }, path: [] };
}

/** Where an issue is and what it says, in project words. */
function placeAndMessage(i: Issue): string {
  let path: PropertyKey[] = [...i.path];
  let msg = i.message;
  if (i.code === 'invalid_union' && !('note' in i && i.note === 'No matching discriminator')) {
    const inner = unionIssue(i);
    path = [...path, ...inner.path];
    msg = inner.issue.message;
  }
  return `at ${pathString(path)}: ${msg.replaceAll('{field}', fieldName(path))}`;
}

/**
 * One line for the first issue, with a count of the others (an issue that reads the same as
 * another, such as the two bounds a huge integer breaks, is counted once).
 */
export function formatIssues(file: string, issues: readonly Issue[]): string {
  const lines = [...new Set(issues.map(placeAndMessage))];
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : '';
  return `${file}: ${lines[0]}${more}`;
}
