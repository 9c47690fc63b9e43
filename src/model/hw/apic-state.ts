/**
 * Local APIC state transitions: the IA32_APIC_BASE MSR (global enable and x2APIC enable, with the
 * #GP cases of the state diagram), software enable through the SVR, the APIC ID register in both
 * modes, and the ICR as a raw register (what a write leaves and what a read returns).
 * Sources: Intel SDM Vol. 3A, chapter "Advanced Programmable Interrupt Controller (APIC)":
 * 11.4.3 "Enabling or Disabling the Local APIC", 11.4.4 "Local APIC Status and Location"
 * (IA32_APIC_BASE layout), 11.4.6 "Local APIC ID", 11.4.7.2 "Local APIC State After It Has Been
 * Software Disabled", 11.9 "Spurious Interrupt", 11.12.1 "Detecting and Enabling x2APIC Mode",
 * 11.12.5 "x2APIC State Transitions" (figure "Local x2APIC State Transitions"), 11.12.9 "ICR
 * Operation in x2APIC Mode"; KVM lapic.c kvm_lapic_set_base, kvm_apic_set_xapic_id,
 * kvm_apic_set_x2apic_id, __apic_accept_irq, kvm_x2apic_icr_write; x86.c kvm_set_apic_base.
 * The peer tests whose assertions the unit tests reuse: kvm-unit-tests apic.c test_enable_x2apic,
 * test_apicbase, test_apic_id, test_apic_disable; selftests xapic_state_test.c test_icr,
 * test_apic_id, test_x2apic_id.
 *
 * The LAPIC register block is lapic.ts's. The mode word LAPIC.MODE keeps its values (0 xAPIC,
 * 1 x2APIC) and gains LAPIC_MODE_DISABLED for a globally disabled APIC.
 */
import { X2APIC_ICR_RESERVED_LO, xapicIcrHighWrite, xapicIcrLowWrite } from './icr.ts';
import {
  LAPIC,
  LAPIC_MODE_X2APIC,
  LAPIC_MODE_XAPIC,
  lapicInit,
  SVR_APIC_ENABLED,
  SVR_RESET,
  x2apicLdr,
} from './lapic.ts';

/** LAPIC.MODE value of an APIC disabled through IA32_APIC_BASE[11]. */
export const LAPIC_MODE_DISABLED = 2;

/** IA32_APIC_BASE (MSR 1BH) bits. */
export const APIC_BASE_BSP = 1n << 8n;
export const APIC_BASE_EXTD = 1n << 10n;
export const APIC_BASE_EN = 1n << 11n;
/** Bits 7:0 and 9 are reserved. */
export const APIC_BASE_RESERVED_LOW = 0x2ffn;
export const APIC_DEFAULT_BASE = 0xfee00000n;

/** The four states of SDM 11.12.5: EN and EXTD. `invalid` is EN = 0 with EXTD = 1. */
export type ApicBaseState = 'disabled' | 'xapic' | 'x2apic' | 'invalid';

export function apicBaseState(base: bigint): ApicBaseState {
  const en = (base & APIC_BASE_EN) !== 0n;
  const extd = (base & APIC_BASE_EXTD) !== 0n;
  if (en) return extd ? 'x2apic' : 'xapic';
  return extd ? 'invalid' : 'disabled';
}

/**
 * Why a WRMSR to IA32_APIC_BASE raises #GP, or null when it is accepted:
 * - a reserved bit: 7:0, 9, or an address bit at or above MAXPHYADDR (test_apicbase);
 * - EXTD set on a processor without x2APIC (CPUID.01H:ECX[21] = 0) ("enable unsupported x2apic");
 * - a move into the invalid state (EN = 0, EXTD = 1) from any state;
 * - x2APIC -> xAPIC (EN = 1, EXTD 1 -> 0): x2APIC must be left through the disabled state;
 * - disabled -> x2APIC in one write: x2APIC is entered from xAPIC.
 * Writes that keep the state (only the base address or BSP bit change) are accepted. A write by the
 * host (`hostInitiated`, KVM_SET_MSRS) skips the two transition rules, as kvm_set_apic_base does:
 * userspace may go from x2APIC straight to xAPIC (KVM ABI, xapic_state_test test_apic_id).
 */
