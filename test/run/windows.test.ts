/**
 * Interrupt-window exiting as a scenario control (host.setLapic irqWindowExiting, a VMWRITE) and
 * the STI shadow across a VM exit. Expectations from SDM Vol. 3C 26.7.5 (an interrupt-window exit
 * happens before an instruction when RFLAGS.IF = 1 and there is no blocking by STI or MOV SS),
 * Vol. 3A 6.8.3 and Vol. 3C 24.4.2 (blocking by STI is kept in the guest interruptibility state
 * across a VM exit), and kvm-unit-tests apic.c test_sti_nmi (no NMI is taken inside the shadow).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RunResult } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { type Raw, run } from './support.ts';

const INTERRUPT_WINDOW = 7;

function windowExits(r: RunResult): number {
  return r.entries.flatMap((e) => e.events).filter((e) => e.kind === 'vmexit' && e.c === INTERRUPT_WINDOW)
    .length;
}

describe('interrupt-window exiting (SDM 26.7.5)', () => {
  test('at VM entry it exits iff RFLAGS.IF = 1 and no STI shadow is pending', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (ifSet, shadow) => {
        // A shadow at entry: STI with IF = 0, then a VM exit before the next instruction completes.
        const steps: Raw[] = [];
        if (shadow)
          steps.push({ do: 'guest.sti', vcpu: 0 }, { do: 'vm.exit', vcpu: 0, reason: 'EPT_VIOLATION' });
        else steps.push({ do: 'vm.exit', vcpu: 0, reason: 'VMCALL' });
        steps.push(
          { do: 'host.setLapic', vcpu: 0, irqWindowExiting: true },
          { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        );
        const r = run({
          machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true, if: shadow ? false : ifSet }] },
          steps,
        });
        // STI sets IF; the shadow holds the exit back until the next instruction completes, which
        // here never comes.
        assert.equal(windowExits(r), !shadow && ifSet ? 1 : 0);
      }),
    );
  });

  test('after the shadow the exit comes once the next instruction completes', () => {
    const r = run({
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true, if: false }] },
      steps: [
        { do: 'guest.sti', vcpu: 0 },
        { do: 'vm.exit', vcpu: 0, reason: 'EPT_VIOLATION' },
        { do: 'host.setLapic', vcpu: 0, irqWindowExiting: true },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        { do: 'guest.nop', vcpu: 0 },
      ],
      checkpoints: [{ after: 3, expect: { state: { 'vcpu0.stiShadow': 1 } } }],
      expect: { exits: { '0': ['EPT_VIOLATION', 'INTERRUPT_WINDOW'] } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
  });

  test('an interrupt-window control on an AVIC machine is bad input', () => {
    const sc = {
      name: 't',
      description: 'd',
      source: 's',
      machine: { features: { apicv: false, vtdPosting: false, avic: true }, vcpus: [{ pcpu: 0 }] },
      steps: [{ do: 'host.setLapic', vcpu: 0, irqWindowExiting: true }],
    };
    assert.throws(
      () => parseScenarioText(JSON.stringify(sc), 'a.json'),
      (e: unknown) => e instanceof Error && /^a\.json: .*irqWindowExiting.*Intel/.test(e.message),
    );
  });
});

describe('the STI shadow across a VM exit (test_sti_nmi)', () => {
  test('an NMI queued while the vCPU is out waits for the end of a shadow the exit kept', () => {
    // EPT violations are re-executed and external interrupts come between instructions: the
    // shadow stays; HLT, VMCALL and I/O are completed by KVM's emulation, which skips the
    // instruction and clears the shadow (kvm_skip_emulated_instruction).
    const keeps = ['EPT_VIOLATION', 'EXTERNAL_INTERRUPT'];
    fc.assert(
      fc.property(fc.constantFrom(...keeps, 'HLT', 'VMCALL', 'IO_INSTRUCTION'), (reason) => {
        const r = run({
          machine: {
            pcpus: 2,
            vcpus: [
              { pcpu: 0, running: true },
              { pcpu: 1, running: true, if: false },
            ],
          },
          steps: [
            { do: 'guest.sti', vcpu: 1 },
            { do: 'vm.exit', vcpu: 1, reason },
            { do: 'guest.icr', vcpu: 0, deliveryMode: 'nmi', dest: 1 },
            { do: 'vm.entry', vcpu: 1, pcpu: 1 },
          ],
        });
        const nmis = r.entries
          .flatMap((e) => e.events)
          .filter((e) => e.kind === 'deliver' && e.a === 1 && e.b === 2).length;
        assert.equal(nmis, keeps.includes(reason) ? 0 : 1);
      }),
    );
  });
});
