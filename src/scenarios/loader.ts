/**
 * Parsing and validating scenario text (JSON or YAML). Errors come back as one-line UserErrors
 * that name the file, the field path and what is wrong.
 */
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../errors.ts';
import { DEFAULT_VARIANT, withKnobs } from '../model/kvm/variants.ts';
import { findField } from '../model/system/fields.ts';
import type { Machine } from '../model/system/machine.ts';
import { initWorld } from '../model/system/world.ts';
import { type Scenario, scenario } from './schema.ts';

function pathString(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(top level)';
}

/** One line for the first issue, with a count of the others. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  let msg = first.message;
  if (first.code === 'unrecognized_keys') msg = `unknown field ${first.keys.map((k) => `"${k}"`).join(', ')}`;
  if (first.code === 'invalid_union' && 'note' in first && first.note === 'No matching discriminator') {
    msg = 'unknown step kind in "do"';
  }
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${file}: at ${pathString(first.path)}: ${msg}${more}`;
}

export function parseScenarioText(text: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UserError(
      `${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  const r = scenario.safeParse(raw);
  if (!r.success) throw new UserError(formatIssues(file, r.error.issues));
  const L = initWorld(machineOf(r.data)).L;
  for (const name of Object.keys(r.data.expect.state ?? {})) {
    if (!findField(L, name)) {
      throw new UserError(
        `${file}: at expect.state."${name}": unknown field (fields look like vcpu0.PID.ON, vcpu0.vIRR, pcpu0.IRR)`,
      );
    }
  }
  for (const [name, knobs] of Object.entries(r.data.presets ?? {})) {
    withKnobs(DEFAULT_VARIANT, knobs, `${file}: at presets.${name}`);
  }
  return r.data;
}

/** The static machine a scenario describes. */
export function machineOf(s: Scenario): Machine {
  const m = s.machine;
  return {
    pcpus: m.pcpus,
    x2apic: m.x2apic,
    features: m.features,
    hostIF: m.hostIF,
    hostAutoEoi: m.hostAutoEoi,
    irtes: m.irtes,
    ioapic: m.ioapic.map((p) => ({
      pin: p.pin,
      vector: p.vector,
      level: p.trigger === 'level',
      masked: p.masked,
      dest: p.dest,
    })),
    vcpus: m.vcpus.map((c, i) => ({
      apicId: c.apicId ?? i,
      pcpu: c.pcpu,
      running: c.running,
      if: c.if,
      halted: c.halted,
      tpr: c.tpr,
      autoEoi: c.autoEoi,
      eoiExit: c.eoiExit,
      pid: c.pid,
      virr: c.virr,
    })),
  };
}
