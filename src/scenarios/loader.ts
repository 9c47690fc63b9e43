/**
 * Parsing and validating scenario text (JSON or YAML). Errors come back as one-line UserErrors
 * that name the file, the field path and what is wrong.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { UserError } from '../errors.ts';
import { DEFAULT_VARIANT, withKnobs } from '../model/kvm/variants.ts';
import { type FieldValue, findField } from '../model/platform/fields.ts';
import type { FieldDesc } from '../model/platform/layout.ts';
import { initWorld } from '../model/platform/world.ts';
import { duplicateKey } from './json-keys.ts';
import { machineOf } from './machine.ts';
import { didYouMean, formatIssues, pathString, scenarioErrorMap } from './messages.ts';
import { type Scenario, scenario } from './schema.ts';
import { type Workload, workload } from './workload.ts';

export { formatIssues, machineOf, pathString };

/**
 * The YAML parser, loaded on first use: most scenarios are JSON (the built-ins all are), and
 * loading it costs about 36 ms of CPU at every start of the CLI and of a search process.
 */
const requireHere = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  yamlModule ??= requireHere('yaml') as typeof Yaml;
  return yamlModule;
}

/** The message of a YAML syntax error as one line: "<what> at line L, column C". */
export function yamlErrorLine(e: unknown): string {
  const first = (e as Error).message.split('\n')[0].replace(/:\s*$/, '');
  if (e instanceof yaml().YAMLError && e.linePos !== undefined && !/ at line \d+, column \d+$/.test(first)) {
    return `${first} at line ${e.linePos[0].line}, column ${e.linePos[0].col}`;
  }
  return first;
}

const INTEGER_OR_HEX = 'expected a number or a hex string such as "0x32"';

/**
 * What a state expectation means for a field, in the form readField returns, or the reason it
 * cannot mean anything (the loader reports it; the runner compares values, not text):
 * - 256-bit registers: a list of vectors, read as a set (order and repeats do not matter);
 * - flags (`PID.ON`, `IF`, ...): true/false, or 1/0;
 * - 8- and 32-bit fields: a number or a hex string ("0x32" is 50) within the field's range. A
 *   decimal string ("50") is not read: strings are hex with 0x, as everywhere in a scenario;
 * - indices (`pcpuN.vmcs`, `vcpuN.pcpu`): the index, or -1 / "none";
 * - flag sets (`vapic`): flag names joined by "|" in any order, or "-" for none.
 */
export function expectedFieldValue(f: FieldDesc, want: unknown): { value: FieldValue } | { error: string } {
  switch (f.kind) {
    case 'reg256': {
      if (!Array.isArray(want) || !want.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))
        return { error: 'expected a list of vectors, such as ["0x31"]' };
      return { value: [...new Set(want as number[])].sort((a, b) => a - b) };
    }
    case 'bool':
      if (typeof want === 'boolean') return { value: want };
      if (want === 0 || want === 1) return { value: want === 1 };
      return { error: 'expected true or false (or 1 or 0)' };
    case 'u8':
    case 'u32': {
      const max = f.kind === 'u8' ? 0xff : 0xffffffff;
      if (typeof want === 'string' && /^\d+$/.test(want))
        return {
          error: `a decimal string such as "${want}" is not read as a number: write ${want} or "0x${Number(want).toString(16)}"`,
        };
      if (typeof want !== 'number' || !Number.isInteger(want)) return { error: INTEGER_OR_HEX };
      if (want < 0 || want > max)
        return { error: `value out of range 0-${f.kind === 'u8' ? 255 : '0xffffffff'}` };
      return { value: want };
    }
    case 'index1':
      if (want === 'none' || want === -1) return { value: 'none' };
      if (typeof want === 'number' && Number.isInteger(want) && want >= 0) return { value: String(want) };
      return { error: 'expected an index, or -1 or "none" for none' };
    case 'enum': {
      const names = f.names ?? [];
      if (typeof want === 'string' && names.includes(want)) return { value: want };
      return { error: `expected one of ${names.join(', ')}` };
    }
    case 'flags': {
      const names = (f.bits ?? []).filter((n) => n !== '');
      if (want === '-') return { value: '-' };
      if (typeof want !== 'string' || want === '')
        return { error: `expected flag names joined by "|" (${names.join(', ')}), or "-" for none` };
      const given = want.split('|');
      const unknown = given.find((n) => !names.includes(n));
      if (unknown !== undefined) return { error: `unknown flag "${unknown}" (flags: ${names.join(', ')})` };
      return { value: names.filter((n) => given.includes(n)).join('|') };
    }
  }
}

