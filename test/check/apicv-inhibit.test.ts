/**
 * Intel APICv inhibited and reactivated by an xAPIC ID write under `irqlab check` (decision 0235):
 * the built-in apicv-id-inhibit-concurrent-post, explored in every interleaving. Expectations from
 * KVM: an interrupt delivered concurrently with the inhibit or the reactivation reaches the guest
 * (vmx_deliver_interrupt falls back to kvm_lapic_set_irr + KVM_REQ_EVENT + kick while APICv is
 * inactive; vmx_sync_pir_to_irr harvests a PIR posted before the inhibit and asks for
 * KVM_REQ_EVENT; __kvm_vcpu_update_apicv writes SVI and RVI on reactivation), and at the end APICv
 * is active again (kvm_recalculate_apic_map clears APIC_ID_MODIFIED when the ID is the vCPU ID:
 * KVM selftest vmx_apicv_updates_test.c). The race must really happen in the state space: the
 * vector in PIR while APICv is inactive, and deliveries both by injection and by APICv.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckModel } from '../../src/check/explorer.ts';
import { checkScenario, resolveVariant } from '../../src/check/session.ts';
import { regTest } from '../../src/model/hw/bits.ts';
import { LAPIC } from '../../src/model/hw/lapic.ts';
import { PID } from '../../src/model/hw/pid.ts';
import { KVM_APICV, KVM_APICV_BLOCK } from '../../src/model/kvm/apicv.ts';
import { KVM_VCPU } from '../../src/model/kvm/state.ts';
import { EV, type Sink } from '../../src/model/platform/events.ts';
import { DELIVER_INJECTED } from '../../src/model/platform/hardware.ts';
import { VCPU } from '../../src/model/platform/layout.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { check } from './support.ts';

const NAME = 'apicv-id-inhibit-concurrent-post';
const VECTOR = 0x41;

describe('APICv inhibited by an xAPIC ID write, with a concurrent delivery (check)', () => {
  const { scenario } = loadScenario(NAME);
  const { variant } = resolveVariant(scenario, 'current');

  test('the scenario holds: no lost interrupt, no stuck PIR, APICv activation consistent at every entry', () => {
    const r = checkScenario(scenario, { name: 'current', variant });
    assert.equal(r.verdict, 'holds');
  });

  test('every end state: the vector was delivered, APICv is active again, vcpu0 has its own ID', () => {
    const m = buildModel(scenario, variant);
    const L = m.w.L;
    const seen = { postedWhileInactive: false, injected: false, byApicv: false, ends: 0, badEnds: 0 };
    const sink: Sink = {
      ev(kind, a, b, c) {
        if (kind !== EV.DELIVER || a !== 0 || b !== VECTOR) return;
        if (c === DELIVER_INJECTED) seen.injected = true;
        else if (c === 0) seen.byApicv = true;
      },
    };
    const apicv = L.extra.get(KVM_APICV_BLOCK)!;
    const model: CheckModel = {
      words: m.words,
      maxActions: m.maxActions,
      init: (s) => m.init(s),
      enabled: (s, out) => m.enabled(s, out),
      step: (s, a) => m.step(s, a, sink),
      invariant: (s) => {
        // The sender saw APICv active and set the PIR bit; the inhibit came before the harvest.
        if (regTest(s, L.pid[0] + PID.PIR, VECTOR) && s[L.kvmVcpu[0] + KVM_VCPU.APICV_ACTIVE] === 0)
          seen.postedWhileInactive = true;
        return m.invariant(s);
      },
      terminal: (s) => {
        seen.ends++;
        const base = m.terminal(s);
        if (base !== 0) return base;
        const ok =
          regTest(s, L.vcpu[0] + VCPU.DELIVERED, VECTOR) &&
          s[apicv + KVM_APICV.INHIBITS] === 0 &&
          s[L.kvmVcpu[0] + KVM_VCPU.APICV_ACTIVE] === 1 &&
          s[L.kvmVcpu[1] + KVM_VCPU.APICV_ACTIVE] === 1 &&
          s[L.guestApic![0] + LAPIC.ID] === 0;
        if (!ok) seen.badEnds++;
        return ok ? 0 : 1000;
      },
    };
    const e = check(model);
    assert.deepEqual(e.outcome, { kind: 'holds' });
    assert.ok(seen.ends > 0);
    assert.equal(seen.badEnds, 0);
    assert.ok(seen.postedWhileInactive, 'no interleaving posts to PIR and then inhibits APICv');
    assert.ok(seen.injected, 'no interleaving injects the vector while APICv is inhibited');
    assert.ok(seen.byApicv, 'no interleaving delivers the vector through APICv');
  });
});
