/**
 * Intel APICv inhibited by an xAPIC ID write and reactivated (kvm/apicv-inhibit.ts). Expectations
 * come from KVM's rules (kvm_recalculate_phys_map: the inhibit is set iff some vCPU in xAPIC mode
 * has an 8-bit ID other than its vCPU ID; __kvm_vcpu_update_apicv: SVI from the highest ISR vector on
 * activation), the SDM (Vol. 3C 26.3.2.5: no evaluation at entry without VID; 29.1.4: EOI
 * virtualization clears vISR[SVI]; 26.7.5: interrupt-window exiting) and the KVM selftest
 * vmx_apicv_updates_test.c l1_guest_code (the in-service vector leaves ISR at the EOI after
 * reactivation; the xAPIC MMIO ICR write in x2APIC mode is ignored).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { xapicMmioAvailable } from '../../src/model/hw/apic-state.ts';
import { LAPIC_MODE_X2APIC, LAPIC_MODE_XAPIC } from '../../src/model/hw/lapic.ts';
import {
  VAPIC,
  VAPIC_F_RECOGNIZED,
  vapicInit,
  vapicSetVid,
  vapicVid,
  vmEntryVirtualInterrupts,
} from '../../src/model/hw/vapic.ts';
import { KVM_APIC_LVR } from '../../src/model/kvm/guest-apic.ts';
import { delivered, exits, field, type Raw, run } from './support.ts';

const EPT_VIOLATION = 48;
const INTERRUPT_WINDOW = 7;

describe('VMX controls the inhibit toggles (hw/vapic.ts)', () => {
  test('without virtual-interrupt delivery a VM entry neither evaluates nor recognizes (SDM 26.3.2.5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 255 }), fc.boolean(), (rvi, vid) => {
        const m = new Uint32Array(VAPIC.SIZE);
        vapicInit(m, 0, vid);
        m[VAPIC.RVI] = rvi;
        const rec = vmEntryVirtualInterrupts(m, 0);
        // With VID, RVI's class above VPPR's (0 here) is recognized (29.2.1); without, nothing is.
        assert.equal(rec, vid && rvi >> 4 > 0);
        assert.equal((m[VAPIC.FLAGS] & VAPIC_F_RECOGNIZED) !== 0, rec);
      }),
    );
  });

  test('clearing VID drops a recognized virtual interrupt; setting it keeps RVI and SVI for software', () => {
    const m = new Uint32Array(VAPIC.SIZE);
    vapicInit(m, 0, true);
    m[VAPIC.RVI] = 0x51;
    m[VAPIC.SVI] = 0x31;
    vmEntryVirtualInterrupts(m, 0);
    vapicSetVid(m, 0, false);
    assert.equal(vapicVid(m, 0), false);
    assert.equal(m[VAPIC.FLAGS] & VAPIC_F_RECOGNIZED, 0);
    vapicSetVid(m, 0, true);
    assert.deepEqual([m[VAPIC.RVI], m[VAPIC.SVI]], [0x51, 0x31]);
  });

  test('the xAPIC MMIO interface answers only in xAPIC mode (SDM Vol. 3A 11.12.1.2, 11.4.3)', () => {
    assert.equal(xapicMmioAvailable(LAPIC_MODE_XAPIC), true);
    assert.equal(xapicMmioAvailable(LAPIC_MODE_X2APIC), false);
    assert.equal(xapicMmioAvailable(2), false);
  });
});

describe('APICV_INHIBIT_REASON_APIC_ID_MODIFIED (kvm_recalculate_apic_map)', () => {
  test('APICv is off exactly while some xAPIC vCPU has an ID other than its vCPU ID', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ vcpu: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 5,
        }),
        (writes) => {
          const ids = [0, 1];
          for (const wr of writes) ids[wr.vcpu] = wr.id;
          const r = run({
            machine: {
              pcpus: 2,
              x2apic: false,
              apicRegisters: true,
              vcpus: [
                { pcpu: 0, running: true },
                { pcpu: 1, running: true },
              ],
            },
            steps: writes.map((wr) => ({
              do: 'guest.apicWrite',
              vcpu: wr.vcpu,
              reg: 'ID',
              value: wr.id * 0x1000000,
            })),
          });
          const inhibited = ids[0] !== 0 || ids[1] !== 1;
          for (const x of [0, 1])
            assert.equal(vapicVid(r.world.m, r.world.L.vapic[x]), !inhibited, `vcpu${x}`);
        },
      ),
      { numRuns: 30 },
    );
  });

  test('reactivation puts the highest in-service vector in SVI and the highest pending in RVI (__kvm_vcpu_update_apicv)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0x20, max: 0xfe }), { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(fc.integer({ min: 0x20, max: 0xfe }), { maxLength: 3 }),
        (isr, irr) => {
          const r = run({
            machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, if: false }] },
            steps: [
              { do: 'vm.entry', vcpu: 0, pcpu: 0 },
              { do: 'guest.apicWrite', vcpu: 0, reg: 'ID', value: '0x05000000' },
              { do: 'vm.exit', vcpu: 0, reason: 'IO_INSTRUCTION' },
              { do: 'host.setLapic', vcpu: 0, isr, irr },
              { do: 'vm.entry', vcpu: 0, pcpu: 0 },
              { do: 'guest.apicWrite', vcpu: 0, reg: 'ID', value: 0 },
            ],
          });
          assert.equal(field(r, 'vcpu0.SVI'), Math.max(...isr));
          assert.equal(field(r, 'vcpu0.RVI'), irr.length === 0 ? 0 : Math.max(...irr));
        },
      ),
      { numRuns: 30 },
    );
  });

  test('the first virtualized EOI after reactivation retires the highest in-service vector (SDM 29.1.4; vmx_apicv_updates_test)', () => {
    const r = run({
      machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
      steps: [
        { do: 'guest.apicWrite', vcpu: 0, reg: 'ID', value: '0x01000000' },
        { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector: '0x61' },
        { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector: '0xe0' },
        { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00c00' },
        { do: 'guest.eoi', vcpu: 0 },
      ],
    });
    // IF = 1 throughout: each self IPI is injected at the re-entry after its exit, 0x61 then 0xe0
    // (its class is above the PPR 0x60), and neither handler EOIs.
    assert.deepEqual(delivered(r, 0), [0x61, 0xe0]);
    assert.deepEqual(field(r, 'vcpu0.vISR'), [0x61]);
    assert.equal(field(r, 'vcpu0.SVI'), 0x61);
    assert.deepEqual(exits(r, 0).slice(1, 3), [EPT_VIOLATION, EPT_VIOLATION]);
  });

  test('an injection the guest cannot take waits for the interrupt window after STI and the next instruction (SDM 26.7.5, 6.8.3)', () => {
    const r = run({
      machine: {
        pcpus: 1,
        x2apic: false,
        apicRegisters: true,
        vcpus: [{ pcpu: 0, running: true, if: false }],
      },
      steps: [
        { do: 'guest.apicWrite', vcpu: 0, reg: 'ID', value: '0x02000000' },
        { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector: '0x41' },
        { do: 'guest.sti', vcpu: 0 },
        { do: 'guest.cli', vcpu: 0, note: 'the STI shadow is not over before this instruction' },
        { do: 'guest.sti', vcpu: 0 },
        { do: 'guest.nop', vcpu: 0 },
      ],
      checkpoints: [{ after: 3, expect: { delivered: { '0': [] } } }],
      expect: { delivered: { '0': ['0x41'] } },
    });
    assert.equal(r.ok, true);
    assert.equal(exits(r, 0).filter((c) => c === INTERRUPT_WINDOW).length, 1);
  });

  test('an xAPIC-format ICR write by a vCPU in x2APIC mode sends nothing (vmx_apicv_updates_test bad IPI)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x20, max: 0xff }), (vector) => {
        const r = run({
          machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
          steps: [
            { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00c00' },
            { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector, via: 'mmio' },
          ],
        });
        assert.deepEqual(delivered(r, 0), []);
      }),
      { numRuns: 10 },
    );
  });
});

describe('the ICR in the format of the vCPU own APIC mode (IA32_APIC_BASE.EXTD, SDM Vol. 3A 11.12.1, 11.12.9)', () => {
  const MSR_WRITE = 32;
  const APIC_WRITE = 56;
  const oneVcpu = (x2apic: boolean) => ({
    pcpus: 1,
    x2apic,
    apicRegisters: true,
    vcpus: [{ pcpu: 0, running: true }],
  });
  const toX2apic = { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00c00' };
  const toXapic = [
    { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00000' },
    { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00800' },
    { do: 'guest.apicWrite', vcpu: 0, reg: 'SVR', value: '0x1ff' },
  ];

  test('xAPIC machine, vCPU moved to x2APIC: a self IPI is WRMSR 830H, which exits without IPIv and KVM delivers once (kvm-unit-tests test_self_ipi_x2apic)', () => {
    const r = run({
      machine: oneVcpu(false),
      steps: [toX2apic, { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector: '0x62' }],
    });
    assert.deepEqual(delivered(r, 0), [0x62]);
    assert.deepEqual(exits(r, 0), [MSR_WRITE, MSR_WRITE]);
  });

  test('x2APIC machine, vCPU moved back to xAPIC: a self IPI is the MMIO write at 300H, virtualized by APIC-write emulation (SDM Vol. 3C 29.4.3.3): no exit of its own', () => {
    const r = run({
      machine: oneVcpu(true),
      steps: [...toXapic, { do: 'guest.icr', vcpu: 0, shorthand: 'self', vector: '0x62' }],
    });
    assert.deepEqual(delivered(r, 0), [0x62]);
    // The two APIC_BASE writes are WRMSR 1BH, the SVR write in xAPIC mode an APIC write at 0F0H;
    // the ICR write adds none.
    assert.deepEqual(exits(r, 0), [MSR_WRITE, MSR_WRITE, APIC_WRITE]);
  });

  test('raw ICR readback follows the mode: x2APIC keeps the 32-bit destination, xAPIC only ICR[63:56] (KVM selftest xapic_state_test.c test_icr)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (hi) => {
        // Fixed, vector 0xf1, to no vCPU (the destination is random): only the register matters.
        const lo = 0x000000f1;
        const x2 = run({
          machine: oneVcpu(false),
          steps: [toX2apic, { do: 'guest.icrRaw', vcpu: 0, lo, hi }],
        });
        assert.equal(field(x2, 'vcpu0.apic.icrHi'), hi >>> 0);
        const xa = run({
          machine: oneVcpu(true),
          steps: [...toXapic, { do: 'guest.icrRaw', vcpu: 0, lo, hi }],
        });
        assert.equal(field(xa, 'vcpu0.apic.icrHi'), (hi & 0xff000000) >>> 0);
        assert.equal(exits(xa, 0).at(-1), APIC_WRITE);
      }),
      { numRuns: 20 },
    );
  });

  test('a reserved x2APIC ICR bit (bit 13) is #GP once the vCPU is in x2APIC mode, and stored in xAPIC mode (SDM Vol. 3A 11.12.9)', () => {
    const lo = 0x000020f1;
    const x2 = run({
      machine: oneVcpu(false),
      steps: [toX2apic, { do: 'guest.icrRaw', vcpu: 0, lo, hi: 0 }],
    });
    assert.equal(field(x2, 'vcpu0.apic.gp'), 1);
    const xa = run({ machine: oneVcpu(false), steps: [{ do: 'guest.icrRaw', vcpu: 0, lo, hi: 0 }] });
    assert.equal(field(xa, 'vcpu0.apic.gp'), 0);
  });
});

describe('the xAPIC page through guest.apicRead (SDM Vol. 3A 11.4.1, 11.4.4, 11.12.1.2)', () => {
  const modes = { xapic: '0xfee00900', x2apic: '0xfee00d00', disabled: '0xfee00100' } as const;
  test('a read reaches the APIC iff it is in xAPIC mode and the address is in the page at its base', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(modes) as (keyof typeof modes)[])),
        fc.constantFrom(0xfee00000, 0xfed40000, 0xfec00000),
        fc.constantFrom(0x20, 0x30, 0x80, 0xf0),
        (mode, page, offset) => {
          const steps: Raw[] = [];
          // x2APIC and disabled are reached from xAPIC; disabled also passes through disabled.
          if (mode !== 'xapic')
            steps.push({ do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: modes[mode] });
          steps.push({ do: 'guest.apicRead', vcpu: 0, address: page + offset });
          const r = run({
            machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
            steps,
          });
          const hit = mode === 'xapic' && page === 0xfee00000;
          assert.equal(field(r, 'vcpu0.apic.readHit'), hit ? 1 : 0);
          if (hit && offset === 0x30) assert.equal(field(r, 'vcpu0.apic.read'), 0x50014);
          if (hit && offset === 0xf0) assert.equal(field(r, 'vcpu0.apic.read'), 0x1ff);
        },
      ),
      { numRuns: 30 },
    );
  });

  test('relocating an enabled APIC inhibits APICv for good (APIC_BASE_MODIFIED, __kvm_apic_set_base)', () => {
    const r = run({
      machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
      steps: [
        { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfed40900' },
        { do: 'guest.apicRead', vcpu: 0, address: '0xfed40020' },
        { do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00900' },
      ],
    });
    assert.equal(field(r, 'vcpu0.apic.read'), 0);
    assert.equal(vapicVid(r.world.m, r.world.L.vapic[0]), false);
    assert.deepEqual(exits(r, 0), [32, EPT_VIOLATION, 32]);
  });

  test('a bit of IA32_APIC_BASE at or above MAXPHYADDR raises #GP (SDM 11.4.4)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), (hi) => {
        const r = run({
          machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
          steps: [{ do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value: '0xfee00900', hi }],
        });
        assert.equal(field(r, 'vcpu0.apic.gp'), 1);
      }),
      { numRuns: 20 },
    );
  });
});

describe('CPUID.01H:EDX.APIC follows IA32_APIC_BASE.EN (SDM Vol. 3A 11.4.3; kvm_update_cpuid_runtime)', () => {
  test('after any sequence of writes the flag is the enable bit of the value in force', () => {
    const values = [0xfee00100, 0xfee00900, 0xfee00d00, 0xfee00500, 0xfee00901];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...values), { minLength: 1, maxLength: 5 }), (writes) => {
        const r = run({
          machine: { pcpus: 1, x2apic: false, apicRegisters: true, vcpus: [{ pcpu: 0, running: true }] },
          steps: writes.map((value) => ({ do: 'guest.apicWrite', vcpu: 0, reg: 'APIC_BASE', value })),
        });
        const base = field(r, 'vcpu0.apic.base') as number;
        assert.equal(field(r, 'vcpu0.apic.cpuidApic'), (base >>> 11) & 1);
      }),
      { numRuns: 30 },
    );
  });
});

describe('the APIC version register (apic.c test_lapic_existence; SDM Vol. 3A 11.4.8)', () => {
  test('its version byte is an integrated APIC version (10H-15H) and its max LVT entry leaves room for the six KVM has', () => {
    const lvr = KVM_APIC_LVR;
    assert.ok((lvr & 0xff) >= 0x10 && (lvr & 0xff) <= 0x15);
    assert.equal(((lvr >>> 16) & 0xff) + 1, 6);
  });
});

describe('the map inhibits at run time (kvm/apic-map.ts through kvm_recalculate_apic_map)', () => {
  const machine = {
    pcpus: 2,
    x2apic: false,
    apicRegisters: true,
    vcpus: [
      { pcpu: 0, running: true, apicId: 0 },
      { pcpu: 1, running: true, apicId: 1 },
    ],
  };
  const write = (id: number) => ({ do: 'guest.apicWrite', vcpu: 1, reg: 'ID', value: id << 24 });

  test('an alias sets PHYSICAL_ID_ALIASED beside APIC_ID_MODIFIED, not LOGICAL_ID_ALIASED (outside VMX_REQUIRED_APICV_INHIBITS); moving on to an unused ID keeps only APIC_ID_MODIFIED; the own ID back clears both', () => {
    const inhibits = (ids: number[]) => field(run({ machine, steps: ids.map(write) }), 'kvm.inhibits');
    assert.equal(inhibits([0]), 'PHYSICAL_ID_ALIASED|APIC_ID_MODIFIED');
    assert.equal(inhibits([0, 7]), 'APIC_ID_MODIFIED');
    assert.equal(inhibits([0, 7, 1]), '-');
  });
});
