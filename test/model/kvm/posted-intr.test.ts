/**
 * vmx_needs_pi_wakeup (src/model/kvm/posted-intr.ts): the put only does descriptor work when a blocked
 * vCPU can be the target of a hardware posting, VT-d or IPIv; the X7 mutation forgets IPIv.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { needsPiWakeup } from '../../../src/model/kvm/posted-intr.ts';
import { ProgramBuilder } from '../../../src/model/kvm/program.ts';
import { DEFAULT_VARIANT } from '../../../src/model/kvm/variants.ts';

describe('vmx_needs_pi_wakeup', () => {
  test('IPIv or VT-d posting; with the X7 mutation, VT-d posting only', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.constantFrom('present', 'missing'), (vtd, ipiv, knob) => {
        const b = new ProgramBuilder({ apicv: true, vtdPosting: vtd, ipiv, avic: false });
        const v = { ...DEFAULT_VARIANT, piWakeupWithIpiv: knob as 'present' | 'missing' };
        assert.equal(needsPiWakeup(b, v), vtd || (ipiv && knob === 'present'));
      }),
    );
  });
});
