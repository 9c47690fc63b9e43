/**
 * The guest's APIC registers as KVM keeps them, one block per vCPU on machines with
 * `apicRegisters` (kvm/guest-apic.ts has the behaviour): hw/lapic.ts's LAPIC block, then the low
 * 32 bits of IA32_APIC_BASE and a count of the #GPs the guest took.
 */
import { APIC_BASE_BSP, APIC_BASE_EN, APIC_BASE_EXTD, APIC_DEFAULT_BASE } from '../hw/apic-state.ts';
import { LAPIC, lapicInit } from '../hw/lapic.ts';
import type { ExtraBlock, FieldDesc } from './layout.ts';
import type { World } from './world.ts';

/** Words of a vCPU's guest-APIC block: hw/lapic.ts's LAPIC block, then these. */
export const GUEST_APIC = {
  /** IA32_APIC_BASE bits 31:0 (the model's MAXPHYADDR keeps the base below 4 GiB). */
  BASE: LAPIC.SIZE,
  /** #GPs injected for this vCPU's APIC accesses. */
  GP: LAPIC.SIZE + 1,
  /** The ICR as software reads it back: bits 31:0 and 63:32 (xAPIC: 300H and 310H). */
  ICR_LO: LAPIC.SIZE + 2,
  ICR_HI: LAPIC.SIZE + 3,
  /** The value the guest's last `guest.apicRead` returned, and 1 if that read reached the APIC. */
  READ: LAPIC.SIZE + 4,
  READ_HIT: LAPIC.SIZE + 5,
  /**
   * CPUID.01H:EDX[9] as the guest reads it: KVM makes it follow IA32_APIC_BASE.EN
   * (kvm_update_cpuid_runtime; SDM Vol. 3A 11.4.3: the flag reads 0 while the APIC is disabled).
   */
  CPUID_APIC: LAPIC.SIZE + 6,
  SIZE: LAPIC.SIZE + 7,
} as const;

/** The model's MAXPHYADDR for IA32_APIC_BASE: the base is a 32-bit number in scenarios. */
export const GUEST_MAXPHYADDR = 32;

export function guestApicBlockName(x: number): string {
  return `guestApic.vcpu${x}`;
}

const FIELDS: readonly FieldDesc[] = [
  { name: 'apic.mode', offset: LAPIC.MODE, kind: 'enum', names: ['xapic', 'x2apic', 'disabled'] },
  { name: 'apic.base', offset: GUEST_APIC.BASE, kind: 'u32' },
  { name: 'apic.svr', offset: LAPIC.SVR, kind: 'u32' },
  { name: 'apic.id', offset: LAPIC.ID, kind: 'u32' },
  { name: 'apic.gp', offset: GUEST_APIC.GP, kind: 'u32' },
  { name: 'apic.icrLo', offset: GUEST_APIC.ICR_LO, kind: 'u32' },
  { name: 'apic.icrHi', offset: GUEST_APIC.ICR_HI, kind: 'u32' },
  { name: 'apic.read', offset: GUEST_APIC.READ, kind: 'u32' },
  { name: 'apic.readHit', offset: GUEST_APIC.READ_HIT, kind: 'u32' },
  { name: 'apic.cpuidApic', offset: GUEST_APIC.CPUID_APIC, kind: 'u32' },
];

export function guestApicExtras(n: number): ExtraBlock[] {
  return Array.from({ length: n }, (_, x) => ({
    name: guestApicBlockName(x),
    prefix: `vcpu${x}`,
    size: GUEST_APIC.SIZE,
    fields: FIELDS,
  }));
}

/** Start state: enabled in the machine's mode, software-enabled, vCPU 0 the BSP. */
export function guestApicInit(w: World): void {
  if (w.L.extra.get(guestApicBlockName(0)) === undefined) return;
  w.L.guestApic = w.machine.vcpus.map((_, x) => w.L.extra.get(guestApicBlockName(x))!);
  w.machine.vcpus.forEach((c, x) => {
    const o = w.L.extra.get(guestApicBlockName(x));
    if (o === undefined) return;
    lapicInit(w.m, o, c.apicId, w.machine.x2apic);
    const base =
      APIC_DEFAULT_BASE |
      APIC_BASE_EN |
      (w.machine.x2apic ? APIC_BASE_EXTD : 0n) |
      (x === 0 ? APIC_BASE_BSP : 0n);
    w.m[o + GUEST_APIC.BASE] = Number(base);
    w.m[o + GUEST_APIC.CPUID_APIC] = 1;
  });
}
