/**
 * The checker on AMD AVIC machines (src/model/kvm/avic.ts): in each built-in AVIC scenario's correct
 * preset, at every end state the target vCPU's handler ran for every vector sent to it, through the
 * backing page (doorbell, VMRUN, or a wake-up and then VMRUN). A vector that arrives before the
 * guest's HLT is taken before it, and the vCPU then sleeps with nothing pending. Computed by
 * exploring, as in seeds.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { regTest } from '../../src/model/hw/bits.ts';
import { VCPU } from '../../src/model/platform/layout.ts';
import { check, modelOf, preset, withEndCheck } from './support.ts';

/** The model, with a terminal check that vCPU x's handler ran for each of `vectors`. */
function deliversAtEveryEnd(name: string, x: number, vectors: number[]) {
  const m = modelOf(preset(name, 'correct'));
  return withEndCheck(m, (s) => vectors.every((v) => regTest(s, m.w.L.vcpu[x] + VCPU.DELIVERED, v)));
}

describe('AVIC in the checker: the target took every vector at every end state', () => {
  const cases: [string, number, number[]][] = [
    ['avic-ipi-block', 1, [0x41]],
    ['avic-deliver-put-load', 0, [0x41, 0x51]],
    ['avic-ga-log-wakeup', 0, [0x41]],
  ];
  for (const [name, x, vectors] of cases) {
    test(`${name} · correct`, () => {
      const { model, ends } = deliversAtEveryEnd(name, x, vectors);
      assert.equal(check(model).outcome.kind, 'holds');
      assert.ok(ends.count > 0, 'the scenario has end states');
    });
  }
});
