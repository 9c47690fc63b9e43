/**
 * guest.mmio: a guest read or write of its xAPIC page under KVM (kvm/guest-apic.ts over
 * hw/apic-access.ts). Expectations from the SDM (Vol. 3C 29.4.2: with APIC-register virtualization
 * reads of ID, version, TPR, LDR, DFR, SVR, ISR, IRR and ICR return the virtual-APIC page without
 * an exit, PPR is not among them; 29.4.3.1: writes to TPR, EOI, ID, SVR, ICR are virtualized, to the
 * version, PPR, ISR and IRR are not (APIC-access exit); 29.4.3.2: APIC-write emulation of 310H clears
 * bytes 2:0 and does not exit, of the ID and SVR ends in an APIC-write exit; Vol. 3A 11.12.1.2: in
 * x2APIC mode the page is not the APIC) and kvm-unit-tests vmx_tests.c apic_reg_virt_test, whose
 * case with "use TPR shadow", "virtualize APIC accesses", APIC-register virtualization and VID is
 * the one KVM runs a guest with.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exits, field, run } from './support.ts';

const APIC_ACCESS = 44;
const EPT_VIOLATION = 48;
const APIC_WRITE = 56;

const machine = {
  pcpus: 2,
  x2apic: false,
  apicRegisters: true,
  vcpus: [
    { pcpu: 0, running: true, apicId: 0, ldr: 4, dfr: 'cluster' },
    { pcpu: 1, running: true, apicId: 1 },
  ],
};
const rd = (offset: number) => ({ do: 'guest.mmio', vcpu: 0, offset });
const wr = (offset: number, write: number) => ({ do: 'guest.mmio', vcpu: 0, offset, write });

describe('guest.mmio with KVM APICv controls (apic_reg_virt_test, SDM 29.4)', () => {
  test('reads of ID, version, TPR, LDR, DFR, SVR, ISR, IRR, ICR come from the virtual-APIC page without an exit', () => {
    const cases: [number, number][] = [
      [0x20, 0],
      [0x30, 0x50014],
      [0x80, 0],
      [0xd0, 4 << 24],
      [0xe0, 0x0fffffff],
      [0xf0, 0x1ff],
      [0x100, 0],
      [0x200, 0],
      [0x300, 0],
      [0x310, 0],
    ];
    for (const [off, want] of cases) {
      const r = run({ machine, steps: [rd(off)] });
      assert.equal(field(r, 'vcpu0.apic.read'), want, off.toString(16));
      assert.deepEqual(exits(r, 0), [], off.toString(16));
    }
  });

  test('a read of the PPR is an APIC-access exit, and KVM returns max(TPR, ISR class) (SDM 11.8.3.1)', () => {
    const r = run({
      machine: { ...machine, vcpus: [{ pcpu: -1, apicId: 0 }, machine.vcpus[1]] },
      steps: [
        { do: 'host.setLapic', vcpu: 0, tpr: '0x20', isr: ['0x61'] },
        { do: 'vm.entry', vcpu: 0, pcpu: 0 },
        rd(0xa0),
      ],
    });
    assert.equal(field(r, 'vcpu0.apic.read'), 0x60);
    assert.deepEqual(exits(r, 0), [APIC_ACCESS]);
  });

  test('writes: TPR virtualized (no exit), ICR high word stored with bytes 2:0 cleared (no exit), ID an APIC-write exit, version and PPR an APIC-access exit that changes nothing', () => {
    const tpr = run({ machine, steps: [wr(0x80, 0x40)] });
    assert.equal(field(tpr, 'vcpu0.VTPR'), 0x40);
    assert.deepEqual(exits(tpr, 0), []);
    const icr2 = run({ machine, steps: [wr(0x310, 0x12345678)] });
    assert.equal(field(icr2, 'vcpu0.apic.icrHi'), 0x12000000);
    assert.deepEqual(exits(icr2, 0), []);
    const id = run({ machine, steps: [wr(0x20, 0x05000000)] });
    assert.equal(field(id, 'vcpu0.apic.id'), 5);
    assert.deepEqual(exits(id, 0), [APIC_WRITE]);
    for (const off of [0x30, 0xa0]) {
      const ro = run({ machine, steps: [wr(off, 0xffffffff), rd(0x30)] });
      assert.equal(field(ro, 'vcpu0.apic.read'), 0x50014);
      assert.deepEqual(exits(ro, 0), [APIC_ACCESS]);
    }
  });

  test('in x2APIC mode the page is not the APIC: a write does nothing and exits not (SDM Vol. 3A 11.12.1.2)', () => {
    const r = run({
      machine,
      steps: [{ do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00c00' }, wr(0x80, 0x40)],
    });
    assert.equal(field(r, 'vcpu0.apic.readHit'), 0);
    assert.equal(field(r, 'vcpu0.VTPR'), 0);
    assert.equal(exits(r, 0).length, 1);
  });

  test('with APICv inhibited (an ID write) the page is unmapped: a TPR write is an EPT violation that KVM emulates (apic_set_tpr)', () => {
    const r = run({ machine, steps: [wr(0x20, 0x05000000), wr(0x80, 0x40)] });
    assert.equal(field(r, 'vcpu0.VTPR'), 0x40);
    assert.deepEqual(exits(r, 0), [APIC_WRITE, EPT_VIOLATION]);
  });
});
