/**
 * NMIs in `irqlab check`: kvm_inject_nmi from another context racing with the target's HLT and
 * block, its NMI handler and IRET. Expectations: KVM wakes a blocked vCPU for a pending NMI
 * (kvm_vcpu_has_events: nmi_pending with nmi_allowed) and injects it at the next entry; NMIs sent
 * while the handler runs collapse into one more (SDM Vol. 3A 6.7.1; kvm-unit-tests apic.c
 * test_pending_nmi). Every end state is checked through the model's own properties and, here, the
 * handler runs it must show.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkScenario } from '../../src/check/session.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { findField, readField } from '../../src/model/platform/fields.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { check, withEndCheck } from './support.ts';

// biome-ignore lint/suspicious/noExplicitAny: scenario files are written here as plain objects
function scenario(actors: any[]) {
  return parseScenarioText(
    JSON.stringify({
      name: 'nmi',
      description: 'd',
      source: 's',
      machine: { pcpus: 2, vcpus: [{ pcpu: 0, running: true, if: false }] },
      actors,
    }),
    'nmi.json',
  );
}

describe('NMIs under the checker', () => {
  test('an NMI sent while the target halts and blocks with IF = 0 is never lost (kvm_vcpu_has_events)', () => {
    const sc = scenario([
      { name: 'v', vcpu: 0, steps: [{ do: 'guest.hlt' }, { do: 'kvm.enter' }] },
      { name: 'sender', steps: [{ do: 'kvm.injectNmi', vcpu: 0 }] },
    ]);
    const r = checkScenario(sc, { name: 'current', variant: DEFAULT_VARIANT });
    assert.equal(r.verdict, 'holds');
    // At every end state the NMI handler ran once.
    const m = buildModel(sc, DEFAULT_VARIANT);
    const f = findField(m.w.L, 'vcpu0.nmiBlocked')!;
    const { model, ends, BAD_END } = withEndCheck(m, (s) => readField(s, f.block.base, f.field) === true);
    const e = check(model);
    assert.deepEqual(
      e.outcome,
      { kind: 'holds' },
      `violation ${JSON.stringify(e.outcome)} (bad end: ${BAD_END})`,
    );
    assert.ok(ends.count > 0);
  });

  test('three NMIs around one IRET: while the handler runs at most one waits, and none once it returned', () => {
    const sc = scenario([
      { name: 'v', vcpu: 0, steps: [{ do: 'guest.iret' }] },
      {
        name: 'sender',
        steps: [
          { do: 'kvm.injectNmi', vcpu: 0 },
          { do: 'kvm.injectNmi', vcpu: 0 },
          { do: 'kvm.injectNmi', vcpu: 0 },
        ],
      },
    ]);
    const m = buildModel(sc, DEFAULT_VARIANT);
    const pending = findField(m.w.L, 'vcpu0.nmiPending')!;
    const blocked = findField(m.w.L, 'vcpu0.nmiBlocked')!;
    // The guest's one IRET comes at any point, before the first NMI or inside a handler. At every
    // end state: while a handler runs at most one more NMI waits (the rest collapsed), and with no
    // handler running none waits (it would have been injected).
    const { model, BAD_END } = withEndCheck(m, (s) => {
      const p = readField(s, pending.block.base, pending.field) as number;
      return readField(s, blocked.block.base, blocked.field) === true ? p <= 1 : p === 0;
    });
    const e = check(model);
    assert.deepEqual(
      e.outcome,
      { kind: 'holds' },
      `violation ${JSON.stringify(e.outcome)} (bad end: ${BAD_END})`,
    );
  });
});
