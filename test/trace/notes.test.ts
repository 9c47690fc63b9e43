/**
 * A scenario step's note reaches every trace output: the entry (so the JSON of run and check), the
 * text and the SVG, for script steps and actor steps alike, on the first entry of its step only.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkScenario, resolveVariant } from '../../src/check/session.ts';
import { runScenario } from '../../src/run/run.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { TraceEntry } from '../../src/trace/record.ts';
import { traceToSvg } from '../../src/trace/svg.ts';
import { renderEntries } from '../../src/trace/text.ts';

/** Where each note shows: the entry, its JSON, the text and the SVG. */
function assertShown(entries: readonly TraceEntry[], note: string): void {
  const at = entries.filter((e) => e.note === note);
  assert.equal(at.length, 1, `one entry carries "${note}"`);
  assert.equal(JSON.parse(JSON.stringify(entries))[at[0].n - 1].note, note);
  assert.match(renderEntries(entries), new RegExp(`^\\s*${at[0].n}\\. .*  # ${note}$`, 'm'));
  assert.ok(traceToSvg(entries, { title: 't' }).includes(`# ${note}`), 'in the SVG');
}

describe('scenario notes in traces', () => {
  test("a checker counterexample carries the note of the actor's step (seed-004, kvm.load)", () => {
    const { scenario } = loadScenario('seed-004');
    const notes = (scenario.actors ?? []).flatMap((a) => a.steps.flatMap((s) => (s.note ? [s.note] : [])));
    assert.ok(notes.length > 0, 'seed-004 has a noted step');
    const r = checkScenario(scenario, resolveVariant(scenario, 'before'));
    assert.equal(r.verdict, 'violated');
    // The counterexample starts with vCPU 0's sched-in, the noted step (seed 004's story).
    assertShown(r.counterexample!.entries, notes[0]);
  });

  test('a run of a scenario with a script and an actor carries both notes', () => {
    const sc = parseScenarioText(
      JSON.stringify({
        name: 'noted',
        description: 'notes on a script step and on an actor step',
        source: 'SDM Vol. 3C 29.6; VT-d 5.2.3',
        machine: { pcpus: 2, vcpus: [{ pcpu: 1, running: true, autoEoi: true }] },
        steps: [{ do: 'device.post', vcpu: 0, vector: '0x31', note: 'script note' }],
        actors: [
          { name: 'sender', steps: [{ do: 'kvm.deliver', vcpu: 0, vector: '0x41', note: 'actor note' }] },
        ],
      }),
      'noted.json',
    );
    const run = runScenario(sc, 'noted.json').entries;
    assertShown(run, 'script note');
    assertShown(run, 'actor note');
  });
});
