/**
 * Virtualization of x2APIC MSR accesses (RDMSR/WRMSR with ECX in 800H-8FFH) in VMX non-root
 * operation, and of the guest's ICR writes that reach APIC-write emulation. Source: Intel SDM Vol.
 * 3C, chapter "APIC Virtualization and Virtual Interrupts" (29 in the 2016 edition, 30/32 in later
 * ones): x.5 "Virtualizing MSR-Based APIC Accesses", x.4.3.3 "APIC-Write Emulation", x.1.5
 * self-IPI virtualization and the newer x.1.6 "IPI Virtualization"; the VM-execution controls of
 * SDM 24.6.2 (secondary bit 4 virtualize x2APIC mode, bit 8 APIC-register virtualization, bit 9
 * virtual-interrupt delivery; tertiary bit 4 IPI virtualization).
 *
 * The order is the hardware's: the MSR bitmap is consulted first (a set bit is an MSR-read or
 * MSR-write VM exit, reasons 31/32, fault-like, nothing written); only an access the bitmap lets
 * through is virtualized or "operates normally", i.e. reaches the physical x2APIC. KVM never lets a
 * guest reach the physical x2APIC: its bitmap (`kvmX2apicMsrIntercepted`, mirroring
 * vmx_update_msr_bitmap_x2apic) intercepts every MSR the controls do not virtualize.
 *
 * The consequence the peer suites check (kvm-unit-tests virt_x2apic_mode_test, xapic_state_test):
 * with APICv but without IPI virtualization only the TPR (808H), EOI (80BH) and SELF IPI (83FH)
 * writes are virtualized; a WRMSR to the ICR (830H) exits to KVM even when it names the sender
 * itself (shorthand self), and KVM emulates it (kvm_x2apic_icr_write -> kvm_apic_send_ipi).
 *
 * Outcomes are string literals (no allocation); `x2apicMsrExitQualification` gives the exit
 * qualification of an APIC-write exit.
 */

import { X2APIC_ICR_RESERVED_LO } from './icr.ts';

/** The VM-execution controls that decide how an APIC access is virtualized. */
export interface ApicVirtControls {
  /** Secondary processor-based control bit 4. */
  readonly virtualizeX2apicMode: boolean;
  /** Secondary processor-based control bit 8. */
  readonly apicRegisterVirtualization: boolean;
  /** Secondary processor-based control bit 9 (VID). */
  readonly virtualInterruptDelivery: boolean;
  /** Tertiary processor-based control bit 4 (IPIv). */
  readonly ipiVirtualization: boolean;
}

export const X2APIC_MSR = {
  ID: 0x802,
  VERSION: 0x803,
  TPR: 0x808,
  PPR: 0x80a,
  EOI: 0x80b,
  LDR: 0x80d,
  SVR: 0x80f,
  ISR0: 0x810,
  TMR0: 0x818,
  IRR0: 0x820,
  ESR: 0x828,
  LVT_CMCI: 0x82f,
  ICR: 0x830,
  LVT_TIMER: 0x832,
  LVT_ERROR: 0x837,
  TIMER_INITIAL_COUNT: 0x838,
  TIMER_CURRENT_COUNT: 0x839,
  TIMER_DIVIDE: 0x83e,
  SELF_IPI: 0x83f,
} as const;

/**
 * What happens to one RDMSR/WRMSR of an x2APIC MSR in VMX non-root operation:
 * - `msr-read-exit` / `msr-write-exit`: the MSR bitmap intercepts it (exit reasons 31 / 32);
 * - `gp`: the access is virtualized and the value is illegal: #GP, no exit, nothing written;
 * - `read-virtual-apic`: RDMSR returns the register from the virtual-APIC page;
 * - `tpr-virtualization`, `eoi-virtualization`, `self-ipi-virtualization`, `ipi-virtualization`:
 *   the write is virtualized and that operation follows (vapic.ts, ipiv.ts);
 * - `apic-write-exit`: the write lands in the virtual-APIC page, then a trap-like APIC-write VM
 *   exit (reason 56) with the page offset as qualification;
 * - `physical`: the access "operates normally" and reaches the real x2APIC.
 */
export type X2apicMsrOutcome =
  | 'msr-read-exit'
  | 'msr-write-exit'
  | 'gp'
  | 'read-virtual-apic'
  | 'tpr-virtualization'
  | 'eoi-virtualization'
  | 'self-ipi-virtualization'
  | 'ipi-virtualization'
  | 'apic-write-exit'
  | 'physical';

