/**
 * A scenario's expectations (`expect`) judged against a recorded schedule: the guest and host
 * handlers that ran and the VM exits, from the trace's events, and fields of the final state.
 */
import { hex } from '../model/hw/bits.ts';
import { EXIT_REASON_NAMES } from '../model/platform/events.ts';
import { type FieldValue, findField, formatValue, readField } from '../model/platform/fields.ts';
import type { World } from '../model/platform/world.ts';
import { expectedFieldValue } from '../scenarios/loader.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { decodeEvent } from '../trace/events.ts';
import type { TraceEntry } from '../trace/record.ts';

export interface ExpectationResult {
  what: string;
  ok: boolean;
  expected: string;
  actual: string;
}

function list(vs: readonly (number | string)[]): string {
  return `[${vs.map((v) => (typeof v === 'number' ? hex(v) : v)).join(', ')}]`;
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

export function checkExpectations(
  sc: Scenario,
  w: World,
  entries: readonly TraceEntry[],
): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  const events = entries.flatMap((e) => e.events.map(decodeEvent));
  const compare = (what: string, got: (number | string)[], want: readonly (number | string)[]) =>
    out.push({ what, ok: list(got) === list(want), expected: list(want), actual: list(got) });
  for (const [k, want] of Object.entries(sc.expect.delivered ?? {}))
    compare(
      `vcpu${k} handlers ran`,
      events.flatMap((e) => (e.kind === 'deliver' && e.vcpu === Number(k) ? [e.vector] : [])),
      want,
    );
  for (const [k, want] of Object.entries(sc.expect.hostIrqs ?? {}))
    compare(
      `pcpu${k} host handlers ran`,
      events.flatMap((e) => (e.kind === 'host_irq' && e.pcpu === Number(k) ? [e.vector] : [])),
      want,
    );
  for (const [k, want] of Object.entries(sc.expect.exits ?? {}))
    compare(
      `vcpu${k} VM exits`,
      events.flatMap((e) =>
        e.kind === 'vmexit' && e.vcpu === Number(k) ? [EXIT_REASON_NAMES[e.reason] ?? String(e.reason)] : [],
      ),
      want,
    );
  for (const [name, want] of Object.entries(sc.expect.state ?? {})) {
    const found = findField(w.L, name);
    if (!found) {
      out.push({ what: name, ok: false, expected: String(want), actual: 'no such field' });
      continue;
    }
    const got = readField(w.m, found.block.base, found.field);
    const actual = formatValue(found.field, got);
    // Values are compared, not their text: ["0x31", 49] is the set {0x31}, "0x32" and 50 are the
    // same byte, "recognized|VID" and "VID|recognized" the same flags.
    const e = expectedFieldValue(found.field, want);
    if ('error' in e) {
      out.push({ what: name, ok: false, expected: `${JSON.stringify(want)} (${e.error})`, actual });
      continue;
    }
    out.push({
      what: name,
      ok: sameValue(got, e.value),
      expected: formatValue(found.field, e.value),
      actual,
    });
  }
  return out;
}