export function parseScenarioText(text: string, file: string): Scenario {
  // A UTF-8 byte order mark, as some editors write one, is not part of the document.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const isYaml = /\.ya?ml$/i.test(file);
  if (body.trim() === '')
    throw new UserError(`${file}: the file is empty; a scenario is an object (docs/scenario-format.md)`);
  let raw: unknown;
  try {
    // yaml refuses a repeated key in a mapping (its uniqueKeys option, on by default).
    raw = isYaml ? yaml().parse(body, { uniqueKeys: true }) : JSON.parse(body);
  } catch (e) {
    if (isYaml) throw new UserError(`${file}: not valid YAML: ${yamlErrorLine(e)}`);
    throw new UserError(`${file}: not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  // JSON.parse keeps the last of two equal keys without a word: a scenario would silently lose one.
  const dup = isYaml ? undefined : duplicateKey(body);
  if (dup !== undefined)
    throw new UserError(
      `${file}: at ${pathString(dup.path)}: duplicate key ${JSON.stringify(dup.key)} (line ${dup.line}, column ${dup.column})`,
    );
  const r = scenario.safeParse(raw, { error: scenarioErrorMap });
  if (!r.success) throw new UserError(formatIssues(file, r.error.issues));
  if (r.data.workload !== undefined)
    checkWorkloadMachine(r.data.workload, r.data.machine, `${file}: at workload`);
  const L = initWorld(machineOf(r.data)).L;
  const looksLike = r.data.machine.features.avic
    ? 'vcpu0.avic.IRR, vcpu0.avic.IsRunning, irte0.IsRun, galog.count, pcpu0.IRR'
    : 'vcpu0.PID.ON, vcpu0.vIRR, pcpu0.IRR';
  const states: [(string | number)[], Record<string, unknown> | undefined][] = [
    [['expect', 'state'], r.data.expect.state],
    ...(r.data.checkpoints ?? []).map((cp, i): [(string | number)[], Record<string, unknown> | undefined] => [
      ['checkpoints', i, 'expect', 'state'],
      cp.expect.state,
    ]),
  ];
  for (const [path, state] of states)
    for (const [name, want] of Object.entries(state ?? {})) {
      const at = `${file}: at ${pathString([...path, name])}`;
      const found = findField(L, name);
      if (!found) {
        // Suggested only within the same vCPU, pCPU or unit: "vcpu0.vIRR" is no slip of "pcpu0.IRR".
        const unit = name.split('.')[0];
        const names = L.blocks
          .filter((b) => b.prefix === unit)
          .flatMap((b) => b.fields.map((f) => `${b.prefix}.${f.name}`));
        throw new UserError(`${at}: unknown field${didYouMean(name, names)} (fields look like ${looksLike})`);
      }
      const e = expectedFieldValue(found.field, want as Parameters<typeof expectedFieldValue>[1]);
      if ('error' in e) throw new UserError(`${at}: ${e.error}`);
    }
  for (const [name, knobs] of Object.entries(r.data.presets ?? {})) {
    withKnobs(DEFAULT_VARIANT, knobs, `${file}: at ${pathString(['presets', name])}`);
  }
  return r.data;
}

/** Parses and validates a workload document (JSON or YAML text); one-line UserErrors. */
export function parseWorkload(text: string, file: string): Workload {
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? yaml().parse(text) : JSON.parse(text);
  } catch (e) {
    if (/\.ya?ml$/i.test(file)) throw new UserError(`${file}: not valid YAML: ${yamlErrorLine(e)}`);
    throw new UserError(`${file}: not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = workload.safeParse(raw, { error: scenarioErrorMap });
  if (!r.success) throw new UserError(formatIssues(file, r.error.issues));
  return r.data;
}

/**
 * Checks a workload's indices against a scenario's machine (vCPUs, pCPUs, IRTEs) and the features
 * its sources need; throws a one-line UserError at `where` (e.g. "s.yaml: at workload").
 */
export function checkWorkloadMachine(w: Workload, m: Scenario['machine'], where: string): void {
  const at = (path: PropertyKey[]) => `${where}.${pathString(path)}`;
  const nv = m.vcpus.length;
  const vcpuOk = (v: number | 'all' | 'any', path: PropertyKey[]) => {
    if (typeof v === 'number' && v >= nv)
      throw new UserError(`${at(path)}: vCPU ${v} does not exist (machine.vcpus has ${nv})`);
  };
  w.devices.forEach((d, i) => {
    if (d.vcpu !== undefined) vcpuOk(d.vcpu, ['devices', i, 'vcpu']);
    if (d.pcpu !== undefined && d.pcpu >= m.pcpus)
      throw new UserError(
        `${at(['devices', i, 'pcpu'])}: pCPU ${d.pcpu} does not exist (machine.pcpus is ${m.pcpus})`,
      );
    if (d.irte !== undefined && d.irte >= m.irtes.length)
      throw new UserError(
        `${at(['devices', i, 'irte'])}: IRTE ${d.irte} does not exist (machine.irtes has ${m.irtes.length})`,
      );
    if (d.delivery === 'vtd' && !m.features.vtdPosting)
      throw new UserError(
        `${at(['devices', i, 'delivery'])}: delivery vtd needs machine.features.vtdPosting`,
      );
  });
  w.ipis.forEach((p, i) => {
    vcpuOk(p.from, ['ipis', i, 'from']);
    if (p.to !== undefined) vcpuOk(p.to, ['ipis', i, 'to']);
    if (p.pattern === 'single' && nv < 2 && p.to === undefined)
      throw new UserError(`${at(['ipis', i])}: a single-target IPI needs a second vCPU`);
  });
  w.halts.forEach((h, i) => {
    vcpuOk(h.vcpu, ['halts', i, 'vcpu']);
  });
  if (w.pit && w.pit.vcpu !== 'all') vcpuOk(w.pit.vcpu, ['pit', 'vcpu']);
  w.timers.forEach((t, i) => {
    vcpuOk(t.vcpu, ['timers', i, 'vcpu']);
    if (!m.lapicTimer)
      throw new UserError(`${at(['timers', i])}: a LAPIC timer source needs "lapicTimer": true in machine`);
  });
}
