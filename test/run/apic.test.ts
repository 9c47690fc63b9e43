/**
 * The APIC architecture of issue 13 as `irqlab run` executes it: KVM's emulation of an
 * intercepted ICR write, the STI shadow, logical destinations. Every expectation comes from the
 * SDM or from the assertion of the kvm-unit-tests function named in the test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { scriptedChooser } from '../../src/drive/chooser.ts';
import { drive, stepOf } from '../../src/drive/drive.ts';
import { DEFAULT_VARIANT as DEFAULT } from '../../src/model/kvm/variants.ts';
import { findField, readField } from '../../src/model/platform/fields.ts';
import {
  guestEndStiShadow,
  guestSetIf,
  vcpuNmiArrives,
  vcpuNmiEnabled,
} from '../../src/model/platform/hardware.ts';
import { initWorld } from '../../src/model/platform/world.ts';
import { type RunResult, runScenario } from '../../src/run/run.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { machineOf, parseScenarioText } from '../../src/scenarios/loader.ts';
import { recordStep } from '../../src/trace/record.ts';
import { delivered, exits, type Raw, run } from './support.ts';

const MSR_WRITE = 32;
const APIC_WRITE = 56;

const running = (pcpu: number, more: Raw = {}) => ({ pcpu, running: true, autoEoi: true, ...more });

describe('an intercepted ICR write: VM exit, then KVM delivers the IPI', () => {
  test('x2APIC self IPI without IPIv: MSR-write exit, and the IPI is received once (apic.c test_self_ipi_x2apic)', () => {
    // SDM Vol. 3C 29.5: with "virtualize x2APIC mode" only 808H, 80BH and 83FH are virtualized;
    // WRMSR 830H exits, self IPI included. kvm-unit-tests asserts the handler ran once.
    const r = run({
      machine: { pcpus: 1, vcpus: [running(0)] },
      steps: [{ do: 'guest.icr', vcpu: 0, vector: '0xf1', shorthand: 'self' }],
    });
    assert.deepEqual(exits(r, 0), [MSR_WRITE]);
    assert.deepEqual(delivered(r, 0), [0xf1]);
  });

  test('x2APIC self IPI with IPIv: virtualized, no exit (SDM 29.5 with IPI virtualization)', () => {
    const r = run({
      machine: { pcpus: 1, features: { ipiv: true }, vcpus: [running(0)] },
      steps: [{ do: 'guest.icr', vcpu: 0, vector: '0xf1', shorthand: 'self' }],
    });
    assert.deepEqual(exits(r, 0), []);
    assert.deepEqual(delivered(r, 0), [0xf1]);
  });

  test('both re-entry paths of the x2APIC ICR exit deliver the self IPI (icrWrite full-exit and fastpath)', () => {
    for (const icrWrite of ['full-exit', 'fastpath']) {
      const sc = parseScenarioText(
        JSON.stringify({
          name: 't',
          description: 'd',
          source: 's',
          machine: { pcpus: 1, vcpus: [running(0)] },
          steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x51', shorthand: 'self' }],
        }),
        't.json',
      );
      const r = runScenario(sc, 't.json', { ...DEFAULT, icrWrite: icrWrite as typeof DEFAULT.icrWrite });
      assert.deepEqual(delivered(r, 0), [0x51], icrWrite);
    }
  });

  test('x2APIC under IPIv, a write IPIv does not virtualize: an APIC-write exit at 300H in the full path, never the MSR fastpath', () => {
    // SDM Vol. 3C "IPI Virtualization": with IPIv KVM leaves WRMSR 830H unintercepted, and APIC-write
    // emulation virtualizes only physical, fixed, edge IPIs with no shorthand; anything else is a
    // trap-like APIC-write exit (qualification 300H), which KVM handles in handle_apic_write; the
    // exit fastpath (1e9e2622a149) takes only MSR-write exits.
    for (const icrWrite of ['full-exit', 'fastpath'] as const)
      for (const to of [{ shorthand: 'others' }, { deliveryMode: 'nmi', dest: 1 }]) {
        const sc = parseScenarioText(
          JSON.stringify({
            name: 't',
            description: 'd',
            source: 's',
            machine: { pcpus: 2, features: { ipiv: true }, vcpus: [running(0), running(1)] },
            steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x63', ...to }],
          }),
          't.json',
        );
        const r = runScenario(sc, 't.json', { ...DEFAULT, icrWrite });
        const what = `${icrWrite} ${JSON.stringify(to)}`;
        assert.deepEqual(exits(r, 0), [APIC_WRITE], what);
        assert.ok(
          r.entries.some((e) => e.label === 'srcu_read_lock'),
          `${what}: handled in the full path (${r.entries.map((e) => e.label).join(', ')})`,
        );
        if (to.shorthand === 'others') assert.deepEqual(delivered(r, 1), [0x63], what);
      }
  });

  test('xAPIC IPI to another vCPU without IPIv: APIC-write exit (300H), delivered on the target', () => {
    // SDM 29.4.3.3: a write to the ICR low word at 300H is an APIC-write VM exit unless it is a
    // virtualized self IPI; KVM's handle_apic_write sends it.
    const r = run({
      machine: { pcpus: 2, x2apic: false, vcpus: [running(0), running(1)] },
      steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x62', dest: 1 }],
    });
    assert.deepEqual(exits(r, 0), [APIC_WRITE]);
    assert.deepEqual(delivered(r, 1), [0x62]);
    assert.deepEqual(delivered(r, 0), []);
  });

  test('broadcast reaches every vCPU, the sender too (apic.c test_physical_broadcast: ncpus receive)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom('all', 'dest'), (x2apic, how) => {
        const r = run({
          machine: { pcpus: 3, x2apic, vcpus: [running(0), running(1), running(2)] },
          steps: [
            how === 'all'
              ? { do: 'guest.icr', vcpu: 0, vector: '0x70', shorthand: 'all' }
              : { do: 'guest.icr', vcpu: 0, vector: '0x70', dest: x2apic ? '0xffffffff' : '0xff' },
          ],
        });
        for (const x of [0, 1, 2]) assert.deepEqual(delivered(r, x), [0x70]);
      }),
      { numRuns: 4 },
    );
  });

  test('all-excluding-self skips the sender', () => {
    const r = run({
      machine: { pcpus: 2, vcpus: [running(0), running(1)] },
      steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x70', shorthand: 'others' }],
    });
    assert.deepEqual(delivered(r, 0), []);
    assert.deepEqual(delivered(r, 1), [0x70]);
  });
});

describe('logical destination mode (apic.c test_logical_ipi_xapic)', () => {
  const three = (dfr: 'flat' | 'cluster', ldrs: number[]) => ({
    pcpus: 3,
    x2apic: false,
    vcpus: ldrs.map((ldr, i) => running(i, { ldr, dfr })),
  });

  test('flat model: every vCPU whose logical ID shares a bit with the destination receives', () => {
    // SDM Vol. 3A "Flat Model": a bit per APIC in the 8-bit logical ID; dest AND LDR[31:24] != 0.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xfe }), (dest) => {
        const ldrs = [0x01, 0x02, 0x04];
        const r = run({
          machine: three('flat', ldrs),
          steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x80', destMode: 'logical', dest }],
        });
        for (const [x, l] of ldrs.entries())
          assert.deepEqual(delivered(r, x), (dest & l) !== 0 ? [0x80] : [], `dest ${dest} vcpu${x}`);
      }),
      { numRuns: 12 },
    );
  });

  test('cluster model: cluster in bits 7:4, a bit per APIC in 3:0 (test_logical_ipi_xapic clusters)', () => {
    // vCPUs 0 and 1 in cluster 1 (IDs 0x11, 0x12), vCPU 2 in cluster 2 (0x21).
    const r = run({
      machine: three('cluster', [0x11, 0x12, 0x21]),
      steps: [{ do: 'guest.icr', vcpu: 2, vector: '0x81', destMode: 'logical', dest: '0x13' }],
    });
    assert.deepEqual(delivered(r, 0), [0x81]);
    assert.deepEqual(delivered(r, 1), [0x81]);
    assert.deepEqual(delivered(r, 2), []);
  });

  test('lowest priority as KVM resolves it: one vCPU, by vector hashing (kvm_vector_to_index)', () => {
    // Candidates 0, 1, 2 (flat, all bits set): vector % 3 picks the index.
    for (const vector of [0x80, 0x81, 0x82]) {
      const r = run({
        machine: three('flat', [0x01, 0x02, 0x04]),
        steps: [
          { do: 'guest.icr', vcpu: 0, vector, destMode: 'logical', dest: '0x07', deliveryMode: 'lowest' },
        ],
      });
      const got = [0, 1, 2].filter((x) => delivered(r, x).length > 0);
      assert.deepEqual(got, [vector % 3]);
    }
  });
});

describe('the STI shadow (SDM Vol. 3A 6.8.3)', () => {
  const pendingWithIfClear = { pcpus: 1, vcpus: [{ pcpu: 0, running: true, if: false, virr: ['0x41'] }] };

  test('sti; hlt with an interrupt pending: HLT is entered, then the interrupt wakes the guest (ioapic.c, vmx_hlt_with_rvi_test)', () => {
    const r = run({
      machine: pendingWithIfClear,
      steps: [
        { do: 'guest.sti', vcpu: 0 },
        { do: 'guest.hlt', exiting: false, vcpu: 0 },
      ],
      expect: { delivered: { '0': ['0x41'] }, state: { 'vcpu0.halted': false } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
    // The HLT step comes before the delivery.
    const order = r.entries.map((e) => (e.events.some((v) => v.kind === 'deliver') ? 'deliver' : e.label));
    assert.ok(order.indexOf('deliver') > order.findIndex((l) => /HLT/.test(String(l))));
  });

  test('sti; cli: the interrupt is never taken (the CLI runs inside the shadow)', () => {
    const r = run({
      machine: pendingWithIfClear,
      steps: [
        { do: 'guest.sti', vcpu: 0 },
        { do: 'guest.cli', vcpu: 0 },
      ],
    });
    assert.deepEqual(delivered(r, 0), []);
  });

  test('STI with IF already set opens no shadow: a pending interrupt is taken at once', () => {
    const r = run({
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true, if: true }] },
      steps: [
        { do: 'guest.sti', vcpu: 0 },
        { do: 'guest.selfIpi', vcpu: 0, vector: '0x42' },
        { do: 'guest.cli', vcpu: 0 },
      ],
    });
    assert.deepEqual(delivered(r, 0), [0x42]);
  });
});

describe('input consistency across machines', () => {
  test('the 8-bit xAPIC ICR destination is enforced on Intel as on AMD', () => {
    assert.throws(
      () =>
        run({
          machine: { pcpus: 1, x2apic: false, vcpus: [running(0)] },
          steps: [{ do: 'guest.icr', vcpu: 0, vector: '0x40', dest: '0x100' }],
        }),
      /steps\[0\]\.dest.*in xAPIC mode the ICR destination is 8 bits/,
    );
  });
});

describe('exit reasons', () => {
  test('a kvm.exit records the basic exit reason it names (SDM Vol. 3D appendix C numbers)', () => {
    const cases: [string, number][] = [
      ['VMCALL', 18],
      ['IO_INSTRUCTION', 30],
      ['EXTERNAL_INTERRUPT', 1],
      ['HLT', 12],
    ];
    for (const [reason, code] of cases) {
      const sc = parseScenarioText(
        JSON.stringify({
          name: 't',
          description: 'd',
          source: 's',
          machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true }] },
          actors: [{ name: 'v', vcpu: 0, steps: [{ do: 'kvm.exit', reason }] }],
        }),
        't.json',
      );
      const model = buildModel(sc, DEFAULT, []);
      const r = drive(model, scriptedChooser(model.actors.length), {
        maxSteps: 100,
        record: recordStep,
        stepOf: stepOf(model),
      });
      const got = r.entries.flatMap((e) => e.events).filter((e) => e.kind === 'vmexit');
      assert.deepEqual(
        got.map((e) => e.c),
        [code],
        reason,
      );
    }
  });

  test('without a reason, kvm.exit is an exit to userspace (IO_INSTRUCTION); AVIC reasons need features.avic', () => {
    const raw = {
      name: 't',
      description: 'd',
      source: 's',
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true }] },
      actors: [{ name: 'v', vcpu: 0, steps: [{ do: 'kvm.exit' }] }],
    };
    const sc = parseScenarioText(JSON.stringify(raw), 't.json');
    assert.equal((sc.actors?.[0]?.steps[0] as { reason?: string } | undefined)?.reason, 'IO_INSTRUCTION');
    raw.actors[0].steps[0] = { do: 'kvm.exit', reason: 'AVIC_NOACCEL' } as never;
    assert.throws(
      () => parseScenarioText(JSON.stringify(raw), 't.json'),
      /AVIC exit: it needs features\.avic/,
    );
  });
});

describe('NMI through the ICR', () => {
  const nmi = (vcpu: number, to: Raw) => ({ do: 'guest.icr', vcpu, deliveryMode: 'nmi', ...to });
  const two = { pcpus: 2, vcpus: [running(0), running(1)] };

  test('two NMIs sent back to back are both received (apic.c test_multiple_nmi)', () => {
    const r = run({
      machine: two,
      steps: [
        nmi(0, { dest: 1 }),
        nmi(0, { dest: 1 }),
        { do: 'guest.iret', vcpu: 1 },
        { do: 'guest.iret', vcpu: 1 },
      ],
    });
    assert.deepEqual(delivered(r, 1), [2, 2]);
    // Both ICR writes exit (NMI delivery mode is never virtualized, SDM 29.5).
    assert.deepEqual(exits(r, 0), [MSR_WRITE, MSR_WRITE]);
  });

  test('NMIs sent while the handler runs collapse into exactly one more (apic.c test_pending_nmi)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), (n) => {
        const steps: Raw[] = [nmi(0, { shorthand: 'self' })];
        for (let i = 0; i < n; i++) steps.push(nmi(0, { shorthand: 'self' }));
        steps.push({ do: 'guest.iret', vcpu: 0 }, { do: 'guest.iret', vcpu: 0 });
        const r = run({ machine: { pcpus: 1, vcpus: [running(0)] }, steps });
        assert.deepEqual(delivered(r, 0), [2, 2]);
      }),
      { numRuns: 5 },
    );
  });

  test('no NMI right after STI: it waits for the next instruction (apic.c test_sti_nmi)', () => {
    const sc = parseScenarioText(
      JSON.stringify({
        name: 't',
        description: 'd',
        source: 's',
        machine: { pcpus: 1, vcpus: [running(0, { if: false })] },
        steps: [{ do: 'guest.sti', vcpu: 0 }],
      }),
      't.json',
    );
    const w = initWorld(machineOf(sc));
    guestSetIf(w, 0, true);
    vcpuNmiArrives(w, 0);
    assert.equal(vcpuNmiEnabled(w, 0), false, 'inside the STI shadow');
    guestEndStiShadow(w, 0);
    assert.equal(vcpuNmiEnabled(w, 0), true, 'after the next instruction');
    // IF does not block NMIs: with IF = 0 and no shadow the NMI is taken.
    guestSetIf(w, 0, false);
    assert.equal(vcpuNmiEnabled(w, 0), true);
  });

  test('an NMI wakes a halted vCPU (vmx_tests.c nmi_hlt; SDM 6.7: NMI ends HLT)', () => {
    const r = run({
      machine: { pcpus: 2, vcpus: [running(0, { if: false }), running(1)] },
      steps: [{ do: 'guest.hlt', exiting: false, vcpu: 0 }, nmi(1, { dest: 0 })],
      expect: { state: { 'vcpu0.halted': false, 'vcpu0.nmiBlocked': true } },
    });
    assert.deepEqual(delivered(r, 0), [2]);
    assert.equal(r.ok, true);
  });
});

describe('checkpoints: expectations at intermediate points of a run', () => {
  const raw = {
    machine: { pcpus: 1, vcpus: [running(0, { if: false })] },
    steps: [
      { do: 'guest.selfIpi', vcpu: 0, vector: '0x41' },
      { do: 'guest.sti', vcpu: 0 },
      { do: 'guest.hlt', exiting: false, vcpu: 0 },
    ],
  };

  test('each checkpoint sees the trace and the state after its step and the reactions to it', () => {
    const r = run({
      ...raw,
      checkpoints: [
        // After the self IPI with IF = 0: pending in vIRR, not delivered (SDM 29.2.2).
        { after: 0, expect: { delivered: { '0': [] }, state: { 'vcpu0.vIRR': ['0x41'] } } },
        // After STI: inside the shadow, still not delivered (SDM 6.8.3).
        { after: 1, expect: { delivered: { '0': [] }, state: { 'vcpu0.stiShadow': true } } },
      ],
      expect: { delivered: { '0': ['0x41'] } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
    assert.deepEqual(
      r.expectations.map((e) => e.what),
      [
        'after steps[0]: vcpu0 handlers ran',
        'after steps[0]: vcpu0.vIRR',
        'after steps[1]: vcpu0 handlers ran',
        'after steps[1]: vcpu0.stiShadow',
        'vcpu0 handlers ran',
      ],
    );
  });

  test('a checkpoint that does not hold fails the run', () => {
    const r = run({ ...raw, checkpoints: [{ after: 1, expect: { delivered: { '0': ['0x41'] } } }] });
    assert.equal(r.ok, false);
  });

  test('a checkpoint after a step that does not exist, or on an unknown field, is bad input', () => {
    assert.throws(
      () => run({ ...raw, checkpoints: [{ after: 3, expect: {} }] }),
      /checkpoints\[0\]\.after: steps has no index 3/,
    );
    assert.throws(
      () => run({ ...raw, checkpoints: [{ after: 0, expect: { state: { 'vcpu0.vIRQ': [] } } }] }),
      /checkpoints\[0\]\.expect\.state\."vcpu0\.vIRQ": unknown field/,
    );
  });
});

describe('host-side APIC writes (KVM_SET_LAPIC, a VMWRITE of RVI/SVI)', () => {
  const stopped = { pcpus: 1, vcpus: [{ pcpu: 0, autoEoi: false }] };

  test('IRR written before entry is evaluated at VM entry and delivered (vmx_tests.c vmx_basic_vid_test)', () => {
    const r = run({
      machine: stopped,
      steps: [
        { do: 'host.setLapic', vcpu: 0, irr: ['0x41'] },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
      ],
      checkpoints: [{ after: 0, expect: { state: { 'vcpu0.RVI': '0x41', 'vcpu0.vIRR': ['0x41'] } } }],
    });
    assert.equal(r.ok, true);
    assert.deepEqual(delivered(r, 0), [0x41]);
  });

  test('a TPR class at or above the vector class holds it back (SDM 29.2.1)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0x20, max: 0xff }), (tpr, v) => {
        const r = run({
          machine: stopped,
          steps: [
            { do: 'host.setLapic', vcpu: 0, tpr, irr: [v] },
            { do: 'vm.entry', vcpu: 0, pcpu: 0 },
          ],
        });
        assert.deepEqual(delivered(r, 0), v >> 4 > tpr >> 4 ? [v] : []);
      }),
      { numRuns: 30 },
    );
  });

  test('an ISR written with SVI holds back lower classes until the guest EOIs (vmx_tests.c vmx_eoi_virt_test)', () => {
    const r = run({
      machine: stopped,
      steps: [
        { do: 'host.setLapic', vcpu: 0, irr: ['0x51'], isr: ['0x61'] },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        { do: 'guest.eoi', vcpu: 0 },
      ],
      checkpoints: [
        {
          after: 1,
          expect: { delivered: { '0': [] }, state: { 'vcpu0.SVI': '0x61', 'vcpu0.VPPR': '0x60' } },
        },
      ],
      expect: { delivered: { '0': ['0x51'] } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
  });

  test('the vCPU must be outside guest mode', () => {
    assert.throws(
      () =>
        run({
          machine: { pcpus: 1, vcpus: [running(0)] },
          steps: [{ do: 'host.setLapic', vcpu: 0, tpr: 0 }],
        }),
      /steps\[0\]: vcpu0 runs in guest mode on pcpu0: host.setLapic needs it in root mode/,
    );
  });
});

describe('a configurable notification vector', () => {
  test('posted-interrupt processing starts on the VMCS notification vector (vmx_tests.c vmx_posted_interrupts_test: 0xff)', () => {
    const r = run({
      machine: { pcpus: 1, vcpus: [running(0, { notificationVector: '0xff', pid: { nv: '0xff' } })] },
      steps: [{ do: 'device.post', vcpu: 0, vector: '0x45' }],
    });
    assert.deepEqual(delivered(r, 0), [0x45]);
    assert.deepEqual(exits(r, 0), []);
  });

  test("KVM's 0xf2 is then an ordinary interrupt: an external-interrupt exit (SDM 29.6: only the PINV is processed)", () => {
    const r = run({
      machine: { pcpus: 1, vcpus: [running(0, { notificationVector: '0xff' })] },
      steps: [{ do: 'device.post', vcpu: 0, vector: '0x45' }],
    });
    assert.deepEqual(exits(r, 0), [1]);
    assert.deepEqual(delivered(r, 0), []);
  });
});

describe('the LAPIC timer as a source (machine.lapicTimer)', () => {
  const machine = { pcpus: 1, lapicTimer: true, vcpus: [running(0)] };

  test('one-shot: the first expiration comes after exactly count x divisor input ticks (SDM 11.5.4)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128),
        (count, divide) => {
          const at = count * divide;
          const r = run({
            machine,
            steps: [
              { do: 'guest.timer', vcpu: 0, vector: '0xe0', divide, initialCount: count },
              { do: 'time.advance', ticks: at },
              { do: 'time.advance', ticks: 10 * at },
            ],
            // One tick before the expiration nothing has fired (a checkpoint after a shorter advance).
            checkpoints: [{ after: 0, expect: { delivered: { '0': [] } } }],
          });
          assert.equal(r.ok, true);
          assert.deepEqual(delivered(r, 0), [0xe0]);
          if (at > 1) {
            const early = run({
              machine,
              steps: [
                { do: 'guest.timer', vcpu: 0, vector: '0xe0', divide, initialCount: count },
                { do: 'time.advance', ticks: at - 1 },
              ],
            });
            assert.deepEqual(delivered(early, 0), []);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  test('a masked LVT entry counts and fires but sends nothing (SDM 11.5.1: mask)', () => {
    const r = run({
      machine,
      steps: [
        { do: 'guest.timer', vcpu: 0, vector: '0xe0', masked: true, divide: 1, initialCount: 5 },
        { do: 'time.advance', ticks: 5 },
      ],
      expect: { state: { 'vcpu0.timer.fired': 1 } },
    });
    assert.equal(r.ok, true);
    assert.deepEqual(delivered(r, 0), []);
  });

  test('the timer vector is posted: a vCPU outside guest mode gets it at its next entry through PIR', () => {
    const r = run({
      machine: { pcpus: 1, lapicTimer: true, vcpus: [running(0)] },
      steps: [
        { do: 'guest.timer', vcpu: 0, vector: '0xe0', divide: 1, initialCount: 5 },
        { do: 'vm.exit', vcpu: 0, reason: 'HLT' },
        { do: 'time.advance', ticks: 5 },
      ],
      expect: { state: { 'vcpu0.PID.PIR': ['0xe0'], 'vcpu0.PID.ON': true } },
    });
    assert.equal(r.ok, true);
    assert.deepEqual(delivered(r, 0), []);
  });

  test('timer steps need machine.lapicTimer; divide must be a power of two', () => {
    assert.throws(
      () => run({ machine: { pcpus: 1, vcpus: [running(0)] }, steps: [{ do: 'time.advance', ticks: 1 }] }),
      /time\.advance needs "lapicTimer": true/,
    );
    assert.throws(
      () => run({ machine, steps: [{ do: 'guest.timer', vcpu: 0, divide: 3 }] }),
      /divide must be 1, 2, 4/,
    );
  });
});

describe("KVM's emulated I/O APIC into vCPUs (machine.guestIoapic)", () => {
  const machine = {
    pcpus: 2,
    vcpus: [running(0, { autoEoi: false }), running(1, { autoEoi: false })],
    guestIoapic: [
      { pin: 1, vector: '0x91', trigger: 'level', dest: 1 },
      { pin: 2, vector: '0x92', dest: 1 },
    ],
  };

  test('the EOI-exit bitmap holds exactly the level vectors routed to the vCPU (SDM 29.1.4; KVM kvm_ioapic_scan_entry)', () => {
    const r = run({
      machine,
      steps: [{ do: 'guestIoapic.line', pin: 2, level: true }],
      expect: { state: { 'vcpu0.EOIExitBitmap': [], 'vcpu1.EOIExitBitmap': ['0x91'] } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
  });

  test('a level message is held by Remote IRR until the EOI; deasserting the line sends nothing (82093AA)', () => {
    const r = run({
      machine,
      steps: [
        { do: 'guestIoapic.line', pin: 1, level: true },
        { do: 'guestIoapic.line', pin: 1, level: false },
        { do: 'guestIoapic.line', pin: 1, level: true },
        { do: 'guest.eoi', vcpu: 1 },
        { do: 'guestIoapic.line', pin: 1, level: false },
        { do: 'guest.eoi', vcpu: 1 },
      ],
      expect: { state: { 'guestIoapic.pin1.remoteIRR': false } },
    });
    assert.equal(r.ok, true);
    // The second assertion came while Remote IRR was set: only the EOI re-sends it.
    assert.deepEqual(delivered(r, 1), [0x91, 0x91]);
    assert.deepEqual(exits(r, 1), [45, 45]);
  });

  test('an NMI entry queues an NMI (delivery mode NMI: vector ignored)', () => {
    const r = run({
      machine: { ...machine, guestIoapic: [{ pin: 3, vector: '0x00', dest: 0, deliveryMode: 'nmi' }] },
      steps: [{ do: 'guestIoapic.line', pin: 3, level: true }],
    });
    assert.deepEqual(delivered(r, 0), [2]);
  });

  test('a pin that is not programmed (in steps or in an actor) or a machine without APICv are bad input', () => {
    assert.throws(
      () => run({ machine, steps: [{ do: 'guestIoapic.line', pin: 7, level: true }] }),
      /steps\[0\]\.pin: pin 7 is not programmed in machine\.guestIoapic/,
    );
    // Actors may use the guest I/O APIC since decision 0240; their pins are checked the same way.
    assert.throws(
      () =>
        run({
          machine,
          steps: [],
          actors: [{ name: 'a', steps: [{ do: 'guestIoapic.line', pin: 7, level: true }] }],
        }),
      /actors\[0\]\.steps\[0\]\.pin: pin 7 is not programmed in machine\.guestIoapic/,
    );
    assert.throws(
      () =>
        run({
          machine: { ...machine, features: { apicv: false } },
          steps: [{ do: 'guestIoapic.line', pin: 1, level: true }],
        }),
      /it needs features\.apicv/,
    );
  });
});

describe('guest APIC registers (machine.apicRegisters)', () => {
  const EN = 0x800;
  const EXTD = 0x400;
  const state = (v: number) =>
    (v & EN) !== 0 ? ((v & EXTD) !== 0 ? 'x2apic' : 'xapic') : (v & EXTD) !== 0 ? 'invalid' : 'disabled';

  test('every IA32_APIC_BASE transition follows SDM 11.12.5: #GP for x2APIC->xAPIC, disabled->x2APIC and the invalid state', () => {
    const values = [0xfee00100, 0xfee00900, 0xfee00d00, 0xfee00500];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...values), { minLength: 1, maxLength: 5 }), (writes) => {
        let cur = 0xfee00900;
        let gps = 0;
        for (const v of writes) {
          const from = state(cur);
          const to = state(v);
          const fault =
            to === 'invalid' ||
            (from === 'x2apic' && to === 'xapic') ||
            (from === 'disabled' && to === 'x2apic');
          if (fault) gps++;
          else cur = v;
        }
        const r = run({
          machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [running(0)] },
          steps: writes.map((value) => ({ do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value })),
          expect: { state: { 'vcpu0.apic.gp': gps, 'vcpu0.apic.mode': state(cur), 'vcpu0.apic.base': cur } },
        });
        assert.deepEqual(
          r.expectations.filter((e) => !e.ok),
          [],
        );
      }),
      { numRuns: 40 },
    );
  });

  test("without APICv, an EOI exits through the vCPU's own mode after it moved to x2APIC (SDM 11.12.1, 29.5)", () => {
    // In xAPIC mode the EOI is a write at 0B0H (not virtualized without VID: an APIC-write exit);
    // once IA32_APIC_BASE.EXTD is set the guest writes MSR 80BH instead, which KVM intercepts
    // without VID: an MSR-write exit.
    const r = run({
      machine: {
        pcpus: 1,
        x2apic: false,
        apicRegisters: true,
        features: { apicv: false },
        vcpus: [running(0)],
      },
      steps: [
        { do: 'guest.eoi', vcpu: 0 },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00c00' },
        { do: 'guest.eoi', vcpu: 0 },
      ],
    });
    // The EOI at 0B0H, the WRMSR to IA32_APIC_BASE (KVM intercepts it), then the EOI at 80BH.
    assert.deepEqual(exits(r, 0), [APIC_WRITE, MSR_WRITE, MSR_WRITE]);
  });

  test('a software-disabled APIC drops fixed IPIs but takes NMIs (SDM 11.4.7.2)', () => {
    const r = run({
      machine: { pcpus: 2, apicRegisters: true, vcpus: [running(0), running(1)] },
      steps: [
        { do: 'guest.apicWrite', vcpu: 0, reg: 'SVR', value: '0xff' },
        { do: 'guest.icr', vcpu: 1, vector: '0x41', dest: 0 },
        { do: 'guest.icr', vcpu: 1, deliveryMode: 'nmi', dest: 0 },
      ],
    });
    assert.deepEqual(delivered(r, 0), [2]);
  });

  test('software disable masks the timer LVT entry (SDM 11.4.7.2)', () => {
    const r = run({
      machine: { pcpus: 1, apicRegisters: true, lapicTimer: true, vcpus: [running(0)] },
      steps: [
        { do: 'guest.timer', vcpu: 0, vector: '0xe0', divide: 1, initialCount: 10 },
        { do: 'guest.apicWrite', vcpu: 0, reg: 'SVR', value: '0xff' },
        { do: 'time.advance', ticks: 10 },
      ],
      expect: { state: { 'vcpu0.timer.fired': 1 } },
    });
    assert.equal(r.ok, true);
    assert.deepEqual(delivered(r, 0), []);
  });
});

describe('ICR routing follows the APIC IDs the guests wrote (machine.apicRegisters)', () => {
  test('a physical IPI reaches exactly the vCPUs whose xAPIC ID equals the destination now (SDM 11.6.2.1)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (newId, dest) => {
        // vCPU 2 (initial ID 2) rewrites its ID; vCPUs 0 and 1 keep IDs 0 and 1.
        const r = run({
          machine: {
            pcpus: 3,
            x2apic: false,
            apicRegisters: true,
            vcpus: [running(0), running(1), running(2)],
          },
          steps: [
            { do: 'guest.apicWrite', vcpu: 2, reg: 'ID', value: newId * 0x1000000 },
            { do: 'guest.icr', vcpu: 0, vector: '0x71', dest },
          ],
        });
        const ids = [0, 1, newId];
        for (const x of [0, 1, 2])
          assert.deepEqual(delivered(r, x), ids[x] === dest ? [0x71] : [], `vcpu${x}`);
      }),
      { numRuns: 16 },
    );
  });
});

describe('host-initiated APIC register writes (host.setLapic with apicBase, id)', () => {
  test('the host may go x2APIC -> xAPIC directly, but not into the invalid state (kvm_set_apic_base host_initiated)', () => {
    const r = run({
      machine: { pcpus: 1, apicRegisters: true, vcpus: [{ pcpu: 0, apicId: 4 }] },
      steps: [
        { do: 'host.setLapic', vcpu: 0, apicBase: '0xfee00500' },
        { do: 'host.setLapic', vcpu: 0, apicBase: '0xfee00900' },
      ],
      checkpoints: [
        { after: 0, expect: { state: { 'vcpu0.apic.mode': 'x2apic', 'vcpu0.apic.base': '0xfee00d00' } } },
      ],
      expect: { state: { 'vcpu0.apic.mode': 'xapic', 'vcpu0.apic.id': 4, 'vcpu0.apic.gp': 0 } },
    });
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok),
      [],
    );
  });

  test('id and apicBase need machine.apicRegisters', () => {
    assert.throws(
      () =>
        run({
          machine: { pcpus: 1, vcpus: [{ pcpu: 0 }] },
          steps: [{ do: 'host.setLapic', vcpu: 0, id: 1 }],
        }),
      /host\.setLapic with id or apicBase needs "apicRegisters": true/,
    );
  });
});

describe("KVM's NMI window", () => {
  test('an NMI pending while the handler runs: the IRET is followed by an NMI-window exit, then the NMI (SDM 26.7.6)', () => {
    const r = run({
      machine: { pcpus: 1, vcpus: [running(0)] },
      steps: [
        { do: 'guest.icr', vcpu: 0, deliveryMode: 'nmi', shorthand: 'self' },
        { do: 'guest.icr', vcpu: 0, deliveryMode: 'nmi', shorthand: 'self' },
        { do: 'guest.iret', vcpu: 0 },
        { do: 'guest.iret', vcpu: 0 },
      ],
    });
    // Two ICR exits, then one NMI-window exit after the first IRET only.
    assert.deepEqual(exits(r, 0), [MSR_WRITE, MSR_WRITE, 8]);
    assert.deepEqual(delivered(r, 0), [2, 2]);
  });
});

describe('raw ICR writes and readback (guest.icrRaw)', () => {
  const stateOf = (r: RunResult, name: string) => {
    const f = findField(r.world.L, name)!;
    return readField(r.world.m, f.block.base, f.field);
  };

  test('xAPIC: the ICR reads back as written without the busy bit, ICR2 keeping bits 31:24 (xapic_state_test test_icr)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (lo, hi) => {
          const r = run({
            machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [running(0)] },
            steps: [{ do: 'guest.icrRaw', vcpu: 0, lo, hi }],
          });
          assert.equal(stateOf(r, 'vcpu0.apic.icrLo'), (lo & ~0x1000) >>> 0);
          assert.equal(stateOf(r, 'vcpu0.apic.icrHi'), (hi & 0xff000000) >>> 0);
        },
      ),
      { numRuns: 25 },
    );
  });

  test('x2APIC: all 64 bits read back; a reserved bit (31:20, 17:16, 13) is #GP and stores nothing (SDM 11.12.9)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (lo, hi) => {
          const r = run({
            machine: { pcpus: 1, apicRegisters: true, vcpus: [running(0)] },
            steps: [{ do: 'guest.icrRaw', vcpu: 0, lo, hi }],
          });
          const reserved = (lo & 0xfff32000) !== 0;
          assert.equal(stateOf(r, 'vcpu0.apic.gp'), reserved ? 1 : 0);
          assert.equal(stateOf(r, 'vcpu0.apic.icrLo'), reserved ? 0 : lo >>> 0);
          assert.equal(stateOf(r, 'vcpu0.apic.icrHi'), reserved ? 0 : hi >>> 0);
        },
      ),
      { numRuns: 25 },
    );
  });
});
