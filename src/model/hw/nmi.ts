/**
 * Non-maskable interrupts: arrival, the single latch, delivery, blocking until IRET, and their VMX
 * counterparts (NMI exiting, virtual NMIs, NMI-window exiting). The state is the core word of
 * interruptibility.ts. Sources: SDM Vol. 3A 6.7.1 "Handling Multiple NMIs" (while an NMI handler
 * runs further NMIs are blocked until the next IRET; one more NMI can be held pending), 11.6.1 /
 * 11.5.1 (NMI delivery mode of the ICR and LVT: vector ignored, no IRR/ISR, no EOI); I/O APIC
 * redirection entries with delivery mode 100b (82093AA datasheet, "Delivery Mode"); SDM Vol. 3C
 * 24.6.1 (pin-based controls: bit 3 NMI exiting, bit 5 virtual NMIs), 24.6.2 (primary control bit
 * 22 NMI-window exiting), 25.3 (IRET in VMX non-root with virtual NMIs unblocks virtual NMIs),
 * 26.7.6 "NMI-Window Exiting" (exit reason 8); KVM x86.c process_nmi for how many NMIs KVM keeps.
 */
import {
  CORE_BLOCK_MOV_SS,
  CORE_BLOCK_NMI,
  CORE_BLOCK_STI,
  CORE_HALTED,
  CORE_IF,
  CORE_NMI_LATCHED,
  nmiAllowed,
} from './interruptibility.ts';

/** Delivery mode NMI in the ICR, an LVT entry or an I/O APIC redirection entry (bits 10:8 = 100b). */
export const DELIVERY_MODE_NMI = 4;

/** The vector an NMI is delivered through, whatever vector field the message carried. */
export const NMI_VECTOR = 2;

/** VM-exit reasons of this file (SDM Vol. 3D appendix C). */
export const EXIT_REASON_EXCEPTION_OR_NMI = 0;
export const EXIT_REASON_NMI_WINDOW = 8;

/**
 * An NMI message reaches the core (ICR or I/O APIC delivery mode NMI, LVT LINT1, ...). The vector
 * field is ignored, and the message does not touch IRR, ISR or TMR. It sets the latch; a second
 * NMI arriving while one is already latched collapses into it (the latch is one bit).
 */
export function nmiArrive(s: number): number {
  return s | CORE_NMI_LATCHED;
}

/** Whether an NMI waits in the latch. */
export function nmiLatched(s: number): boolean {
  return (s & CORE_NMI_LATCHED) !== 0;
}

/** Whether NMIs are blocked because a handler has not executed IRET yet. */
export function nmiBlocked(s: number): boolean {
  return (s & CORE_BLOCK_NMI) !== 0;
}

/** A latched NMI is taken at this boundary (outside VMX non-root, or with NMI exiting 0). */
export function nmiDeliverable(s: number, stiBlocksNmi = true): boolean {
  return nmiLatched(s) && nmiAllowed(s, stiBlocksNmi);
}

/**
 * Delivery of the latched NMI through vector 2: the latch empties, NMI blocking starts (until
 * IRET), the core leaves HLT, and the interrupt gate clears IF. IF does not block NMIs.
 */
export function nmiDeliver(s: number): number {
  return (
    (s & ~(CORE_NMI_LATCHED | CORE_HALTED | CORE_IF | CORE_BLOCK_STI | CORE_BLOCK_MOV_SS)) | CORE_BLOCK_NMI
  );
}

/**
 * KVM's software count of pending NMIs (process_nmi): it keeps at most two while no NMI is in
 * progress (one to inject and one "latched", because KVM reacts to an NMI later than hardware and
 * two NMIs sent back to back must not collapse, which kvm-unit-tests apic.c test_multiple_nmi
 * checks) and at most one while NMIs are blocked (test_pending_nmi: ten NMIs sent from inside the
 * handler give exactly one more). Returns the new count after `arrived` NMIs.
 */
export function kvmProcessNmi(pending: number, arrived: number, nmiInProgress: boolean): number {
  const limit = nmiInProgress ? 1 : 2;
  return Math.min(pending + arrived, limit);
}

/** The pin-based and primary controls that change NMI handling in VMX non-root operation. */
export interface NmiVmxControls {
  /** Pin-based bit 3: an NMI causes a VM exit (reason 0) instead of being delivered to the guest. */
  readonly nmiExiting: boolean;
  /** Pin-based bit 5: the VMM injects virtual NMIs and the CPU tracks their blocking (needs NMI exiting). */
  readonly virtualNmis: boolean;
  /** Primary bit 22: exit as soon as a virtual NMI could be delivered (needs virtual NMIs). */
  readonly nmiWindowExiting: boolean;
}

/**
 * What a physical NMI does to a core in VMX non-root operation: with NMI exiting it is a VM exit
 * with reason 0 (exception or NMI, vector 2), taken at the next boundary whatever the guest's
 * blocking (guest NMI blocking does not hold back physical NMIs then); without NMI exiting it is
 * delivered through the guest IDT like on bare metal.
 */
export function nmiInNonRoot(ctl: NmiVmxControls): 'vm-exit' | 'guest' {
  return ctl.nmiExiting ? 'vm-exit' : 'guest';
}

/**
 * NMI-window exiting (SDM 26.7.6): with virtual NMIs and NMI-window exiting, a VM exit (reason 8)
 * happens before an instruction when there is no virtual-NMI blocking and no MOV-SS blocking (and
 * no STI blocking where STI blocks NMIs, as `stiBlocksNmi` says, KVM's choice by default). It can
 * happen right after VM entry, and it takes the core out of HLT.
 */
export function nmiWindowExit(ctl: NmiVmxControls, s: number, stiBlocksNmi = true): boolean {
  if (!ctl.virtualNmis || !ctl.nmiWindowExiting) return false;
  if ((s & (CORE_BLOCK_NMI | CORE_BLOCK_MOV_SS)) !== 0) return false;
  return !(stiBlocksNmi && (s & CORE_BLOCK_STI) !== 0);
}

/**
 * Injection of a virtual NMI at VM entry (VM-entry interruption type NMI): delivered through guest
 * vector 2 and, with virtual NMIs, sets the virtual-NMI blocking bit, which the guest's IRET
 * clears (SDM 25.3; coreExecute 'iret'). The caller must not inject while blocking forbids it
 * (KVM's vmx_nmi_allowed; VM entry checks of SDM 26.3.1.5 reject an NMI injected with MOV-SS
 * blocking, or with virtual-NMI blocking set).
 */
export function injectVirtualNmi(s: number): number {
  return (s & ~(CORE_HALTED | CORE_IF | CORE_BLOCK_STI | CORE_BLOCK_MOV_SS)) | CORE_BLOCK_NMI;
}
