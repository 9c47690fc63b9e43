/**
 * Replaying a trace file is honest (src/check/counterexample.ts, replayTraceFile): a trace that has
 * been tampered with, a step deleted anywhere, no steps, a knob removed, the loop of a lasso
 * removed or moved, a claim changed, is never reported as reproduced.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replayTraceFile } from '../../src/check/counterexample.ts';
import { checkScenario, resolveVariant, traceFileOf } from '../../src/check/session.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import type { TraceFile } from '../../src/trace/file.ts';

function recorded(
  name: string,
  preset: string,
  properties?: string[],
): { trace: TraceFile; sc: ReturnType<typeof loadScenario>['scenario'] } {
  const { scenario: sc } = loadScenario(name);
  const t = traceFileOf(checkScenario(sc, resolveVariant(sc, preset), { properties }));
  assert.ok(t, `${name} · ${preset} has a counterexample`);
  return { trace: t, sc };
}

const copy = (t: TraceFile): TraceFile => JSON.parse(JSON.stringify(t));

function notReproduced(t: TraceFile, sc: Parameters<typeof replayTraceFile>[1], why: RegExp): void {
  const r = replayTraceFile(t, sc);
  assert.equal(r.reproduced, false, 'reported as reproduced');
  if (!r.reproduced) assert.match(r.why, why);
}

describe('an invariant counterexample (seed-004 · before)', () => {
  const { trace, sc } = recorded('seed-004', 'before');

  test('as recorded, it reproduces no-stuck-pir', () => {
    const r = replayTraceFile(trace, sc);
    assert.ok(r.reproduced);
    assert.equal(r.property, 'no-stuck-pir');
    assert.equal(r.entries.length, trace.steps.length);
  });

  for (const [where, k] of [
    ['first', 0],
    ['middle', Math.floor(trace.steps.length / 2)],
    ['last', trace.steps.length - 1],
  ] as const) {
    test(`with its ${where} step deleted, it does not reproduce`, () => {
      const t = copy(trace);
      t.steps.splice(k, 1);
      notReproduced(t, sc, /./);
    });
  }

  test('with no steps, it does not reproduce', () => {
    const t = copy(trace);
    t.steps = [];
    notReproduced(t, sc, /no steps/);
  });

  test('with a knob removed, it does not reproduce, naming the knob', () => {
    const t = copy(trace);
    delete t.variant.load;
    notReproduced(t, sc, /does not give knob load/);
  });

  test("with the fixed kernel's knob, the schedule no longer violates", () => {
    const t = copy(trace);
    t.variant.load = resolveVariant(sc, 'after').variant.load;
    notReproduced(t, sc, /./);
  });

  test('claiming another property, it does not reproduce', () => {
    const t = copy(trace);
    t.claim.property = 'no-wrong-vcpu';
    notReproduced(t, sc, /violates no-stuck-pir, but the trace claims no-wrong-vcpu/);
  });

  test('a step relabelled is caught even though its action is enabled', () => {
    const t = copy(trace);
    t.steps[2].label = 'something_else';
    notReproduced(t, sc, /step 3 is /);
  });
});

describe('a liveness lasso (seed-004-loop · before, no-lost-interrupt)', () => {
  const { trace, sc } = recorded('seed-004-loop', 'before', ['no-lost-interrupt']);

  test('as recorded, it is a lasso that reproduces no-lost-interrupt', () => {
    assert.notEqual(trace.loopStart, undefined);
    const r = replayTraceFile(trace, sc);
    assert.ok(r.reproduced, r.reproduced ? '' : r.why);
    assert.equal(r.property, 'no-lost-interrupt');
  });

  test('with loopStart removed, it does not reproduce', () => {
    const t = copy(trace);
    delete t.loopStart;
    notReproduced(t, sc, /./);
  });

  test('with loopStart moved, it does not reproduce', () => {
    for (const moved of [trace.loopStart! + 1, trace.loopStart! - 1].filter(
      (k) => k >= 0 && k < trace.steps.length,
    )) {
      const t = copy(trace);
      t.loopStart = moved;
      notReproduced(t, sc, /./);
    }
  });

  test('with its last step deleted, it does not reproduce', () => {
    const t = copy(trace);
    t.steps.pop();
    notReproduced(t, sc, /./);
  });
});