export function apicBaseWriteFault(
  old: bigint,
  next: bigint,
  opts: { x2apicSupported: boolean; maxPhyAddr: number; hostInitiated?: boolean },
): string | null {
  if ((next & APIC_BASE_RESERVED_LOW) !== 0n) return 'IA32_APIC_BASE reserved bit 7:0 or 9 set';
  if (next >> BigInt(opts.maxPhyAddr) !== 0n) return 'IA32_APIC_BASE address bit at or above MAXPHYADDR set';
  if ((next & APIC_BASE_EXTD) !== 0n && !opts.x2apicSupported)
    return 'x2APIC enable on a processor without x2APIC';
  const from = apicBaseState(old);
  const to = apicBaseState(next);
  if (to === 'invalid') return `${from} -> invalid state (EN = 0, EXTD = 1)`;
  if (opts.hostInitiated) return null;
  if (from === 'x2apic' && to === 'xapic') return 'x2APIC -> xAPIC without going through disabled';
  if (from === 'disabled' && to === 'x2apic') return 'disabled -> x2APIC without going through xAPIC';
  return null;
}

/**
 * The register effects of an accepted IA32_APIC_BASE write on a LAPIC block (`initialApicId` is
 * the processor's initial APIC ID, CPUID.01H:EBX[31:24] / CPUID.0BH:EDX, KVM's vcpu_id):
 * - to disabled: the APIC is reset to its power-up state (IRR, ISR, TMR, TPR, LDR cleared; SVR
 *   0xFF, i.e. software-disabled; DFR flat) and marked disabled; a later enable finds it so,
 *   which is why kvm-unit-tests rewrites SPIV 0x1ff after re-enabling;
 * - disabled -> xAPIC: the APIC ID is the initial ID again (architectural on Intel, KVM
 *   kvm_apic_set_xapic_id);
 * - xAPIC -> x2APIC: the x2APIC ID is the initial x2APIC ID and the LDR is derived from it; the
 *   other registers keep their values (SDM 11.12.5.1);
 * - no state change: nothing.
 */
export function apicBaseApply(
  m: Uint32Array,
  o: number,
  old: bigint,
  next: bigint,
  initialApicId: number,
): void {
  const from = apicBaseState(old);
  const to = apicBaseState(next);
  if (from === to) return;
  if (to === 'disabled') {
    lapicInit(m, o, initialApicId, false);
    m[o + LAPIC.SVR] = SVR_RESET;
    m[o + LAPIC.MODE] = LAPIC_MODE_DISABLED;
    return;
  }
  if (to === 'xapic') {
    m[o + LAPIC.MODE] = LAPIC_MODE_XAPIC;
    m[o + LAPIC.ID] = initialApicId & 0xff;
    return;
  }
  m[o + LAPIC.MODE] = LAPIC_MODE_X2APIC;
  m[o + LAPIC.ID] = initialApicId >>> 0;
  m[o + LAPIC.LDR] = x2apicLdr(initialApicId);
}

/** LVT mask bit (bit 16 of every LVT entry). */
export const LVT_MASKED = 1 << 16;

/**
 * A write to the SVR (0F0H / MSR 80FH): bits 7:0 spurious vector, 8 APIC software enable, 12
 * suppress EOI broadcast (when the version register advertises it; KVM does) are kept. Clearing
 * bit 8 software-disables the APIC (SDM 11.4.7.2): IRR, ISR and TMR keep their contents, fixed and
 * lowest-priority interrupts are no longer accepted, nothing is dispatched to the core
 * (lapicHighestDeliverable returns -1), and every LVT entry gets its mask bit, which cannot be
 * cleared while disabled (`lvtWrite`). Returns true when the write disabled an enabled APIC, so
 * the caller masks its LVT entries (`lvtMaskOnDisable`).
 */
export function svrWrite(m: Uint32Array, o: number, value: number): boolean {
  const was = (m[o + LAPIC.SVR] & SVR_APIC_ENABLED) !== 0;
  m[o + LAPIC.SVR] = value & 0x11ff;
  return was && (value & SVR_APIC_ENABLED) === 0;
}

export function lapicSoftwareEnabled(m: Uint32Array, o: number): boolean {
  return (m[o + LAPIC.SVR] & SVR_APIC_ENABLED) !== 0 && m[o + LAPIC.MODE] !== LAPIC_MODE_DISABLED;
}

/** An LVT entry as software disabling leaves it: masked. */
export function lvtMaskOnDisable(lvt: number): number {
  return (lvt | LVT_MASKED) >>> 0;
}

/** The value an LVT write leaves: while the APIC is software-disabled the mask bit stays set. */
export function lvtWrite(swEnabled: boolean, value: number): number {
  return swEnabled ? value >>> 0 : lvtMaskOnDisable(value);
}

