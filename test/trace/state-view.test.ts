/**
 * The state inspector's view (src/trace/state-view.ts): every field of the layout is shown once,
 * the descriptor's fields come in the SDM's order (Vol. 3C 30.6: PIR, then ON, SN, NV, NDST in the
 * control bits), and on seed-004's counterexample the view shows what the seed is about: when
 * vmx_sync_pir_to_irr's pi_test_on runs, the vector the IOMMU posted is in PIR while ON reads 0
 * (c112b5f50232: vmx_vcpu_pi_load cleared SN without recomputing ON).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replay } from '../../src/check/counterexample.ts';
import { checkScenario, modelFor, resolveVariant } from '../../src/check/session.ts';
import { fieldNames } from '../../src/model/platform/fields.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { fieldOf, stateFields, stateValues, stateView } from '../../src/trace/state-view.ts';

describe('stateView', () => {
  const { scenario } = loadScenario('seed-004');
  const nv = resolveVariant(scenario, 'before');
  const r = checkScenario(scenario, nv);
  const model = modelFor(scenario, nv.variant, { properties: r.properties, memory: r.memory });

  test('shows every named field of the layout exactly once', () => {
    const names = stateFields(model.w.L).map((f) => f.field);
    assert.deepEqual([...names].sort(), [...new Set(fieldNames(model.w.L))].sort());
  });

  test("the descriptor's section lists PIR, ON, SN, NV, NDST in that order", () => {
    const pid = stateView(model.w.L, new Uint32Array(model.words)).find(
      (s) => s.title === 'vcpu0 · posted-interrupt descriptor',
    );
    assert.deepEqual(
      pid?.rows.map((x) => x.label),
      ['PIR', 'ON', 'SN', 'NV', 'NDST'],
    );
  });

  test('seed-004 before: at pi_test_on, PIR holds the posted vector and ON is 0', () => {
    const path = r.counterexample!.path;
    const k = r.counterexample!.entries.findIndex((e) => e.label === 'pi_test_on');
    assert.ok(k >= 0, 'the counterexample runs pi_test_on');
    // The state after step k+1 (pi_test_on only reads): replay the prefix up to and including it.
    const s = replay(model, path.slice(0, k + 1)).final;
    const L = model.w.L;
    const v = new Map(stateFields(L).map((f, i) => [f.field, stateValues(L, s)[i]]));
    assert.equal(v.get('vcpu0.PID.ON'), '0');
    assert.equal(v.get('vcpu0.PID.SN'), '0');
    const posted = r.counterexample!.entries.flatMap((e) => e.events).find((e) => e.kind === 'vtd_post');
    assert.ok(posted, 'the IOMMU posts a vector');
    assert.equal(v.get('vcpu0.PID.PIR'), `{0x${posted.b.toString(16)}}`);
    // And pi_test_on's own reads say the same.
    const read = r.counterexample!.entries[k].reads.find((x) => x.field === 'vcpu0.PID.ON');
    assert.equal(read?.value, '0');
  });

  test('fieldOf drops the vector of a 256-bit register only', () => {
    assert.equal(fieldOf('vcpu0.vIRR[0x31]'), 'vcpu0.vIRR');
    assert.equal(fieldOf('lock.holder(ir_list_lock(vcpu0))'), 'lock.holder(ir_list_lock(vcpu0))');
    assert.equal(fieldOf('vcpu1.PID.ON'), 'vcpu1.PID.ON');
  });
});
