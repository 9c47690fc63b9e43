/**
 * KVM's optimized APIC map and its APICv inhibits (kvm/apic-map.ts). Expectations from the kernel
 * (arch/x86/kvm/lapic.c kvm_recalculate_phys_map, kvm_recalculate_logical_map,
 * kvm_recalculate_apic_map; VMX_REQUIRED_APICV_INHIBITS in vmx/main.c and
 * AVIC_REQUIRED_APICV_INHIBITS in svm/svm.h), the SDM (Vol. 3A 11.6.2.1, 11.6.2.2: every APIC whose
 * ID or logical ID matches takes the message, so aliases are legal and the map must step aside) and
 * kvm-unit-tests apic.c test_aliased_xapic_physical_ipi (two vCPUs with one xAPIC ID both receive,
 * which needs the slow path: the map and APICv are off while the alias lasts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  AVIC_MAP_INHIBITS,
  apicMapInhibits,
  INHIBIT_APIC_BASE_MODIFIED,
  INHIBIT_APIC_ID_MODIFIED,
  INHIBIT_LOGICAL_ID_ALIASED,
  INHIBIT_PHYSICAL_ID_ALIASED,
  type MapApic,
  VMX_MAP_INHIBITS,
} from '../../../src/model/kvm/apic-map.ts';

const slots = new Int32Array(320);

function apic(vcpuId: number, over: Partial<MapApic> = {}): MapApic {
  return {
    present: true,
    x2apic: false,
    id: vcpuId,
    vcpuId,
    swEnabled: true,
    ldr: 0,
    cluster: false,
    ...over,
  };
}

describe('kvm_recalculate_apic_map inhibits', () => {
  test('IDs equal to the vCPU IDs, no logical IDs: no inhibit', () => {
    assert.equal(apicMapInhibits([apic(0), apic(1), apic(2)], slots), 0);
  });

  test('test_aliased_xapic_physical_ipi: vCPU 1 writes xAPIC ID 0, aliased with vCPU 0: PHYSICAL_ID_ALIASED, LOGICAL_ID_ALIASED (the map is gone) and APIC_ID_MODIFIED', () => {
    assert.equal(
      apicMapInhibits([apic(0), apic(1, { id: 0 })], slots),
      INHIBIT_PHYSICAL_ID_ALIASED | INHIBIT_LOGICAL_ID_ALIASED | INHIBIT_APIC_ID_MODIFIED,
    );
  });

  test('an ID changed to an unused value is modified, not aliased', () => {
    assert.equal(apicMapInhibits([apic(0), apic(1, { id: 5 })], slots), INHIBIT_APIC_ID_MODIFIED);
  });

  test('an xAPIC ID equal to another vCPU x2APIC ID aliases (both in slot 1)', () => {
    assert.equal(
      apicMapInhibits([apic(0, { id: 1 }), apic(1, { x2apic: true })], slots) & INHIBIT_PHYSICAL_ID_ALIASED,
      INHIBIT_PHYSICAL_ID_ALIASED,
    );
  });

  test('a globally disabled APIC is not in the map (kvm_apic_present): no alias with it', () => {
    assert.equal(apicMapInhibits([apic(0), apic(1, { id: 0, present: false })], slots), 0);
  });

  test('xAPIC flat: one bit per logical ID, distinct bits: no inhibit; a shared bit or two bits: LOGICAL_ID_ALIASED', () => {
    assert.equal(apicMapInhibits([apic(0, { ldr: 0x01 }), apic(1, { ldr: 0x02 })], slots), 0);
    assert.equal(
      apicMapInhibits([apic(0, { ldr: 0x01 }), apic(1, { ldr: 0x01 })], slots),
      INHIBIT_LOGICAL_ID_ALIASED,
    );
    assert.equal(apicMapInhibits([apic(0, { ldr: 0x03 })], slots), INHIBIT_LOGICAL_ID_ALIASED);
  });

  test('xAPIC cluster: the same bit in different clusters is fine; the same in one cluster is aliased', () => {
    const c = { cluster: true };
    assert.equal(apicMapInhibits([apic(0, { ...c, ldr: 0x11 }), apic(1, { ...c, ldr: 0x21 })], slots), 0);
    assert.equal(
      apicMapInhibits([apic(0, { ...c, ldr: 0x11 }), apic(1, { ...c, ldr: 0x11 })], slots),
      INHIBIT_LOGICAL_ID_ALIASED,
    );
  });

  test('software-enabled APICs in different logical modes disable the logical map; a software-disabled or LDR-0 one does not count', () => {
    assert.equal(
      apicMapInhibits([apic(0, { ldr: 0x01 }), apic(1, { ldr: 0x12, cluster: true })], slots),
      INHIBIT_LOGICAL_ID_ALIASED,
    );
    assert.equal(
      apicMapInhibits(
        [apic(0, { ldr: 0x01 }), apic(1, { ldr: 0x12, cluster: true, swEnabled: false })],
        slots,
      ),
      0,
    );
    assert.equal(apicMapInhibits([apic(0, { ldr: 0x01 }), apic(1, { ldr: 0, cluster: true })], slots), 0);
    assert.equal(
      apicMapInhibits([apic(0, { ldr: 0x01 }), apic(1, { x2apic: true })], slots),
      INHIBIT_LOGICAL_ID_ALIASED,
    );
  });

  test('the vendors: VMX honours PHYSICAL_ID_ALIASED and APIC_ID_MODIFIED, not LOGICAL_ID_ALIASED; AVIC all three', () => {
    assert.equal(VMX_MAP_INHIBITS & INHIBIT_LOGICAL_ID_ALIASED, 0);
    assert.equal(VMX_MAP_INHIBITS, INHIBIT_PHYSICAL_ID_ALIASED | INHIBIT_APIC_ID_MODIFIED);
    assert.equal(AVIC_MAP_INHIBITS, VMX_MAP_INHIBITS | INHIBIT_LOGICAL_ID_ALIASED);
    // APIC_BASE_MODIFIED is required by both, but is not the map's.
    assert.equal(AVIC_MAP_INHIBITS & INHIBIT_APIC_BASE_MODIFIED, 0);
  });

  test('property: two present xAPIC APICs with one ID always inhibit physically; distinct unmodified IDs never do', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 2, maxLength: 8 }),
        fc.nat(),
        (ids, k) => {
          const apics = ids.map((id) => apic(id));
          assert.equal(apicMapInhibits(apics, slots), 0);
          const i = k % ids.length;
          const j = (i + 1) % ids.length;
          apics[j] = apic(ids[j], { id: ids[i] });
          const r = apicMapInhibits(apics, slots);
          assert.equal(r & INHIBIT_PHYSICAL_ID_ALIASED, INHIBIT_PHYSICAL_ID_ALIASED);
          assert.equal(r & INHIBIT_APIC_ID_MODIFIED, INHIBIT_APIC_ID_MODIFIED);
        },
      ),
    );
  });
});
