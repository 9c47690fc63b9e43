/**
 * APIC virtualization with virtual-interrupt delivery (VID): the virtual-APIC page (vIRR, vISR,
 * VTPR, VPPR), the guest-interrupt status (RVI, SVI), the EOI-exit bitmap, and the operations
 * that the CPU performs on them in VMX non-root operation, plus posted-interrupt processing.
 * Source: Intel SDM Vol. 3C chapter "APIC Virtualization and Virtual Interrupts" (29 in the 2016
 * edition, 32 in recent ones): x.1.2 TPR virtualization, x.1.3 PPR virtualization, x.1.4 EOI
 * virtualization, x.1.5 self-IPI virtualization, x.2.1 evaluation of pending virtual interrupts,
 * x.2.2 virtual-interrupt delivery, x.6 posted-interrupt processing; SDM "VM Entries" 26.3.2.5
 * for RVI/SVI at entry. Bochs cpu/vapic.cc implements the same steps.
 *
 * Only the listed triggers evaluate pending virtual interrupts (VM entry, TPR/EOI/self-IPI
 * virtualization, posted-interrupt processing): changing RVI or vIRR any other way (a VMWRITE,
 * software editing vIRR) has no effect until one of them runs. The model keeps that: nothing
 * here re-evaluates implicitly.
 */
import { prioClass, processorPriority, regClear, regHighest, regSet, regTest } from './bits.ts';
import { lapicAck, lapicEoi } from './lapic.ts';
import { PID, piClearOn } from './pid.ts';

export const VAPIC = {
  VIRR: 0,
  VISR: 8,
  /** Trigger mode as KVM tracks it (the virtual-APIC page's TMR). */
  VTMR: 16,
  /** EOI-exit bitmap 0-3 as 256 bits: an EOI of a vector whose bit is set exits (reason 45). */
  EOI_EXIT: 24,
  VTPR: 32,
  VPPR: 33,
  /** Guest-interrupt status, low byte: requesting virtual interrupt. */
  RVI: 34,
  /** Guest-interrupt status, high byte: servicing virtual interrupt. */
  SVI: 35,
  /** VAPIC_F_* flags. */
  FLAGS: 36,
  /** TPR threshold (bits 3:0), used only when VID = 0. */
  TPR_THRESHOLD: 37,
  SIZE: 40,
} as const;

/** Virtual-interrupt delivery enabled (secondary control bit 9). */
export const VAPIC_F_VID = 1 << 0;
/** Interrupt-window exiting (primary control bit 2): also suppresses virtual-interrupt recognition. */
export const VAPIC_F_IRQ_WINDOW_EXITING = 1 << 1;
/** A pending virtual interrupt has been recognized (SDM x.2.1) and not yet delivered. */
export const VAPIC_F_RECOGNIZED = 1 << 2;

export function vapicInit(m: Uint32Array, o: number, vid: boolean): void {
  m.fill(0, o, o + VAPIC.SIZE);
  m[o + VAPIC.FLAGS] = vid ? VAPIC_F_VID : 0;
}

/** Whether the VMCS has virtual-interrupt delivery on (secondary control bit 9). */
export function vapicVid(m: Uint32Array, o: number): boolean {
  return (m[o + VAPIC.FLAGS] & VAPIC_F_VID) !== 0;
}

/**
 * Software sets or clears the virtual-interrupt delivery control (a VMWRITE, e.g. KVM's
 * vmx_refresh_apicv_exec_ctrl when APICv is inhibited or reactivated). With VID 0 the CPU neither
 * evaluates nor delivers virtual interrupts (SDM Vol. 3C 29.2: both exist only with VID), so a
 * virtual interrupt it had recognized is no longer pending as one. RVI, SVI and the page are left
 * as they are: software keeps them.
 */
export function vapicSetVid(m: Uint32Array, o: number, on: boolean): void {
  m[o + VAPIC.FLAGS] = on
    ? m[o + VAPIC.FLAGS] | VAPIC_F_VID
    : m[o + VAPIC.FLAGS] & ~(VAPIC_F_VID | VAPIC_F_RECOGNIZED);
}

/** Software sets or clears interrupt-window exiting (primary processor-based control bit 2). */
export function vapicSetIrqWindowExiting(m: Uint32Array, o: number, on: boolean): void {
  m[o + VAPIC.FLAGS] = on
    ? m[o + VAPIC.FLAGS] | VAPIC_F_IRQ_WINDOW_EXITING
    : m[o + VAPIC.FLAGS] & ~VAPIC_F_IRQ_WINDOW_EXITING;
}

