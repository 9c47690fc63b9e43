/**
 * Virtualization of guest accesses to the xAPIC MMIO page (the APIC-access page) in VMX non-root
 * operation: which reads return virtual-APIC page data, which writes are virtualized and what
 * APIC-write emulation then does, and which accesses cause an APIC-access VM exit (reason 44,
 * fault-like) or an APIC-write VM exit (reason 56, trap-like, qualification = page offset).
 * Source: Intel SDM Vol. 3C chapter "APIC Virtualization and Virtual Interrupts": x.4.2
 * "Virtualizing Reads from the APIC-Access Page", x.4.3.1 "Determining Whether a Write Access is
 * Virtualized", x.4.3.2 "APIC-Write Emulation" (310H: bytes 2:0 of VICR_HI cleared, no exit),
 * x.4.3.3 "APIC-Write VM Exits". The peer check is kvm-unit-tests vmx_tests.c
 * apic_reg_virt_test. Only linear data accesses that are 32 bits or narrower are modelled; an
 * access with "virtualize APIC accesses" on and "use TPR shadow" off, or a wider one, exits.
 */
import { type ApicVirtControls, icrWriteEmulation } from './x2apic-msr.ts';

/** What one access to the APIC-access page does. */
export type ApicAccessOutcome =
  | 'apic-access-exit'
  | 'read-virtual-apic'
  | 'tpr-virtualization'
  | 'eoi-virtualization'
  | 'self-ipi-virtualization'
  | 'ipi-virtualization'
  | 'write-virtual-apic'
  | 'apic-write-exit';

/** Registers whose reads are virtualized with APIC-register virtualization (SDM x.4.2), as page offsets. */
const READABLE = new Set([
  0x020, 0x030, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360,
  0x370, 0x380, 0x3e0,
]);
/** Registers whose writes are virtualized with APIC-register virtualization (SDM x.4.3.1). */
const WRITABLE = new Set([
  0x020, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370,
  0x380, 0x3e0,
]);

/** The register an access falls in when it lies entirely within that register's low 4 bytes, or -1. */
function registerOf(offset: number, size: number): number {
  const reg = offset & 0xff0;
  if (size < 1 || size > 4 || (offset & 0xf) + size > 4) return -1;
  return reg;
}

/** ISR, TMR, IRR: 100H-270H, every 16 bytes. */
function isVectorRegister(reg: number): boolean {
  return reg >= 0x100 && reg <= 0x270;
}

export interface ApicAccessControls extends ApicVirtControls {
  /** Primary processor-based control bit 21. */
  readonly useTprShadow: boolean;
}

/**
 * A guest access of `size` bytes at page `offset` of the APIC-access page; `value` is the 32-bit
 * value written (for the ICR low word, which APIC-write emulation looks at).
 * Reads: without APIC-register virtualization only the TPR (080H) is virtualized; with it the
 * registers of SDM x.4.2 (ID, version, TPR, EOI, LDR, DFR, SVR, ISR, TMR, IRR, ESR, ICR, LVTs,
 * initial count, divide configuration); not PPR, the current count, or anything else.
 * Writes: without APIC-register virtualization the TPR, plus EOI and ICR low with VID; with it
 * the registers of SDM x.4.3.1 (no version, PPR, ISR/TMR/IRR or current count). A virtualized
 * write then goes through APIC-write emulation: 080H TPR virtualization; 0B0H EOI virtualization
 * with VID, else an APIC-write exit; 300H `icrWriteEmulation`; 310H only stores VICR_HI; every
 * other offset an APIC-write exit with the offset as qualification.
 */
export function apicAccess(
  ctl: ApicAccessControls,
  offset: number,
  size: number,
  write: boolean,
  value = 0,
): ApicAccessOutcome {
  if (!ctl.useTprShadow) return 'apic-access-exit';
  const reg = registerOf(offset, size);
  if (reg < 0) return 'apic-access-exit';
  const arv = ctl.apicRegisterVirtualization;
  const vid = ctl.virtualInterruptDelivery;
  if (!write) {
    if (reg === 0x080) return 'read-virtual-apic';
    return arv && (READABLE.has(reg) || isVectorRegister(reg)) ? 'read-virtual-apic' : 'apic-access-exit';
  }
  const virtualized = arv ? WRITABLE.has(reg) : reg === 0x080 || (vid && (reg === 0x0b0 || reg === 0x300));
  if (!virtualized) return 'apic-access-exit';
  switch (reg) {
    case 0x080:
      return 'tpr-virtualization';
    case 0x0b0:
      return vid ? 'eoi-virtualization' : 'apic-write-exit';
    case 0x300: {
      const r = icrWriteEmulation(ctl, value);
      return r === 'self-ipi-virtualization' || r === 'ipi-virtualization' ? r : 'apic-write-exit';
    }
    case 0x310:
      return 'write-virtual-apic';
    default:
      return 'apic-write-exit';
  }
}
