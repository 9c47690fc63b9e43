/**
 * guest.msr: a guest RDMSR/WRMSR of an x2APIC register under KVM (kvm/guest-msr.ts over
 * hw/x2apic-msr.ts). Expectations from the SDM (Vol. 3C 29.5 "Virtualizing MSR-Based APIC
 * Accesses": reads of the virtual-APIC page, TPR writes with bits 63:8 set are #GP without an exit;
 * Vol. 3A 11.12.1.2: x2APIC MSRs outside x2APIC mode are #GP; 11.12.10.2: the LDR derived from the
 * x2APIC ID; 11.8.3.1: PPR), KVM (kvm_lapic_readable_reg_mask and "KVM: VMX: Intercept reads to
 * invalid and write-only x2APIC registers": EOI and SELF IPI reads exit and are #GP; read-only
 * registers' writes are #GP) and the peer tests: kvm-unit-tests vmx_tests.c virt_x2apic_mode_test
 * (with virtualize x2APIC mode and APIC-register virtualization, RDMSR of a register returns the
 * virtual-APIC page without an exit, the write-only ones do not read) and apic.c test_apic_id (the
 * x2APIC ID is read-only).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { exits, field, run } from './support.ts';

const MSR_READ = 31;
const MSR_WRITE = 32;

const machine = (x2apic: boolean, apicId = 3) => ({
  pcpus: 2,
  x2apic,
  apicRegisters: true,
  vcpus: [
    { pcpu: 0, running: true, apicId },
    { pcpu: 1, running: true, apicId: 1 },
  ],
});

const rd = (msr: number) => ({ do: 'guest.msr', vcpu: 0, msr });
const wr = (msr: number, write: number, hi = 0) => ({ do: 'guest.msr', vcpu: 0, msr, write, hi });

describe('guest.msr under APICv in x2APIC mode (virtualize x2APIC mode, APIC-register virtualization)', () => {
  test('RDMSR of ID, version and LDR reads the virtual-APIC page: no exit (virt_x2apic_mode_test; LDR per SDM 11.12.10.2)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 31 }), (id) => {
        const m = machine(true, id);
        assert.equal(field(run({ machine: m, steps: [rd(0x802)] }), 'vcpu0.apic.read'), id);
        assert.equal(
          field(run({ machine: m, steps: [rd(0x80d)] }), 'vcpu0.apic.read'),
          ((id >>> 4) << 16) | (1 << (id & 0xf)),
        );
        const v = run({ machine: m, steps: [rd(0x803)] });
        assert.equal((field(v, 'vcpu0.apic.read') as number) & 0xff, 0x14);
        assert.deepEqual(exits(v, 0), []);
      }),
      { numRuns: 10 },
    );
  });

  test('RDMSR of PPR: the TPR or the in-service class, whichever is higher (SDM 11.8.3.1)', () => {
    const r = run({
      machine: {
        ...machine(true),
        vcpus: [
          { pcpu: -1, apicId: 3 },
          { pcpu: 1, running: true, apicId: 1 },
        ],
      },
      steps: [
        { do: 'host.setLapic', vcpu: 0, tpr: '0x30', isr: ['0x51'] },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        rd(0x80a),
      ],
    });
    assert.equal(field(r, 'vcpu0.apic.read'), 0x50);
  });

  test('RDMSR of the write-only EOI and SELF IPI: KVM intercepts them and injects #GP', () => {
    for (const msr of [0x80b, 0x83f]) {
      const r = run({ machine: machine(true), steps: [rd(msr)] });
      assert.equal(field(r, 'vcpu0.apic.gp'), 1, msr.toString(16));
      assert.equal(field(r, 'vcpu0.apic.readHit'), 0);
      assert.deepEqual(exits(r, 0), [MSR_READ]);
    }
  });

  test('WRMSR of a read-only register (ID, version, PPR, LDR, ISR0, IRR0): MSR_WRITE exit and #GP (test_apic_id: the x2APIC ID is read-only)', () => {
    for (const msr of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x820]) {
      const r = run({ machine: machine(true), steps: [wr(msr, 0x1)] });
      assert.equal(field(r, 'vcpu0.apic.gp'), 1, msr.toString(16));
      assert.deepEqual(exits(r, 0), [MSR_WRITE]);
    }
  });

  test('WRMSR of the TPR is virtualized (no exit); with a bit of 63:8 set it is #GP without an exit (SDM 29.5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 1, max: 0xffffffff }), (tpr, hi) => {
        const ok = run({ machine: machine(true), steps: [wr(0x808, tpr)] });
        assert.equal(field(ok, 'vcpu0.VTPR'), tpr);
        assert.deepEqual(exits(ok, 0), []);
        const bad = run({ machine: machine(true), steps: [wr(0x808, tpr, hi)] });
        assert.equal(field(bad, 'vcpu0.apic.gp'), 1);
        assert.equal(field(bad, 'vcpu0.VTPR'), 0);
        assert.deepEqual(exits(bad, 0), []);
      }),
      { numRuns: 20 },
    );
  });
});

describe('guest.msr outside x2APIC mode and with APICv inhibited', () => {
  test('a vCPU in xAPIC mode: every x2APIC MSR exits and is #GP (SDM Vol. 3A 11.12.1.2)', () => {
    for (const step of [rd(0x802), rd(0x808), wr(0x808, 0x20)]) {
      const r = run({ machine: machine(false, 0), steps: [step] });
      assert.equal(field(r, 'vcpu0.apic.gp'), 1);
      assert.equal(exits(r, 0).length, 1);
    }
  });

  test('APICv inhibited by another vCPU xAPIC ID: reads exit and KVM returns the register; the EOI write exits and KVM retires the in-service vector', () => {
    const m = {
      ...machine(true),
      vcpus: [
        { pcpu: -1, apicId: 3 },
        { pcpu: 1, running: true, apicId: 1 },
      ],
    };
    const toXapicWithOtherId = [
      { do: 'guest.apicWrite', vcpu: 1, reg: 'APIC_BASE', value: '0xfee00000' },
      { do: 'guest.apicWrite', vcpu: 1, reg: 'APIC_BASE', value: '0xfee00800' },
      { do: 'guest.apicWrite', vcpu: 1, reg: 'ID', value: '0x07000000' },
    ];
    const r = run({
      machine: m,
      steps: [
        ...toXapicWithOtherId,
        { do: 'host.setLapic', vcpu: 0, isr: ['0x41'] },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        rd(0x802),
        wr(0x80b, 0),
      ],
    });
    assert.equal(field(r, 'kvm.inhibits'), 'APIC_ID_MODIFIED');
    assert.equal(field(r, 'vcpu0.apic.read'), 3);
    assert.deepEqual(field(r, 'vcpu0.vISR'), []);
    assert.deepEqual(exits(r, 0), [MSR_READ, MSR_WRITE]);
  });
});
