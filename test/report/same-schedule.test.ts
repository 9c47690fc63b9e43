/**
 * Following a counterexample's schedule on another variant (src/report/same-schedule.ts). On the
 * variant it was found in, it must retrace the counterexample step for step and hit the same
 * violation; on a seed's fixed kernel, the property the seed is about holds along it, as the
 * seeds say (seed-001: SN whenever the vCPU is put; seed-004: ON recomputed after clearing SN).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkScenario, modelFor, resolveVariant } from '../../src/check/session.ts';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import { followSchedule } from '../../src/report/same-schedule.ts';
import { viewSchedule } from '../../src/report/trace-view.ts';
import { loadScenario } from '../../src/scenarios/files.ts';

const META = { id: 't', title: 't', scenario: 't', variant: 't', knobs: '', actorVcpus: {} };

function follow(name: string, found: string, on: string) {
  const { scenario } = loadScenario(name);
  const r = checkScenario(scenario, resolveVariant(scenario, found));
  assert.ok(r.counterexample, `${name} ${found} has a counterexample`);
  const target = resolveVariant(scenario, on);
  const model = modelFor(scenario, target.variant, { properties: r.properties, memory: r.memory });
  const f = followSchedule(model, r.counterexample.entries);
  const out = viewSchedule(model, f, r.counterexample.entries.length * 4 + 64, META);
  return { r, f, ...out };
}

describe('followSchedule', () => {
  for (const name of ['seed-001', 'seed-004']) {
    test(`${name}: on the variant it was found in, it retraces the counterexample`, () => {
      const { r, f, path, violation } = follow(name, 'before', 'before');
      assert.deepEqual(path, r.counterexample!.path);
      assert.equal(f.taken, r.counterexample!.path.length);
      assert.equal(f.added, 0);
      assert.deepEqual(f.skipped, []);
      assert.equal(f.stopped, null);
      assert.equal(PROP_INFO[violation].name, r.property);
    });
  }

  test('seed-004: on the fixed kernel every recorded step runs, plus the fix, and nothing is violated', () => {
    const { r, f, violation, view } = follow('seed-004', 'before', 'after');
    assert.equal(f.taken, r.counterexample!.path.length);
    assert.equal(f.stopped, null);
    assert.ok(f.added > 0, 'the fix adds steps to vmx_vcpu_pi_load');
    assert.equal(violation, 0);
    // c112b5f50232: after clearing SN, vmx_vcpu_pi_load sets ON again since PIR is not empty.
    const on = view.fields.findIndex((x) => x.field === 'vcpu0.PID.ON');
    const pi = view.entries.findIndex((e) => e.label === 'pi_test_on');
    let value = view.initial[on];
    for (const d of view.deltas.slice(0, pi + 1)) for (const [i, v] of d) if (i === on) value = v;
    assert.equal(value, '1');
  });

  test('seed-001: on the fixed kernel no notification reaches the wrong vCPU', () => {
    const { f, violation } = follow('seed-001', 'before', 'after');
    assert.equal(violation, 0);
    assert.equal(f.stopped, null);
  });
});