export function vapicRecognized(m: Uint32Array, o: number): boolean {
  return (m[o + VAPIC.FLAGS] & VAPIC_F_RECOGNIZED) !== 0;
}

/** PPR virtualization (SDM x.1.3): VPPR = VTPR if VTPR[7:4] >= SVI[7:4], else SVI & 0xF0. */
export function pprVirtualization(m: Uint32Array, o: number): void {
  m[o + VAPIC.VPPR] = processorPriority(m[o + VAPIC.VTPR], m[o + VAPIC.SVI] & 0xff);
}

/**
 * Evaluation of pending virtual interrupts (SDM x.2.1): a virtual interrupt is recognized iff
 * interrupt-window exiting is 0 and RVI[7:4] > VPPR[7:4]; otherwise none is. Returns the result.
 */
export function evaluatePendingVirtualInterrupts(m: Uint32Array, o: number): boolean {
  const flags = m[o + VAPIC.FLAGS];
  const rec =
    (flags & VAPIC_F_IRQ_WINDOW_EXITING) === 0 && prioClass(m[o + VAPIC.RVI]) > prioClass(m[o + VAPIC.VPPR]);
  m[o + VAPIC.FLAGS] = rec ? flags | VAPIC_F_RECOGNIZED : flags & ~VAPIC_F_RECOGNIZED;
  return rec;
}

/**
 * Whether a recognized virtual interrupt is delivered at this instruction boundary (SDM x.2.2):
 * recognized, guest RFLAGS.IF = 1 (the caller passes interruptibility: IF and no STI/MOV-SS
 * shadow), interrupt-window exiting 0.
 */
export function virtualInterruptDeliverable(m: Uint32Array, o: number, guestInterruptible: boolean): boolean {
  return (
    guestInterruptible &&
    (m[o + VAPIC.FLAGS] & (VAPIC_F_RECOGNIZED | VAPIC_F_IRQ_WINDOW_EXITING)) === VAPIC_F_RECOGNIZED
  );
}

/**
 * Virtual-interrupt delivery (SDM x.2.2) of the vector in RVI (not a fresh scan of vIRR):
 * vISR[v] = 1, SVI = v, VPPR = v & 0xF0, vIRR[v] = 0, RVI = highest remaining vIRR or 0,
 * recognition ends. Returns v, which the guest's IDT then vectors through. It also wakes the
 * logical processor from HLT (the caller handles the activity state).
 */
export function virtualInterruptDelivery(m: Uint32Array, o: number): number {
  const v = m[o + VAPIC.RVI] & 0xff;
  regSet(m, o + VAPIC.VISR, v);
  m[o + VAPIC.SVI] = v;
  m[o + VAPIC.VPPR] = v & 0xf0;
  regClear(m, o + VAPIC.VIRR, v);
  m[o + VAPIC.RVI] = Math.max(0, regHighest(m, o + VAPIC.VIRR));
  m[o + VAPIC.FLAGS] &= ~VAPIC_F_RECOGNIZED;
  return v;
}

/** Result bit of eoiVirtualization: the EOI caused an EOI-induced VM exit (reason 45). */
export const EOI_EXIT_INDUCED = 0x100;

/**
 * EOI virtualization (SDM x.1.4), after a guest write to the EOI register (VID = 1): clears
 * vISR[SVI] (the bit at SVI, not a fresh scan), SVI = highest remaining vISR or 0, PPR
 * virtualization; then, if the EOI-exit bitmap has that vector, a trap-like EOI-induced VM exit
 * with the vector as exit qualification, else evaluation of pending virtual interrupts.
 * Returns the vector, or'ed with EOI_EXIT_INDUCED when it exits.
 */
export function eoiVirtualization(m: Uint32Array, o: number): number {
  const v = m[o + VAPIC.SVI] & 0xff;
  regClear(m, o + VAPIC.VISR, v);
  m[o + VAPIC.SVI] = Math.max(0, regHighest(m, o + VAPIC.VISR));
  pprVirtualization(m, o);
  if (regTest(m, o + VAPIC.EOI_EXIT, v)) return v | EOI_EXIT_INDUCED;
  evaluatePendingVirtualInterrupts(m, o);
  return v;
}

/** Result of tprVirtualization when VID = 0 and VTPR[7:4] fell below the TPR threshold (exit reason 43). */
export const TPR_BELOW_THRESHOLD_EXIT = 1;

