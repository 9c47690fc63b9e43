/**
 * Host posted MSI (src/model/kvm/posted-msi.ts): the notification handler as a host actor, the X5
 * mutation, and the scenario rules of `device.postMsi`. Verdicts are computed by exploring.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../../src/errors.ts';
import { regEmpty, regTest } from '../../../src/model/hw/bits.ts';
import { LAPIC } from '../../../src/model/hw/lapic.ts';
import { PID, piTestOn } from '../../../src/model/hw/pid.ts';
import { FIRST_SYSTEM_VECTOR, POSTED_MSI, postedMsiBlockName } from '../../../src/model/kvm/posted-msi.ts';
import { DEFAULT_VARIANT, withKnobs } from '../../../src/model/kvm/variants.ts';
import { PCPU } from '../../../src/model/platform/layout.ts';
import { PROP_INFO } from '../../../src/model/system/properties.ts';
import type { SystemModel } from '../../../src/model/system/system.ts';
import { buildModel } from '../../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../../src/scenarios/loader.ts';
import { check, modelOf, preset, withEndCheck } from '../../check/support.ts';

/** Two devices posting `a` and `b` to pCPU 0 (the shape of seed-000-posted-msi). */
function twoDevices(a: number, b: number): string {
  return JSON.stringify({
    name: 'two-devices',
    description: 'two posted MSIs',
    source: 'test',
    machine: { pcpus: 1, hostAutoEoi: false, vcpus: [{ pcpu: -1 }] },
    actors: [
      { name: 'd0', steps: [{ do: 'device.postMsi', pcpu: 0, vector: a }] },
      { name: 'd1', steps: [{ do: 'device.postMsi', pcpu: 0, vector: b }] },
    ],
  });
}

/**
 * The model with an extra end-state check: the handler is idle with IRQs on and nothing in
 * service, the descriptor is empty with ON clear, and every posted vector was handled.
 */
function cleanEnd(m: SystemModel) {
  return withEndCheck(m, (s) => {
    const o = m.w.L.extra.get(postedMsiBlockName(0))!;
    return (
      s[o + POSTED_MSI.ACTIVE] === 0 &&
      s[m.w.L.pcpu[0] + PCPU.HOST_IF] === 1 &&
      regEmpty(s, o + POSTED_MSI.PID + PID.PIR) &&
      !piTestOn(s, o + POSTED_MSI.PID) &&
      regEmpty(s, m.w.L.lapic[0] + LAPIC.IRR) &&
      regEmpty(s, m.w.L.lapic[0] + LAPIC.ISR)
    );
  });
}

describe('host posted MSI', () => {
  test('correct: at every end state both MSIs were handled and the handler is idle', () => {
    const w = cleanEnd(modelOf(preset('seed-000-posted-msi', 'correct')));
    assert.equal(check(w.model).outcome.kind, 'holds');
    assert.ok(w.ends.count > 0);
  });

  test('any two device vectors: the handler with its final harvest loses none, without it one can be lost', () => {
    const device = fc.integer({ min: 0x20, max: FIRST_SYSTEM_VECTOR - 1 });
    fc.assert(
      fc.property(device, device, (a, b) => {
        const sc = parseScenarioText(twoDevices(a, b), 'two-devices.json');
        const correct = buildModel(sc, DEFAULT_VARIANT);
        assert.equal(check(correct).outcome.kind, 'holds');
        const mutated = buildModel(sc, withKnobs(DEFAULT_VARIANT, { postedMsiFinalHarvest: 'missing' }, 't'));
        const r = check(mutated);
        // The same vector twice is one PIR bit: the second posting can land in the first's bit.
        if (a === b) return;
        assert.equal(r.outcome.kind, 'violated');
        if (r.outcome.kind === 'violated') assert.equal(PROP_INFO[r.outcome.code].name, 'no-lost-msi');
      }),
      { numRuns: 15 },
    );
  });

  test('every loop limit 1..6: up to limit - 1 harvests before pi_clear_on, one after it, and no MSI is lost', () => {
    const sc = parseScenarioText(twoDevices(0x41, 0xa1), 'two-devices.json');
    for (let n = 1; n <= 6; n++) {
      const m = buildModel(sc, withKnobs(DEFAULT_VARIANT, { postedMsiCoalescingLoop: String(n) }, 't'));
      const code = m.actors.find((a) => a.name === 'posted-msi-pcpu0')!.code;
      const clearOn = code.findIndex((i) => i.label === 'pi_clear_on');
      // A harvest starts with its load of word 0 (harvest.ts, the 64-bit shape).
      const starts = code.flatMap((i, pc) => (i.label === 'READ_ONCE(pir[0])' ? [pc] : []));
      assert.equal(starts.filter((pc) => pc < clearOn).length, n - 1, `limit ${n}`);
      assert.equal(starts.filter((pc) => pc > clearOn).length, 1, `limit ${n}`);
      assert.equal(check(m).outcome.kind, 'holds', `limit ${n}`);
    }
  });

  test('X5: the lost vector sits in PIR with ON clear at the end of the counterexample', () => {
    const m = modelOf(preset('seed-000-posted-msi', 'mutation-no-final-harvest'));
    const r = check(m);
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    const s = new Uint32Array(m.words);
    m.init(s);
    for (const a of r.outcome.path) m.step(s, a);
    const o = m.w.L.extra.get(postedMsiBlockName(0))!;
    assert.ok(!piTestOn(s, o + POSTED_MSI.PID));
    const lost = [0x41, 0xa1].filter((v) => !regTest(s, o + POSTED_MSI.HANDLED, v));
    assert.equal(lost.length, 1);
    assert.ok(regTest(s, o + POSTED_MSI.PID + PID.PIR, lost[0]));
  });

  test('a posted MSI vector outside 0x20-0xea is a one-line UserError naming the step', () => {
    for (const v of [0x1f, FIRST_SYSTEM_VECTOR, 0xff]) {
      assert.throws(
        () => parseScenarioText(twoDevices(0x41, v), 'two-devices.json'),
        (e: unknown) =>
          e instanceof UserError &&
          !e.message.includes('\n') &&
          e.message.includes('actors[1].steps[0].vector') &&
          e.message.includes('posted MSI'),
      );
    }
  });
});
