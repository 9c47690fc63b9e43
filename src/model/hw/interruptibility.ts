/**
 * A core's event-blocking state as one 32-bit word: RFLAGS.IF, the interrupt shadow of STI and
 * MOV SS, NMI blocking, the HLT activity state and a latched NMI. The low bits use the layout of
 * the VMCS guest interruptibility-state field (SDM Vol. 3C 24.4.2: bit 0 blocking by STI, bit 1
 * blocking by MOV SS, bit 3 blocking by NMI), so the word is what a VM exit saves and a VM entry
 * loads; IF sits at its RFLAGS position (bit 9).
 *
 * Rules (SDM Vol. 3A 6.8.1 "Masking Maskable Hardware Interrupts", 6.8.3 "Masking Exceptions and
 * Interrupts When Switching Stacks"; STI in Vol. 2B):
 * - STI executed with IF = 0 sets IF and inhibits maskable interrupts until the end of the NEXT
 *   instruction: no interrupt is taken at the boundary right after STI. STI with IF already 1 sets
 *   no shadow.
 * - MOV SS / POP SS inhibit interrupts (and NMIs, debug traps) until the end of the next
 *   instruction.
 * - The shadow ends when the next instruction completes, whatever it is. For `sti; hlt` that
 *   instruction is HLT: it enters the HLT state, the shadow is over, and a pending interrupt is
 *   then taken and wakes the core with the return address after HLT (SDM 29.2.2 says the same of
 *   virtual-interrupt delivery: it needs no STI or MOV-SS blocking and wakes the core from HLT).
 *   Linux's safe_halt and kvm-unit-tests' `sti; hlt` (ioapic.c test_ioapic_level_retrigger,
 *   vmx_tests.c vmx_hlt_with_rvi_test) rely on exactly this.
 * - Whether STI blocking also blocks NMIs is model-specific in the SDM (24.4.2, table "Format of
 *   Interruptibility State", footnote); KVM treats it as blocking (vmx_nmi_blocked checks
 *   GUEST_INTR_STATE_STI) and kvm-unit-tests apic.c test_sti_nmi asserts that no NMI lands right
 *   after STI. `stiBlocksNmi` chooses; the default follows KVM.
 *
 * Delivery through the IDT is taken to use interrupt gates (Linux and kvm-unit-tests install
 * those), so delivering an interrupt or NMI clears IF until the handler's IRET restores it.
 */

/** Blocking by STI (interruptibility-state bit 0). */
export const CORE_BLOCK_STI = 1 << 0;
/** Blocking by MOV SS (bit 1). */
export const CORE_BLOCK_MOV_SS = 1 << 1;
/** Blocking by NMI (bit 3): an NMI handler runs and has not executed IRET yet. */
export const CORE_BLOCK_NMI = 1 << 3;
/** RFLAGS.IF (bit 9). */
export const CORE_IF = 1 << 9;
/** Activity state HLT. */
export const CORE_HALTED = 1 << 16;
/** An NMI has arrived and waits to be delivered (the single NMI latch). */
export const CORE_NMI_LATCHED = 1 << 17;

const SHADOW = CORE_BLOCK_STI | CORE_BLOCK_MOV_SS;

/** The instructions whose effect on event blocking the model knows; any other is `other`. */
export type ShadowInsn = 'sti' | 'cli' | 'mov-ss' | 'hlt' | 'iret' | 'other';

/** The state after reset or INIT: IF = 0, no blocking, active. */
export const CORE_RESET = 0;

/**
 * The core executes one instruction. The shadow left by the previous instruction ends when this
 * one completes, so it is cleared first; then the instruction's own effect applies. `iret` ends
 * NMI blocking and sets IF to `iretIf` (the IF saved on the stack, 1 for a handler that interrupted
 * code running with IF = 1).
 */
export function coreExecute(s: number, insn: ShadowInsn, iretIf = true): number {
  let n = s & ~SHADOW;
  switch (insn) {
    case 'sti':
      if ((s & CORE_IF) === 0) n |= CORE_BLOCK_STI;
      return n | CORE_IF;
    case 'cli':
      return n & ~CORE_IF;
    case 'mov-ss':
      return n | CORE_BLOCK_MOV_SS;
    case 'hlt':
      return n | CORE_HALTED;
    case 'iret':
      n &= ~CORE_BLOCK_NMI;
      return iretIf ? n | CORE_IF : n & ~CORE_IF;
    default:
      return n;
  }
}

/** A maskable interrupt (or a recognized virtual interrupt, SDM 29.2.2) may be taken at this boundary: IF = 1 and no STI or MOV-SS shadow. */
export function maskableInterruptAllowed(s: number): boolean {
  return (s & CORE_IF) !== 0 && (s & SHADOW) === 0;
}

/** An NMI may be taken at this boundary: no NMI blocking, no MOV-SS shadow, and no STI shadow if `stiBlocksNmi`. */
export function nmiAllowed(s: number, stiBlocksNmi = true): boolean {
  if ((s & (CORE_BLOCK_NMI | CORE_BLOCK_MOV_SS)) !== 0) return false;
  return !(stiBlocksNmi && (s & CORE_BLOCK_STI) !== 0);
}

/**
 * Delivery of a maskable interrupt (caller checked `maskableInterruptAllowed`): the core leaves
 * HLT and enters the handler through an interrupt gate, so IF becomes 0.
 */
export function coreDeliverInterrupt(s: number): number {
  return s & ~(CORE_HALTED | CORE_IF | SHADOW);
}

/** Whether the core sits in HLT. */
export function coreHalted(s: number): boolean {
  return (s & CORE_HALTED) !== 0;
}

/** The VMCS guest interruptibility-state value of the word (bits 3:0). */
export function guestInterruptibility(s: number): number {
  return s & 0xf;
}

/** VM-exit reason of interrupt-window exiting (SDM Vol. 3D appendix C). */
export const EXIT_REASON_INTERRUPT_WINDOW = 7;

/**
 * Interrupt-window exiting (primary processor-based control bit 2; SDM Vol. 3C 26.7.5): with the
 * control set, a VM exit happens before an instruction when RFLAGS.IF = 1 and there is no blocking
 * by STI or MOV SS, the same condition that lets a maskable interrupt in. It can happen right after
 * VM entry and takes the core out of HLT. kvm-unit-tests vmx_tests.c vmx_intr_window_test checks
 * the STI case: the exit comes one instruction after STI.
 */
export function interruptWindowExit(controlSet: boolean, s: number): boolean {
  return controlSet && maskableInterruptAllowed(s);
}