/** The xAPIC page offset an x2APIC MSR maps to (MSR 800H + offset >> 4). */
export function x2apicMsrOffset(msr: number): number {
  return ((msr - 0x800) << 4) >>> 0;
}

/**
 * The x2APIC MSRs KVM lets a guest read under APICv (kvm_lapic_readable_reg_mask): ID, version,
 * TPR, PPR, LDR, SVR, ISR, TMR, IRR, ESR, LVT CMCI, ICR (one 64-bit value), the LVTs 832H-837H,
 * the timer's initial count and divide configuration. The current count (839H) is readable too,
 * but KVM intercepts it anyway because it computes it from its hrtimer. Not the write-only EOI and
 * SELF IPI, nor unallocated MSRs: the hardware would read those from the virtual-APIC page without
 * a fault (SDM x.5), so KVM intercepts them to raise the #GP itself (commit "KVM: VMX: Intercept
 * reads to invalid and write-only x2APIC registers").
 */
export function kvmX2apicReadableMsr(msr: number): boolean {
  if (msr === X2APIC_MSR.ID || msr === X2APIC_MSR.VERSION || msr === X2APIC_MSR.TPR) return true;
  if (msr === X2APIC_MSR.PPR || msr === X2APIC_MSR.LDR || msr === X2APIC_MSR.SVR) return true;
  if (msr >= X2APIC_MSR.ISR0 && msr <= X2APIC_MSR.ESR) return true; // ISR, TMR, IRR, ESR
  if (msr === X2APIC_MSR.LVT_CMCI || msr === X2APIC_MSR.ICR) return true;
  if (msr >= X2APIC_MSR.LVT_TIMER && msr <= X2APIC_MSR.TIMER_CURRENT_COUNT) return true;
  return msr === X2APIC_MSR.TIMER_DIVIDE;
}

/**
 * What APIC-write emulation does with a value written to the ICR low word (offset 300H, or the
 * x2APIC ICR under IPI virtualization) (SDM x.4.3.3 and x.1.6):
 * - reserved bits 31:20, 17:16, 13 and the busy bit 12 clear, shorthand self (01b), edge, fixed
 *   and a vector whose bits 7:4 are not 0: self-IPI virtualization (needs VID);
 * - with IPI virtualization: shorthand none, physical, edge, fixed: IPI virtualization;
 * - anything else: an APIC-write VM exit with qualification 300H.
 */
export function icrWriteEmulation(ctl: ApicVirtControls, lo: number): X2apicMsrOutcome {
  const l = lo >>> 0;
  const clean = (l & (X2APIC_ICR_RESERVED_LO | 0x1000)) === 0;
  const fixedEdge = ((l >>> 8) & 7) === 0 && (l & 0x8000) === 0;
  const shorthand = (l >>> 18) & 3;
  if (ctl.virtualInterruptDelivery && clean && fixedEdge && shorthand === 1 && (l & 0xf0) !== 0)
    return 'self-ipi-virtualization';
  if (ctl.ipiVirtualization && clean && fixedEdge && shorthand === 0 && (l & 0x800) === 0)
    return 'ipi-virtualization';
  return 'apic-write-exit';
}

/**
 * RDMSR (`write` false) or WRMSR (`write` true, value `lo` = EAX, `hi` = EDX) of x2APIC MSR `msr`
 * in VMX non-root operation, given the controls and whether the MSR bitmap intercepts the access.
 * With "virtualize x2APIC mode" = 0 nothing is virtualized (SDM x.5): the access exits or reaches
 * the physical APIC.
 *
 * WRMSR rules with virtualize x2APIC mode = 1 (SDM x.5):
 * - 808H (TPR): bits 63:8 must be 0 (else #GP); TPR virtualization. Independent of VID.
 * - 80BH (EOI), with VID: the value must be 0 (else #GP); EOI virtualization.
 * - 83FH (SELF IPI), with VID: bits 63:8 must be 0 (else #GP); the vector goes through APIC-write
 *   emulation at 3F0H: self-IPI virtualization, or an APIC-write exit when bits 7:4 are 0.
 * - 830H (ICR), with IPI virtualization: a reserved bit (31:20, 17:16, 13) is #GP; otherwise the
 *   value is written to the virtual ICR and goes through `icrWriteEmulation`.
 * - every other MSR, and these without their control: operates normally (physical).
 * RDMSR: with APIC-register virtualization every MSR of 800H-8FFH reads 8 bytes of the
 * virtual-APIC page at offset (ECX & FFH) << 4, whatever the register (even one that does not
 * exist or is write-only, and even if the local APIC is not in x2APIC mode); without it only 808H
 * does (the VTPR), and the others operate normally.
 */
