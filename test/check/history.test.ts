/**
 * KVM's posted-interrupt history 2021-2026 (issue 14): each case's built-in scenario, explored in
 * each preset under sequential consistency and x86-TSO. The expectations come from the upstream
 * commits: the code before each fix has the race the commit describes, the code after does not.
 * Nothing is stored: the checker computes every verdict here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaLogCost } from '../../src/check/ga-log-cost.ts';
import { lockOrderCycle } from '../../src/check/lock-order.ts';
import type { MemoryModel } from '../../src/model/kvm/program.ts';
import { withKnobs } from '../../src/model/kvm/variants.ts';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import { check, modelOf, preset } from './support.ts';

type Expected = { verdict: 'holds' } | { verdict: 'violated'; property: string };

const EXPECTED: Record<string, Record<string, Expected>> = {
  // a2486020a82e (5.13): a vCPU halted before the first device is assigned sleeps through the
  // device's posting and a sender's skipped kick; vmx_pi_start_assignment's KVM_REQ_UNBLOCK fixes it.
  'assign-while-halted': {
    before: { verdict: 'violated', property: 'no-lost-wakeup' },
    after: { verdict: 'holds' },
  },
  // c3d591c91f9c (6.17): with ir_list_lock only around the list add, the vCPU blocks between the
  // read of its pCPU/IsRunning and the list add, and the IRTE keeps IsRun for a sleeping vCPU.
  'avic-irte-update-race': {
    before: { verdict: 'violated', property: 'irte-affinity' },
    after: { verdict: 'holds' },
  },
  // The same fix nests irq_desc_lock inside ir_list_lock: with irq_set_affinity (irq_desc_lock ->
  // rq->__lock) and a preempted vCPU (rq->__lock -> ir_list_lock), the cycle lockdep reported.
  'avic-irte-lock-order': {
    before: { verdict: 'holds' },
    after: { verdict: 'violated', property: 'lock-order' },
  },
  // 6df262f915ab (6.17): an IRQ routed while AVIC is inhibited was not put on the vCPU's ir_list,
  // so lifting the inhibit left its IRTE in remapped mode.
  'avic-irte-inhibited': {
    before: { verdict: 'violated', property: 'irte-guest-mode' },
    after: { verdict: 'holds' },
  },
  // 3989a6d036c8 (2026): a vCPU created while inhibited kept AVIC disabled in its VMCB when the
  // inhibit was lifted before its first KVM_RUN.
  'avic-create-vcpu-inhibited': {
    before: { verdict: 'violated', property: 'avic-vmcb' },
    after: { verdict: 'holds' },
  },
  // 688124cc541f and 2454823e97a6 (6.15): a host affinity change clobbered a vCPU-posted IRTE, and
  // giving the IRQ back to the host left it remapped instead of posted MSI.
  'vtd-irte-owner': {
    before: { verdict: 'violated', property: 'irte-owner' },
    after: { verdict: 'holds' },
  },
  // b9e53f9ff4a8 and b03500f03ea0 (6.17): GA-log interrupts only for a blocking vCPU. Both hold.
  'avic-ga-log-preempted': {
    before: { verdict: 'holds' },
    after: { verdict: 'holds' },
  },
};

function verdictOf(r: ReturnType<typeof check>): string {
  const o = r.outcome;
  if (o.kind === 'violated') return `violated: ${PROP_INFO[o.code].name} after ${o.path.length} steps`;
  if (o.kind === 'incomplete') return `incomplete: ${o.reason}`;
  return 'holds';
}

describe('KVM history 2021-2026 (issue 14)', () => {
  for (const [name, presets] of Object.entries(EXPECTED)) {
    test(`${name}: the presets are before and after`, () => {
      assert.deepEqual(
        Object.keys(preset(name, 'before').scenario.presets ?? {}).sort(),
        Object.keys(presets).sort(),
      );
    });
    for (const memory of ['sc', 'tso'] as MemoryModel[]) {
      for (const [p, want] of Object.entries(presets)) {
        test(`${name} · ${p} · ${memory}: ${want.verdict}${want.verdict === 'violated' ? ` ${want.property}` : ''}`, () => {
          const r = check(modelOf(preset(name, p), undefined, memory));
          if (want.verdict === 'holds') assert.equal(verdictOf(r), 'holds');
          else assert.match(verdictOf(r), new RegExp(`^violated: ${want.property} after \\d+ steps$`));
        });
      }
    }
  }
});

describe('case 2: the IRTE update and the vCPU that blocks meanwhile', () => {
  test('before, the device interrupt is lost too: the vCPU sleeps (no-lost-wakeup); after, it is woken', () => {
    const props = ['no-lost-wakeup', 'no-lost-interrupt'];
    assert.match(
      verdictOf(check(modelOf(preset('avic-irte-update-race', 'before'), props))),
      /^violated: no-lost-wakeup after \d+ steps$/,
    );
    assert.equal(verdictOf(check(modelOf(preset('avic-irte-update-race', 'after'), props))), 'holds');
  });
});

describe('case 3: the lock-order cycle of the 6.19-rc2 lockdep report', () => {
  test('the cycle is irq_desc_lock -> rq->__lock -> ir_list_lock -> irq_desc_lock, one edge per actor', () => {
    const p = preset('avic-irte-lock-order', 'after');
    const r = check(modelOf(p));
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    const edges = lockOrderCycle(modelOf(p), r.outcome.path).map(
      (e) => `${e.actor}: ${e.held} -> ${e.taken}`,
    );
    assert.deepEqual(edges.sort(), [
      'irqbalance: irq_desc_lock(irte0) -> rq->__lock',
      'irqfd: ir_list_lock(vcpu0) -> irq_desc_lock(irte0)',
      'target: rq->__lock -> ir_list_lock(vcpu0)',
    ]);
  });

  test('the cycle is a real deadlock in some schedule after the fix, and in none before', () => {
    assert.match(
      verdictOf(check(modelOf(preset('avic-irte-lock-order', 'after'), ['deadlock']))),
      /^violated: deadlock after \d+ steps$/,
    );
    assert.equal(verdictOf(check(modelOf(preset('avic-irte-lock-order', 'before'), ['deadlock']))), 'holds');
  });

  test('case 2 holds in the lock-order scenario after the fix, and its race shows before', () => {
    const props = ['irte-affinity', 'no-lost-interrupt'];
    assert.equal(verdictOf(check(modelOf(preset('avic-irte-lock-order', 'after'), props))), 'holds');
    assert.match(
      verdictOf(check(modelOf(preset('avic-irte-lock-order', 'before'), props))),
      /^violated: irte-affinity after \d+ steps$/,
    );
  });
});

describe('case 7: the two parts of 3989a6d036c8', () => {
  // The commit: configuring the VMCB only when AVIC is active "works" only because
  // kvm_create_lapic sets apicv_active speculatively, so init_vmcb's old test is always true when
  // AVIC is enabled; what goes wrong is that avic_init_vmcb followed the VM's activation instead
  // of the vCPU's apicv_active, which the first KVM_REQ_APICV_UPDATE then does not correct.
  const with_ = (value: string) => {
    const p = preset('avic-create-vcpu-inhibited', 'after');
    return { ...p, variant: withKnobs(p.variant, { avicVmcbInit: value }, 'test') };
  };
  test('the fields always, AVIC enabled iff the VM is activated: still avic-vmcb', () => {
    assert.match(
      verdictOf(check(modelOf(with_('init-always-enable-if-vm-activated')))),
      /^violated: avic-vmcb/,
    );
  });
  test("the old init condition, AVIC enabled iff the vCPU's apicv_active: holds (the speculative apicv_active)", () => {
    assert.equal(verdictOf(check(modelOf(with_('init-if-active-enable-if-vcpu-active')))), 'holds');
  });
});

describe('case 6: each of the two VT-d fixes is needed', () => {
  const with_ = (knobs: Record<string, string>) => {
    const p = preset('vtd-irte-owner', 'after');
    return { ...p, variant: withKnobs(p.variant, knobs, 'test') };
  };
  const run = (knobs: Record<string, string>) => check(modelOf(with_(knobs)));
  test('without 688124cc541f: the affinity change clobbers the vCPU-posted IRTE', () => {
    const r = run({ vtdAffinityChange: 'clobbers-vcpu-irte' });
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    const m = modelOf(with_({ vtdAffinityChange: 'clobbers-vcpu-irte' }));
    const s = new Uint32Array(m.words);
    m.init(s);
    const who = r.outcome.path.map((a) => {
      const d = m.describe(s, a);
      m.step(s, a);
      return `${d.actor}: ${d.fn}`;
    });
    assert.deepEqual(who, ['kvm: intel_ir_set_vcpu_affinity', 'irqbalance: intel_ir_set_affinity']);
  });
  test('without 2454823e97a6: giving the IRQ back to the host leaves it remapped', () => {
    assert.match(verdictOf(run({ vtdVcpuPostingOff: 'remapped' })), /^violated: irte-owner after 2 steps$/);
  });
});

describe('case 5: the cost of GA-log interrupts for a vCPU that is only preempted', () => {
  test('before, a posting during the preemption is logged in some end state; after, in none', () => {
    const before = gaLogCost(modelOf(preset('avic-ga-log-preempted', 'before')));
    const after = gaLogCost(modelOf(preset('avic-ga-log-preempted', 'after')));
    assert.ok(before && after);
    assert.equal(before.entries.min, 0, 'a posting while the vCPU runs rings the doorbell');
    assert.equal(before.entries.max, 1);
    assert.equal(after.entries.max, 0);
  });
});
