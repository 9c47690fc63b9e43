/**
 * sched.migrate in the checker (src/model/kvm/sched.ts): the host scheduler moves a halting vCPU's
 * thread to the other pCPU's run queue while a device posts to it. Every interleaving of the move,
 * the halt, the block and the posting is explored: with KVM's load path the wake-up lists and the
 * descriptor agree and the vector reaches the guest; with checklist X4's mutation (NDST rewritten
 * while the wake-up vector is installed, the bug fixed in Nov 2019) a move between the block and
 * the wake-up leaves the vCPU on the old pCPU's list with NDST naming the new one. Without the move
 * the mutation is harmless: the sched-in is always on the pCPU the vCPU blocked on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkScenario, resolveVariant } from '../../../src/check/session.ts';
import { parseScenarioText } from '../../../src/scenarios/loader.ts';
import type { Scenario } from '../../../src/scenarios/schema.ts';

function scenario(migrate: boolean): Scenario {
  return parseScenarioText(
    JSON.stringify({
      name: 'migrate-while-blocked',
      description: 'a halting vCPU whose thread the scheduler moves to pCPU 1',
      source: 'test',
      machine: { pcpus: 2, vcpus: [{ pcpu: 0, running: true, autoEoi: true }] },
      actors: [
        { name: 'vcpu0', vcpu: 0, steps: [{ do: 'guest.hlt' }, { do: 'kvm.enter' }] },
        { name: 'device', steps: [{ do: 'device.post', vcpu: 0, vector: '0x41' }] },
        ...(migrate ? [{ name: 'balancer', steps: [{ do: 'sched.migrate', vcpu: 0 }] }] : []),
      ],
    }),
    'migrate.json',
  );
}

test('a move of a blocked vCPU keeps the wake-up lists right; X4 breaks them only with the move', () => {
  const check = (sc: Scenario, variant: string) => checkScenario(sc, resolveVariant(sc, variant));
  const ok = check(scenario(true), 'current');
  assert.equal(ok.verdict, 'holds', `${ok.property}`);
  const x4 = check(scenario(true), 'ndstWhileBlocked=rewritten');
  assert.equal(x4.verdict, 'violated');
  assert.equal(x4.property, 'wakeup-list');
  assert.equal(check(scenario(false), 'ndstWhileBlocked=rewritten').verdict, 'holds');
});
