/**
 * The host side of interrupt delivery: interrupt gates clear IF until the handler's IRET (SDM Vol.
 * 3A 6.12.1.3, 6.8.1), and an I/O APIC entry with delivery mode NMI (82093AA datasheet, "I/O
 * Redirection Table Registers"; SDM Vol. 3A 11.6.1: NMI ignores the vector and uses no IRR bit;
 * 6.8.1: IF does not mask NMIs; Vol. 3C 25.2: with NMI exiting an NMI in VMX non-root operation is a
 * VM exit with basic reason 0).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import type { RunResult } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { field, run } from './support.ts';

function hostIrqs(r: RunResult, p: number): number[] {
  return r.entries
    .flatMap((e) => e.events)
    .filter((e) => e.kind === 'host_irq' && e.a === p)
    .map((e) => e.b);
}

const vcpus = [{ pcpu: 1 }];

describe('host interrupt gates clear IF until IRET', () => {
  test('a second interrupt, of any class, waits in IRR until the first handler returns', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0x20, max: 0xfe }),
        fc.integer({ min: 0x20, max: 0xfe }),
        (first, second) => {
          fc.pre(first !== second);
          const r = run({
            machine: {
              pcpus: 2,
              hostAutoEoi: false,
              vcpus,
              ioapic: [
                { pin: 0, vector: first, dest: 0 },
                { pin: 1, vector: second, dest: 0 },
              ],
            },
            steps: [
              { do: 'ioapic.line', pin: 0, level: true },
              { do: 'ioapic.line', pin: 1, level: true },
              { do: 'host.eoi', pcpu: 0 },
            ],
            checkpoints: [
              { after: 1, expect: { hostIrqs: { '0': [first] }, state: { 'pcpu0.IRR': [second] } } },
            ],
            expect: { hostIrqs: { '0': [first, second] } },
          });
          assert.deepEqual(
            r.expectations.filter((e) => !e.ok),
            [],
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  test('IF is clear while the handler runs and set again by its IRET', () => {
    const r = run({
      machine: { pcpus: 2, hostAutoEoi: false, vcpus, ioapic: [{ pin: 0, vector: '0x41', dest: 0 }] },
      steps: [{ do: 'ioapic.line', pin: 0, level: true }],
    });
    assert.notEqual(field(r, 'pcpu0.hostIF'), 1);
    const r2 = run({
      machine: { pcpus: 2, hostAutoEoi: false, vcpus, ioapic: [{ pin: 0, vector: '0x41', dest: 0 }] },
      steps: [
        { do: 'ioapic.line', pin: 0, level: true },
        { do: 'host.eoi', pcpu: 0 },
      ],
    });
    assert.equal(field(r2, 'pcpu0.hostIF'), 1);
  });

  test('a handler entered with IF already clear returns with IF clear', () => {
    const r = run({
      machine: {
        pcpus: 2,
        hostAutoEoi: false,
        vcpus: [{ pcpu: 0, running: true }],
        ioapic: [{ pin: 0, vector: '0x41', dest: 0 }],
      },
      steps: [
        { do: 'host.cli', pcpu: 0 },
        { do: 'ioapic.line', pin: 0, level: true },
        { do: 'host.eoi', pcpu: 0 },
      ],
    });
    // In guest mode the interrupt exits (external-interrupt exiting) and the host takes it with its
    // IF clear; the IRET restores that IF.
    assert.deepEqual(hostIrqs(r, 0), [0x41]);
    assert.equal(field(r, 'pcpu0.hostIF'), 0);
  });
});

describe('I/O APIC delivery mode NMI on the host', () => {
  test('the NMI handler runs even with IF clear, and no IRR bit is set', () => {
    const r = run({
      machine: {
        pcpus: 2,
        hostIF: false,
        vcpus,
        ioapic: [{ pin: 3, vector: '0x41', dest: 0, deliveryMode: 'nmi' }],
      },
      steps: [{ do: 'ioapic.line', pin: 3, level: true }],
    });
    assert.deepEqual(hostIrqs(r, 0), [2]);
    assert.deepEqual(field(r, 'pcpu0.IRR'), []);
  });

  test('in guest mode the NMI is an EXCEPTION_NMI exit, then the host handler', () => {
    const r = run({
      machine: {
        pcpus: 1,
        vcpus: [{ pcpu: 0, running: true }],
        ioapic: [{ pin: 3, vector: '0x41', dest: 0, deliveryMode: 'nmi' }],
      },
      steps: [{ do: 'ioapic.line', pin: 3, level: true }],
    });
    const exits = r.entries
      .flatMap((e) => e.events)
      .filter((e) => e.kind === 'vmexit')
      .map((e) => [e.c, e.d]);
    assert.deepEqual(exits, [[0, 2]]);
    assert.deepEqual(hostIrqs(r, 0), [2]);
  });

  test('a level-triggered NMI entry is bad input', () => {
    const sc = {
      name: 't',
      description: 'd',
      source: 's',
      machine: {
        vcpus: [{ pcpu: 0 }],
        ioapic: [{ pin: 3, vector: 2, trigger: 'level', deliveryMode: 'nmi' }],
      },
      steps: [{ do: 'ioapic.line', pin: 3, level: true }],
    };
    assert.throws(
      () => parseScenarioText(JSON.stringify(sc), 'n.json'),
      (e: unknown) =>
        e instanceof UserError &&
        /^n\.json: .*machine\.ioapic\[0\]\.trigger.*edge-triggered/.test(e.message) &&
        !e.message.includes('\n'),
    );
  });
});