/**
 * TPR virtualization (SDM x.1.2) after a guest write of the TPR (CR8, offset 080H or MSR 808H).
 * With VID the TPR threshold is ignored: PPR virtualization, then evaluation. Without VID a
 * trap-like TPR-below-threshold exit happens when VTPR[7:4] < threshold[3:0].
 * Returns TPR_BELOW_THRESHOLD_EXIT or 0.
 */
export function tprVirtualization(m: Uint32Array, o: number, tpr: number): number {
  m[o + VAPIC.VTPR] = tpr & 0xff;
  if ((m[o + VAPIC.FLAGS] & VAPIC_F_VID) !== 0) {
    pprVirtualization(m, o);
    evaluatePendingVirtualInterrupts(m, o);
    return 0;
  }
  return prioClass(tpr) < (m[o + VAPIC.TPR_THRESHOLD] & 0xf) ? TPR_BELOW_THRESHOLD_EXIT : 0;
}

/**
 * Self-IPI virtualization (SDM x.1.5), after a qualifying WRMSR 83FH or a virtualized ICR-low
 * write with shorthand "self", fixed, edge: vIRR[v] = 1, RVI = max(RVI, v), evaluation.
 * The caller rejects vectors < 16 (x2APIC path: an APIC-write exit instead).
 */
export function selfIpiVirtualization(m: Uint32Array, o: number, v: number): void {
  regSet(m, o + VAPIC.VIRR, v);
  if (v > (m[o + VAPIC.RVI] & 0xff)) m[o + VAPIC.RVI] = v;
  evaluatePendingVirtualInterrupts(m, o);
}

/**
 * VM entry with VID (SDM 26.3.2.5): RVI and SVI are loaded from the guest-interrupt status (here
 * they already sit in the block), PPR virtualization, evaluation. VM entry does not look at the
 * posted-interrupt descriptor: PIR reaches vIRR only through posted-interrupt processing or
 * software (KVM's sync_pir_to_irr). With VID 0 (APICv inhibited, or a machine without it) the
 * entry does neither: 26.3.2.5 performs them only when the control is 1.
 */
export function vmEntryVirtualInterrupts(m: Uint32Array, o: number): boolean {
  if (!vapicVid(m, o)) return false;
  pprVirtualization(m, o);
  return evaluatePendingVirtualInterrupts(m, o);
}

/**
 * Software writing RVI (KVM vmx_set_rvi / vmx_hwapic_irr_update): a VMWRITE of the guest-interrupt
 * status low byte; -1 (no interrupt) is written as 0. No evaluation happens until the next trigger.
 */
export function setRvi(m: Uint32Array, o: number, maxIrr: number): void {
  m[o + VAPIC.RVI] = maxIrr < 0 ? 0 : maxIrr & 0xff;
}

/**
 * Posted-interrupt processing (SDM x.6), run by a CPU in VMX non-root operation whose current VMCS
 * has "process posted interrupts" set, when its local APIC dispatches the notification vector.
 * It works on the descriptor of the VMCS that is current on that CPU, whoever the notification was
 * meant for (seed 001). Steps, all uninterruptible:
 *   1. acknowledge the local APIC: the notification vector moves from IRR to ISR;
 *   2. (the vector equals the PINV: otherwise it is an external-interrupt VM exit instead);
 *   3. clear ON (a locked AND);
 *   4. EOI to the local APIC, clearing that ISR bit;
 *   5. PIR is OR-ed into vIRR and cleared (an indivisible read-and-clear of each chunk);
 *   6. RVI = max(RVI, highest PIR bit found) (unchanged when PIR was empty);
 *   7. evaluation of pending virtual interrupts.
 * Clearing ON before reading PIR is what makes coalescing safe: a poster that sets its PIR bit
 * after step 5 sees ON=0 and notifies again.
 * Returns the highest vector moved, or -1 when PIR was empty.
 */
export function postedInterruptProcessing(m: Uint32Array, lapic: number, pid: number, vapic: number): number {
  lapicAck(m, lapic);
  piClearOn(m, pid);
  lapicEoi(m, lapic);
  let highest = -1;
  for (let i = 0; i < 8; i++) {
    const w = m[pid + PID.PIR + i];
    if (w === 0) continue;
    m[pid + PID.PIR + i] = 0;
    m[vapic + VAPIC.VIRR + i] |= w;
    highest = (i << 5) + 31 - Math.clz32(w);
  }
  if (highest > (m[vapic + VAPIC.RVI] & 0xff)) m[vapic + VAPIC.RVI] = highest;
  evaluatePendingVirtualInterrupts(m, vapic);
  return highest;
}