export function x2apicMsrAccess(
  ctl: ApicVirtControls,
  bitmapIntercepts: boolean,
  msr: number,
  write: boolean,
  lo = 0,
  hi = 0,
): X2apicMsrOutcome {
  if (bitmapIntercepts) return write ? 'msr-write-exit' : 'msr-read-exit';
  if (!ctl.virtualizeX2apicMode || msr < 0x800 || msr > 0x8ff) return 'physical';
  const l = lo >>> 0;
  const h = hi >>> 0;
  if (!write) {
    if (ctl.apicRegisterVirtualization) return 'read-virtual-apic';
    return msr === X2APIC_MSR.TPR ? 'read-virtual-apic' : 'physical';
  }
  switch (msr) {
    case X2APIC_MSR.TPR:
      return h !== 0 || l > 0xff ? 'gp' : 'tpr-virtualization';
    case X2APIC_MSR.EOI:
      if (!ctl.virtualInterruptDelivery) return 'physical';
      return h !== 0 || l !== 0 ? 'gp' : 'eoi-virtualization';
    case X2APIC_MSR.SELF_IPI:
      if (!ctl.virtualInterruptDelivery) return 'physical';
      if (h !== 0 || l > 0xff) return 'gp';
      return (l & 0xf0) !== 0 ? 'self-ipi-virtualization' : 'apic-write-exit';
    case X2APIC_MSR.ICR:
      if (!ctl.ipiVirtualization) return 'physical';
      if ((l & X2APIC_ICR_RESERVED_LO) !== 0) return 'gp';
      return icrWriteEmulation(ctl, l);
    default:
      return 'physical';
  }
}

/** The exit qualification of an `apic-write-exit` from x2APIC MSR `msr`: its xAPIC page offset (300H for the ICR, 3F0H for SELF IPI). */
export function x2apicMsrExitQualification(msr: number): number {
  return x2apicMsrOffset(msr);
}

/** Which acceleration KVM has enabled for a vCPU in x2APIC mode. */
export interface KvmX2apicBitmapMode {
  /** The vCPU's APIC is in x2APIC mode (otherwise every 800H-8FFH access is intercepted). */
  readonly x2apic: boolean;
  /** APICv active: APIC-register virtualization and VID on (kvm_vcpu_apicv_active). */
  readonly apicv: boolean;
  /** enable_ipiv and APICv active. */
  readonly ipiv: boolean;
}

/**
 * KVM's MSR bitmap for the x2APIC range (vmx_update_msr_bitmap_x2apic, and before it the
 * enable_apicv loop of vmx.c's hardware setup): in x2APIC mode the TPR is passed through for reads
 * and writes; with APICv the reads of the readable registers are passed through
 * (`kvmX2apicReadableMsr`) except the timer's current count 839H, which KVM computes,
 * and the EOI and SELF IPI writes are passed through; with
 * IPIv the ICR is passed through both ways. Everything else is intercepted.
 */
export function kvmX2apicMsrIntercepted(mode: KvmX2apicBitmapMode, msr: number, write: boolean): boolean {
  if (!mode.x2apic) return true;
  if (msr === X2APIC_MSR.TPR) return false;
  if (!mode.apicv) return true;
  if (mode.ipiv && msr === X2APIC_MSR.ICR) return false;
  if (!write) return msr === X2APIC_MSR.TIMER_CURRENT_COUNT || !kvmX2apicReadableMsr(msr);
  return msr !== X2APIC_MSR.EOI && msr !== X2APIC_MSR.SELF_IPI;
}

/** The controls KVM sets for a vCPU in x2APIC mode (vmx_refresh_apicv_exec_ctrl, vmx_set_virtual_apic_mode). */
export function kvmX2apicControls(mode: KvmX2apicBitmapMode): ApicVirtControls {
  return {
    virtualizeX2apicMode: mode.x2apic,
    apicRegisterVirtualization: mode.x2apic && mode.apicv,
    virtualInterruptDelivery: mode.apicv,
    ipiVirtualization: mode.apicv && mode.ipiv,
  };
}

/** The outcome of a guest x2APIC MSR access under KVM: its controls and its bitmap together. */
export function kvmX2apicMsrAccess(
  mode: KvmX2apicBitmapMode,
  msr: number,
  write: boolean,
  lo = 0,
  hi = 0,
): X2apicMsrOutcome {
  return x2apicMsrAccess(
    kvmX2apicControls(mode),
    kvmX2apicMsrIntercepted(mode, msr, write),
    msr,
    write,
    lo,
    hi,
  );
}