/**
 * Whether the APIC accepts a message with this delivery mode (KVM __apic_accept_irq with
 * apic_enabled; SDM 11.4.7.2): a software- or globally-disabled APIC drops fixed (0) and
 * lowest-priority (1) messages; NMI, SMI, INIT and SIPI are still taken by a software-disabled one.
 * A globally disabled APIC takes nothing (KVM skips it: kvm_apic_present).
 */
export function lapicAcceptsDeliveryMode(m: Uint32Array, o: number, deliveryMode: number): boolean {
  if (m[o + LAPIC.MODE] === LAPIC_MODE_DISABLED) return false;
  if (deliveryMode === 0 || deliveryMode === 1) return (m[o + LAPIC.SVR] & SVR_APIC_ENABLED) !== 0;
  return true;
}

/** What a read of the APIC ID returns: xAPIC MMIO 020H holds the ID in bits 31:24, x2APIC MSR 802H the 32-bit ID. */
export function apicIdRead(m: Uint32Array, o: number): number {
  const id = m[o + LAPIC.ID];
  return m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC ? id >>> 0 : ((id & 0xff) << 24) >>> 0;
}

/**
 * A guest write of the APIC ID. xAPIC: the register is writable (SDM 11.4.6 leaves it model
 * specific; KVM accepts it, test_apic_id "writeable xapic id"), the ID becomes bits 31:24. x2APIC:
 * the ID MSR 802H is read-only and a WRMSR raises #GP ("non-writeable x2apic id"). Returns false
 * for the #GP.
 */
export function apicIdWrite(m: Uint32Array, o: number, value: number): boolean {
  if (m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC) return false;
  m[o + LAPIC.ID] = (value >>> 24) & 0xff;
  return true;
}

/**
 * Host-side write of the APIC ID (KVM_SET_LAPIC): honoured in xAPIC mode; in x2APIC mode KVM
 * ignores it and keeps the vCPU's initial x2APIC ID (xapic_state_test test_x2apic_id: "x2APIC ID
 * should be fully readonly").
 */
export function kvmSetLapicId(m: Uint32Array, o: number, value: number, initialApicId: number): void {
  if (m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC) m[o + LAPIC.ID] = initialApicId >>> 0;
  else m[o + LAPIC.ID] = (value >>> 24) & 0xff;
}

/** The raw ICR as software reads it back: low word (bits 31:0) and high word (63:32). */
export interface IcrRaw {
  lo: number;
  hi: number;
}

/**
 * xAPIC ICR register writes (300H after 310H): ICR2 keeps bits 31:24 only (KVM and Intel drop
 * 23:0), the low word keeps every bit except the read-only delivery-status bit 12, which reads 0
 * once the send is done (xapic_state_test test_icr expects exactly `val & ~BUSY` with ICR2[23:0]
 * dropped). Reserved bits raise no fault on the MMIO register.
 */
export function xapicIcrRegisterWrite(lo: number, hi: number): IcrRaw {
  return { lo: xapicIcrLowWrite(lo), hi: xapicIcrHighWrite(hi) };
}

/** How a set bit 12 is treated in an x2APIC ICR write: Intel ignores it, AMD (and the SDM's "reserved, must be 0") fault. */
export type X2apicIcrBusyPolicy = 'ignore' | 'gp';

/**
 * WRMSR 830H as a raw 64-bit register: any of the reserved bits 31:20, 17:16 and 13 raises #GP
 * (KVM kvm_x2apic_icr_write, X2APIC_ICR_RESERVED_BITS; xapic_state_test x2apic_guest_code expects
 * the fault); bit 12 per `busy`. Otherwise the value is stored whole, destination included, and
 * RDMSR 830H returns it unchanged. Reserved delivery modes (3, 7) do not fault: they are stored and
 * read back (test_icr sends all eight). Returns null for the #GP.
 */
export function x2apicIcrRegisterWrite(
  lo: number,
  hi: number,
  busy: X2apicIcrBusyPolicy = 'ignore',
): IcrRaw | null {
  const l = lo >>> 0;
  if ((l & X2APIC_ICR_RESERVED_LO) !== 0) return null;
  if ((l & 0x1000) !== 0 && busy === 'gp') return null;
  return { lo: l, hi: hi >>> 0 };
}

/**
 * Whether the xAPIC memory-mapped interface answers in this LAPIC.MODE: only in xAPIC mode. In
 * x2APIC mode the registers are reached through MSRs only and the MMIO interface is not available
 * (SDM Vol. 3A 11.12.1.2, "x2APIC Register Address Space"); a globally disabled APIC answers
 * neither (11.4.3).
 */
export function xapicMmioAvailable(mode: number): boolean {
  return mode !== LAPIC_MODE_X2APIC && mode !== LAPIC_MODE_DISABLED;
}
