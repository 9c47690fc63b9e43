/**
 * KVM's posted-interrupt history 2021-2026 (issue 14): each case's built-in scenario, explored in
 * each preset under sequential consistency and x86-TSO. The expectations come from the upstream
 * commits: the code before each fix has the race the commit describes, the code after does not.
 * Nothing is stored: the checker computes every verdict here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MemoryModel } from '../../src/model/kvm/program.ts';
import { PROP_INFO } from '../../src/model/system/system.ts';
import { check, modelOf, preset } from './support.ts';

type Expected = { verdict: 'holds' } | { verdict: 'violated'; property: string };

const EXPECTED: Record<string, Record<string, Expected>> = {
  // a2486020a82e (5.13): a vCPU halted before the first device is assigned sleeps through the
  // device's posting and a sender's skipped kick; vmx_pi_start_assignment's KVM_REQ_UNBLOCK fixes it.
  'assign-while-halted': {
    before: { verdict: 'violated', property: 'no-lost-wakeup' },
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
