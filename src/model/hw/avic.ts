/**
 * AMD AVIC (Advanced Virtual Interrupt Controller) and the AMD IOMMU's guest virtual APIC (GA)
 * mode: the per-vCPU backing page, the physical APIC ID table, guest ICR writes done by hardware,
 * the doorbell, and device interrupts posted by the IOMMU into a backing page (with the GA log
 * for vCPUs that are not running).
 *
 * Sources: AMD64 APM Vol. 2 §15.29 "Advanced Virtual Interrupt Controller", read through KVM
 * (arch/x86/kvm/svm/avic.c, arch/x86/include/asm/svm.h) and its commit messages; the AMD IOMMU
 * specification's GA mode and GA log, read through Linux drivers/iommu/amd (struct irte_ga, the
 * GA log constants, iommu_poll_ga_log, amd_iommu_restart_ga_log and the commit "iommu/amd: Handle
 * GALog overflows", which quotes the spec's §2.7.4 restart procedure). irqlab's
 * hw-semantics.md §5 and §7.2 rows 17-20 summarise them.
 *
 * All run-time state lives in a Uint32Array (the World) at caller-chosen offsets, in four kinds
 * of blocks, each described by a layout constant below:
 *   - a backing page per vCPU (AVIC_BACKING),
 *   - a physical APIC ID table, one 64-bit entry per guest APIC ID (AVIC_PHYS_ENTRY),
 *   - 128-bit GA-mode IRTEs (GA_IRTE),
 *   - a GA log ring per IOMMU (GA_LOG).
 *
 * Addresses. Hardware tables hold physical addresses; the model has no memory map. A backing
 * page's "address" is its page frame number (address >> 12), and the model reads a page frame
 * number k as slot k of the caller's array of backing pages: the page sits at
 * `pages + k * AVIC_BACKING.SIZE` (avicBackingOffset). So the physical table's bits 51:12 and the
 * IRTE's GA root pointer both carry a slot index, and a table that points at the wrong page is a
 * state the checker can reach.
 *
 * Functions on the hot path (everything taking `m`) do not allocate; they return numbers or
 * booleans or write into a caller-provided Uint32Array whose format is documented. The encoders
 * and decoders of the 64-bit and 128-bit formats use BigInt and objects: they are for setup,
 * traces and tests.
 */
import { prioClass, processorPriority, regClear, regHighest, regSet, regTest } from './bits.ts';

// ---------------------------------------------------------------------------------------------
// Exit codes and IPI failure causes
// ---------------------------------------------------------------------------------------------

/** #VMEXIT codes of AVIC (APM Vol. 2 §15.29; KVM svm.h SVM_EXIT_AVIC_*). */
export const AVIC_EXIT = {
  /** No exit: the operation completed in hardware. */
  NONE: 0,
  /** AVIC_INCOMPLETE_IPI: trap-like; EXITINFO1 = ICR, EXITINFO2[63:32] = cause, low bits = index. */
  INCOMPLETE_IPI: 0x401,
  /** AVIC_NOACCEL: an APIC access hardware does not accelerate (trap-like for EOI). */
  NOACCEL: 0x402,
} as const;
export type AvicExit = (typeof AVIC_EXIT)[keyof typeof AVIC_EXIT];

/** EXITINFO2[63:32] of AVIC_INCOMPLETE_IPI (KVM svm.h enum avic_ipi_failure_cause). */
export const AVIC_IPI_FAILURE = {
  /** Anything but fixed/edge: lowest priority, SMI, NMI, INIT, SIPI, or level trigger. */
  INVALID_INT_TYPE: 0,
  /** A valid target whose IsRunning is 0: its IRR bit is set, but nobody rang its doorbell. */
  TARGET_NOT_RUNNING: 1,
  /** A target whose physical APIC ID table entry has Valid = 0. */
  INVALID_TARGET: 2,
  /** Never produced by this model (the model has no unmapped backing pages). */
  INVALID_BACKING_PAGE: 3,
  /** Vector < 16 (newer parts; KVM notes that a Zen 2 part drops the IPI without exiting). */
  INVALID_IPI_VECTOR: 4,
} as const;
export type AvicIpiFailure = (typeof AVIC_IPI_FAILURE)[keyof typeof AVIC_IPI_FAILURE];

/**
 * APIC register offset that AVIC_NOACCEL reports in EXITINFO1 bits 11:4 for an EOI write (the
 * write flag is EXITINFO1 bit 32; KVM AVIC_UNACCEL_ACCESS_OFFSET_MASK / _WRITE_MASK).
 */
export const AVIC_NOACCEL_EOI_OFFSET = 0xb0;

// ---------------------------------------------------------------------------------------------
// Backing page
// ---------------------------------------------------------------------------------------------

/**
 * One vCPU's backing page (APM §15.29: a 4 KB page in xAPIC register layout that holds the real
 * virtual APIC state; there is no separate RVI/SVI as in Intel's VID). Only the registers AVIC's
 * behaviour depends on are kept. IRR, ISR and TMR are 256-bit registers in the bits.ts format.
 */
export const AVIC_BACKING = {
  IRR: 0,
  ISR: 8,
  /** Trigger mode, 1 = level. Decides whether a guest EOI is accelerated. */
  TMR: 16,
  /** Virtual TPR, bits 7:0 (page offset 80h). */
  TPR: 24,
  /** Last value the guest wrote to ICR, low half (page offset 300h): EXITINFO1[31:0] of an exit. */
  ICR_LO: 25,
  /** ICR high half (page offset 310h; the x2APIC destination in x2AVIC). */
  ICR_HI: 26,
  /**
   * Model-only, not page content: the vector the core recognised at its last evaluation of this
   * page (VMRUN, doorbell, or one of its own accelerated APIC operations), 0 = none. It is what
   * makes a missing doorbell observable: an IRR bit set by someone else while the vCPU runs stays
   * unnoticed until the next evaluation. avicVmexit clears it.
   */
  PEND: 27,
  SIZE: 28,
} as const;

/** Offset of the backing page whose page frame number (model: slot index) is `pfn`. */
export function avicBackingOffset(pages: number, pfn: number): number {
  return pages + pfn * AVIC_BACKING.SIZE;
}

export function avicBackingInit(m: Uint32Array, bp: number): void {
  m.fill(0, bp, bp + AVIC_BACKING.SIZE);
}

/**
 * Virtual PPR, derived as on a physical APIC (SDM Vol. 3A "Processor-Priority Register"): with
 * ISRV the highest in-service vector (0 if none), PPR = TPR when TPR[7:4] >= ISRV[7:4], else
 * ISRV & 0xF0. AVIC derives it from the backing page's TPR and ISR (hw-semantics.md §5.2).
 */
export function avicPpr(m: Uint32Array, bp: number): number {
  return processorPriority(m[bp + AVIC_BACKING.TPR], Math.max(0, regHighest(m, bp + AVIC_BACKING.ISR)));
}

/**
 * The highest backing-page IRR vector, if its class is strictly above the vPPR class, else -1.
 * A pure read of the page: what an evaluation would find now.
 */
export function avicHighestDeliverable(m: Uint32Array, bp: number): number {
  const irrv = regHighest(m, bp + AVIC_BACKING.IRR);
  if (irrv < 0) return -1;
  return prioClass(irrv) > prioClass(avicPpr(m, bp)) ? irrv : -1;
}

/** Recognised vector (PEND), or -1 when none. */
export function avicPending(m: Uint32Array, bp: number): number {
  const v = m[bp + AVIC_BACKING.PEND];
  return v === 0 ? -1 : v;
}

/**
 * The core evaluates the backing page: records the highest deliverable vector in PEND (0 if
 * none) and returns it, or -1.
 */
export function avicEvaluate(m: Uint32Array, bp: number): number {
  const v = avicHighestDeliverable(m, bp);
  m[bp + AVIC_BACKING.PEND] = Math.max(v, 0);
  return v;
}

/**
 * VMRUN with AVIC enabled always evaluates the backing-page IRR, so a vCPU about to enter needs no
 * doorbell (KVM commit 31f251d "Signal AVIC doorbell iff vCPU is in guest mode"; hw-semantics.md
 * §7.2 row 19). Returns the recognised vector or -1.
 */
export function avicVmrun(m: Uint32Array, bp: number): number {
  return avicEvaluate(m, bp);
}

/** #VMEXIT: the core leaves guest mode and keeps no recognition state (the next VMRUN re-evaluates). */
export function avicVmexit(m: Uint32Array, bp: number): void {
  m[bp + AVIC_BACKING.PEND] = 0;
}

/**
 * A doorbell (WRMSR C001_011Bh with the host APIC ID) arriving at a pCPU that runs this vCPU in
 * AVIC guest mode: the core re-evaluates the backing-page IRR (APM §15.29; KVM avic_ring_doorbell).
 * The system layer calls it only for the vCPU actually in guest mode on the doorbell's pCPU; a
 * doorbell to a pCPU in any other state has no architectural effect and calls nothing here.
 * Returns the recognised vector or -1.
 */
export function avicDoorbell(m: Uint32Array, bp: number): number {
  return avicEvaluate(m, bp);
}

/**
 * Guest-side delivery at an instruction boundary: when guest IF = 1 and a vector was recognised,
 * it moves from IRR to ISR and is returned; the core then evaluates again (vPPR has risen, and IRR
 * bits that arrived meanwhile are seen now). Returns -1 when nothing is delivered. If the
 * recognised vector is no longer deliverable (its IRR bit gone, or vPPR raised), nothing is
 * delivered and the core re-evaluates instead.
 */
export function avicDeliver(m: Uint32Array, bp: number, guestIf: boolean): number {
  if (!guestIf) return -1;
  const v = m[bp + AVIC_BACKING.PEND];
  if (v === 0) return -1;
  if (!regTest(m, bp + AVIC_BACKING.IRR, v) || prioClass(v) <= prioClass(avicPpr(m, bp))) {
    avicEvaluate(m, bp);
    return -1;
  }
  regClear(m, bp + AVIC_BACKING.IRR, v);
  regSet(m, bp + AVIC_BACKING.ISR, v);
  avicEvaluate(m, bp);
  return v;
}

/**
 * A guest write to the EOI register. For an edge vector (TMR clear) the EOI is accelerated: the
 * highest ISR bit is cleared and the core re-evaluates; returns AVIC_EXIT.NONE. For a level vector
 * (TMR set) hardware does not accelerate: nothing changes in the page and the write becomes a
 * trap-like AVIC_NOACCEL (offset AVIC_NOACCEL_EOI_OFFSET), after which KVM emulates the EOI
 * (avicEoiEmulate) and forwards it to the I/O APIC (KVM avic_unaccel_trap_write lists EOI among the
 * trap offsets; hw-semantics.md §5.2). An EOI with ISR empty does nothing and returns NONE.
 */
export function avicEoi(m: Uint32Array, bp: number): AvicExit {
  const v = regHighest(m, bp + AVIC_BACKING.ISR);
  if (v < 0) return AVIC_EXIT.NONE;
  if (regTest(m, bp + AVIC_BACKING.TMR, v)) return AVIC_EXIT.NOACCEL;
  regClear(m, bp + AVIC_BACKING.ISR, v);
  avicEvaluate(m, bp);
  return AVIC_EXIT.NONE;
}

/**
 * KVM's emulation of an EOI on the backing page after AVIC_NOACCEL (KVM apic_set_eoi through
 * kvm_apic_write_nodecode): clears the highest ISR bit whatever its trigger mode and returns that
 * vector, or -1. Runs in root mode, so it does not evaluate; the next VMRUN does.
 */
export function avicEoiEmulate(m: Uint32Array, bp: number): number {
  const v = regHighest(m, bp + AVIC_BACKING.ISR);
  if (v >= 0) regClear(m, bp + AVIC_BACKING.ISR, v);
  return v;
}

/**
 * A guest TPR write (MOV CR8 or page offset 80h), accelerated by AVIC: vTPR = tpr, then the core
 * re-evaluates (a lowered TPR can unmask a pending vector). Returns the recognised vector or -1.
 */
export function avicTprWrite(m: Uint32Array, bp: number, tpr: number): number {
  m[bp + AVIC_BACKING.TPR] = tpr & 0xff;
  return avicEvaluate(m, bp);
}

/**
 * A software write of IRR[v] into the backing page (KVM's delivery path for a vCPU, e.g.
 * kvm_lapic_set_irr / __apic_accept_irq, which also records the trigger mode in TMR). A plain
 * memory update: nobody evaluates until a doorbell or VMRUN. Returns whether IRR[v] was already set.
 */
export function avicSetIrr(m: Uint32Array, bp: number, v: number, level: boolean): boolean {
  const was = regTest(m, bp + AVIC_BACKING.IRR, v);
  regSet(m, bp + AVIC_BACKING.IRR, v);
  if (level) regSet(m, bp + AVIC_BACKING.TMR, v);
  else regClear(m, bp + AVIC_BACKING.TMR, v);
  return was;
}

// ---------------------------------------------------------------------------------------------
// Physical APIC ID table
// ---------------------------------------------------------------------------------------------

/**
 * Physical APIC ID table entry, indexed by guest APIC ID (APM §15.29; KVM svm.h
 * AVIC_PHYSICAL_ID_ENTRY_*):
 *   bits 11:0  host physical APIC ID (8 bits on early parts)
 *   bits 51:12 backing-page address bits 51:12 (the page frame number; model: slot index)
 *   bit 62     IsRunning
 *   bit 63     Valid
 * In the World an entry is exactly this 64-bit value as two 32-bit words, low half first
 * (AVIC_PHYS_ENTRY), so the World holds the hardware format and encode/decode agree with it bit
 * for bit. Entry i of a table at offset t is at t + i * AVIC_PHYS_ENTRY.SIZE. The table's size limit
 * (the VMCB's max-index field) is not modelled: the caller, which resolves destinations, passes
 * only indices inside the table. KVM's software-only GA_LOG_INTR flag (bit 61 of its cached copy)
 * never reaches the hardware table and is not modelled here.
 */
export const AVIC_PHYS_ENTRY = { LO: 0, HI: 1, SIZE: 2 } as const;

/** Bit masks within the two words of an entry. */
export const AVIC_PHYS_BITS = {
  /** Low word: host physical APIC ID, bits 11:0. */
  HOST_APIC_ID: 0xfff,
  /** Low word: backing-page frame number bits 19:0 in bits 31:12. */
  BACKING_LO_SHIFT: 12,
  /** High word: backing-page frame number bits 39:20 in bits 19:0 (entry bits 51:32). */
  BACKING_HI: 0xfffff,
  /** High word bit 30 = entry bit 62. */
  IS_RUNNING: 0x40000000,
  /** High word bit 31 = entry bit 63. */
  VALID: 0x80000000,
} as const;

export interface AvicPhysEntry {
  /** Host physical APIC ID of the pCPU the vCPU last ran on (0..0xFFF). */
  hostApicId: number;
  /** Backing-page frame number, address >> 12 (0..2^40-1); in the model, the backing-page slot. */
  backingPage: number;
  isRunning: boolean;
  valid: boolean;
}

const PFN_MAX = 2 ** 40 - 1;
const TWO_20 = 2 ** 20;

function checkField(name: string, x: number, max: number): void {
  if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`${name} ${x} out of range 0..${max}`);
}

/** Encodes an entry as its 64-bit value. Throws RangeError on an out-of-range field. */
export function avicPhysEntryEncode(e: AvicPhysEntry): bigint {
  checkField('hostApicId', e.hostApicId, 0xfff);
  checkField('backingPage', e.backingPage, PFN_MAX);
  return (
    BigInt(e.hostApicId) |
    (BigInt(e.backingPage) << 12n) |
    (e.isRunning ? 1n << 62n : 0n) |
    (e.valid ? 1n << 63n : 0n)
  );
}

/** Decodes a 64-bit entry; reserved bits (60:52, 61) are ignored. */
export function avicPhysEntryDecode(x: bigint): AvicPhysEntry {
  return {
    hostApicId: Number(x & 0xfffn),
    backingPage: Number((x >> 12n) & 0xff_ffff_ffffn),
    isRunning: ((x >> 62n) & 1n) === 1n,
    valid: ((x >> 63n) & 1n) === 1n,
  };
}

/** Stores an entry (setup and KVM table writes that replace the whole entry). */
export function avicPhysWrite(m: Uint32Array, t: number, apicId: number, e: AvicPhysEntry): void {
  const x = avicPhysEntryEncode(e);
  const o = t + apicId * AVIC_PHYS_ENTRY.SIZE;
  m[o + AVIC_PHYS_ENTRY.LO] = Number(x & 0xffffffffn);
  m[o + AVIC_PHYS_ENTRY.HI] = Number(x >> 32n);
}

/** The entry as a 64-bit value (traces and tests). */
export function avicPhysWord(m: Uint32Array, t: number, apicId: number): bigint {
  const o = t + apicId * AVIC_PHYS_ENTRY.SIZE;
  return (BigInt(m[o + AVIC_PHYS_ENTRY.HI]) << 32n) | BigInt(m[o + AVIC_PHYS_ENTRY.LO]);
}

export function avicPhysRead(m: Uint32Array, t: number, apicId: number): AvicPhysEntry {
  return avicPhysEntryDecode(avicPhysWord(m, t, apicId));
}

export function avicPhysValid(m: Uint32Array, t: number, apicId: number): boolean {
  return (m[t + apicId * AVIC_PHYS_ENTRY.SIZE + AVIC_PHYS_ENTRY.HI] & AVIC_PHYS_BITS.VALID) !== 0;
}

export function avicPhysIsRunning(m: Uint32Array, t: number, apicId: number): boolean {
  return (m[t + apicId * AVIC_PHYS_ENTRY.SIZE + AVIC_PHYS_ENTRY.HI] & AVIC_PHYS_BITS.IS_RUNNING) !== 0;
}

export function avicPhysHostApicId(m: Uint32Array, t: number, apicId: number): number {
  return m[t + apicId * AVIC_PHYS_ENTRY.SIZE + AVIC_PHYS_ENTRY.LO] & AVIC_PHYS_BITS.HOST_APIC_ID;
}

/** Backing-page frame number (model: slot index) of an entry. */
export function avicPhysBackingPage(m: Uint32Array, t: number, apicId: number): number {
  const o = t + apicId * AVIC_PHYS_ENTRY.SIZE;
  return (
    (m[o + AVIC_PHYS_ENTRY.LO] >>> AVIC_PHYS_BITS.BACKING_LO_SHIFT) +
    (m[o + AVIC_PHYS_ENTRY.HI] & AVIC_PHYS_BITS.BACKING_HI) * TWO_20
  );
}

/**
 * KVM avic_vcpu_load: host APIC ID and IsRunning = 1 written together (one 64-bit store of the
 * entry; the model keeps both in one step).
 */
export function avicPhysSetRunning(m: Uint32Array, t: number, apicId: number, hostApicId: number): void {
  const o = t + apicId * AVIC_PHYS_ENTRY.SIZE;
  m[o + AVIC_PHYS_ENTRY.LO] =
    (m[o + AVIC_PHYS_ENTRY.LO] & ~AVIC_PHYS_BITS.HOST_APIC_ID) | (hostApicId & AVIC_PHYS_BITS.HOST_APIC_ID);
  m[o + AVIC_PHYS_ENTRY.HI] |= AVIC_PHYS_BITS.IS_RUNNING;
}

/** KVM avic_vcpu_put / blocking: IsRunning = 0, the host APIC ID is kept. */
export function avicPhysClearRunning(m: Uint32Array, t: number, apicId: number): void {
  m[t + apicId * AVIC_PHYS_ENTRY.SIZE + AVIC_PHYS_ENTRY.HI] &= ~AVIC_PHYS_BITS.IS_RUNNING;
}

export function avicPhysSetValid(m: Uint32Array, t: number, apicId: number, valid: boolean): void {
  const o = t + apicId * AVIC_PHYS_ENTRY.SIZE + AVIC_PHYS_ENTRY.HI;
  if (valid) m[o] |= AVIC_PHYS_BITS.VALID;
  else m[o] &= ~AVIC_PHYS_BITS.VALID;
}

// ---------------------------------------------------------------------------------------------
// Guest ICR write
// ---------------------------------------------------------------------------------------------

// ICR low-word fields (SDM Vol. 3A "Interrupt Command Register"), the subset AVIC looks at.
const ICR_VECTOR = 0xff;
const ICR_DELIVERY_MODE = 0x700; // bits 10:8, 000 = fixed
const ICR_TRIGGER_LEVEL = 1 << 15;
const ICR_SHORTHAND_SHIFT = 18; // bits 19:18: 00 none, 01 self, 10 all incl. self, 11 all excl. self
const SHORTHAND_SELF = 1;

/**
 * Out-buffer of avicIcrWrite. Capacity needed: avicIcrOutSize(number of targets).
 *   EXIT       AVIC_EXIT.NONE or AVIC_EXIT.INCOMPLETE_IPI (also the return value)
 *   CAUSE      EXITINFO2[63:32] when EXIT is INCOMPLETE_IPI, else 0
 *   INDEX      EXITINFO2 low bits: the table index (guest APIC ID) of the first target with the
 *              reported cause; 0 for INVALID_INT_TYPE and INVALID_IPI_VECTOR
 *   NOTED      bitmask, bit c set when cause c was noted for some target
 *   IRR_SET    number of backing pages in which IRR[vector] was set (the sender's for a self-IPI)
 *   SELF       1 when the IPI was a self-IPI (the sender's page was set and re-evaluated)
 *   DOORBELLS  number of doorbells rung
 *   DOORBELL0  the host APIC IDs rung, in target order, DOORBELLS of them (not deduplicated)
 * EXITINFO1 is the ICR itself, kept in the sender's page (ICR_LO/ICR_HI).
 */
export const AVIC_ICR_OUT = {
  EXIT: 0,
  CAUSE: 1,
  INDEX: 2,
  NOTED: 3,
  IRR_SET: 4,
  SELF: 5,
  DOORBELLS: 6,
  DOORBELL0: 7,
} as const;

export function avicIcrOutSize(maxTargets: number): number {
  return AVIC_ICR_OUT.DOORBELL0 + maxTargets;
}

/**
 * A guest write of the ICR with AVIC (xAVIC offset 300h, or x2AVIC WRMSR 830h), done by the
 * sending CPU without an exit on the success path (APM §15.29; hw-semantics.md §5.2 and §7.2
 * row 17). Arguments:
 *   t        offset of the physical APIC ID table
 *   pages    offset of backing-page slot 0 (see avicBackingOffset)
 *   self     offset of the sender's backing page
 *   targets  guest APIC IDs (table indices) of the destinations, nTargets of them: the caller
 *            resolves destination mode, logical table and shorthands (for "all including self"
 *            it lists the sender too); ignored for a self-IPI
 *   broadcast  true for a broadcast the caller resolved from a physical all-ones destination;
 *            shorthands 10b/11b are broadcasts whatever it says. Broadcasts skip invalid entries
 *            instead of noting INVALID_TARGET.
 *   out      see AVIC_ICR_OUT
 * Steps:
 *   1. The ICR value lands in the sender's page (ICR_LO/ICR_HI).
 *   2. Not fixed delivery or level trigger: exit with INVALID_INT_TYPE, nothing else done.
 *   3. Vector < 16: exit with INVALID_IPI_VECTOR, nothing else done.
 *   4. Self shorthand: IRR[v] in the sender's own page, which the sender re-evaluates; the
 *      physical table is not consulted (so self-IPIs are immune to erratum 1235). No exit.
 *   5. Each target: invalid entry -> note INVALID_TARGET (skipped for a broadcast); valid ->
 *      IRR[v] in the page the entry points to, then IsRunning ? doorbell to its host APIC ID :
 *      note TARGET_NOT_RUNNING.
 *   6. Anything noted: AVIC_INCOMPLETE_IPI, trap-like, after every valid target's IRR bit was set.
 * When both causes were noted the exit reports INVALID_TARGET: KVM emulates the whole IPI for it
 * (kvm_apic_send_ipi reaches every destination, the non-running ones included), whereas for
 * TARGET_NOT_RUNNING it only kicks (avic_incomplete_ipi_interception), which would leave the
 * invalid targets without their interrupt. Which cause real hardware reports in that case is not
 * stated in our sources.
 * The hardware sets IRR with the same lack of ordering KVM worries about (it needs a barrier
 * between its IRR write and its IsRunning read); this function is one atomic step.
 * TMR is not touched: the path carries only edge interrupts and no source says it clears TMR.
 */
export function avicIcrWrite(
  m: Uint32Array,
  t: number,
  pages: number,
  self: number,
  icrLo: number,
  icrHi: number,
  targets: ArrayLike<number>,
  nTargets: number,
  broadcast: boolean,
  out: Uint32Array,
): AvicExit {
  m[self + AVIC_BACKING.ICR_LO] = icrLo;
  m[self + AVIC_BACKING.ICR_HI] = icrHi;
  out.fill(0, 0, AVIC_ICR_OUT.DOORBELL0);
  const v = icrLo & ICR_VECTOR;
  if ((icrLo & ICR_DELIVERY_MODE) !== 0 || (icrLo & ICR_TRIGGER_LEVEL) !== 0) {
    return incompleteIpi(out, AVIC_IPI_FAILURE.INVALID_INT_TYPE, 0);
  }
  if (v < 16) return incompleteIpi(out, AVIC_IPI_FAILURE.INVALID_IPI_VECTOR, 0);
  const shorthand = (icrLo >>> ICR_SHORTHAND_SHIFT) & 3;
  if (shorthand === SHORTHAND_SELF) {
    regSet(m, self + AVIC_BACKING.IRR, v);
    avicEvaluate(m, self);
    out[AVIC_ICR_OUT.IRR_SET] = 1;
    out[AVIC_ICR_OUT.SELF] = 1;
    return AVIC_EXIT.NONE;
  }
  const skipInvalid = broadcast || shorthand >= 2;
  let notRunningIndex = -1;
  let invalidIndex = -1;
  let irrSet = 0;
  let doorbells = 0;
  for (let i = 0; i < nTargets; i++) {
    const id = targets[i];
    if (!avicPhysValid(m, t, id)) {
      if (!skipInvalid && invalidIndex < 0) invalidIndex = id;
      continue;
    }
    regSet(m, avicBackingOffset(pages, avicPhysBackingPage(m, t, id)) + AVIC_BACKING.IRR, v);
    irrSet++;
    if (avicPhysIsRunning(m, t, id)) {
      out[AVIC_ICR_OUT.DOORBELL0 + doorbells] = avicPhysHostApicId(m, t, id);
      doorbells++;
    } else if (notRunningIndex < 0) {
      notRunningIndex = id;
    }
  }
  out[AVIC_ICR_OUT.IRR_SET] = irrSet;
  out[AVIC_ICR_OUT.DOORBELLS] = doorbells;
  let noted = 0;
  if (invalidIndex >= 0) noted |= 1 << AVIC_IPI_FAILURE.INVALID_TARGET;
  if (notRunningIndex >= 0) noted |= 1 << AVIC_IPI_FAILURE.TARGET_NOT_RUNNING;
  out[AVIC_ICR_OUT.NOTED] = noted;
  if (invalidIndex >= 0) return incompleteIpi(out, AVIC_IPI_FAILURE.INVALID_TARGET, invalidIndex);
  if (notRunningIndex >= 0) return incompleteIpi(out, AVIC_IPI_FAILURE.TARGET_NOT_RUNNING, notRunningIndex);
  return AVIC_EXIT.NONE;
}

function incompleteIpi(out: Uint32Array, cause: AvicIpiFailure, index: number): AvicExit {
  out[AVIC_ICR_OUT.EXIT] = AVIC_EXIT.INCOMPLETE_IPI;
  out[AVIC_ICR_OUT.CAUSE] = cause;
  out[AVIC_ICR_OUT.INDEX] = index;
  out[AVIC_ICR_OUT.NOTED] |= 1 << cause;
  return AVIC_EXIT.INCOMPLETE_IPI;
}

// ---------------------------------------------------------------------------------------------
// IOMMU guest virtual APIC (GA) mode
// ---------------------------------------------------------------------------------------------

/**
 * A 128-bit interrupt remapping table entry in GA format with GuestMode = 1 (AMD IOMMU spec, GA
 * mode; Linux struct irte_ga, fields_vapic view; hw-semantics.md §5.3):
 *   bit 0       RemapEn (valid)
 *   bit 1       SupIOPF (no_fault)
 *   bit 2       GALogIntr
 *   bit 5       GAPPI-disable (newer parts)
 *   bit 6       IsRun
 *   bit 7       GuestMode
 *   bits 31:8   Destination[23:0] (host APIC ID)
 *   bits 63:32  GATag
 *   bits 71:64  vector (the guest vector)
 *   bits 115:76 GA root pointer: backing-page address bits 51:12 (model: slot index)
 *   bits 127:120 Destination[31:24]
 * In the World an IRTE is these 128 bits as four 32-bit words, least significant first.
 */
export const GA_IRTE = { W0: 0, W1: 1, W2: 2, W3: 3, SIZE: 4 } as const;

/** Bit masks within the four words (W1 is GATag whole). */
export const GA_IRTE_BITS = {
  /** W0 */
  REMAP_EN: 1 << 0,
  SUP_IOPF: 1 << 1,
  GA_LOG_INTR: 1 << 2,
  GA_PPI_DISABLE: 1 << 5,
  IS_RUN: 1 << 6,
  GUEST_MODE: 1 << 7,
  DEST_LO_SHIFT: 8,
  /** W2: vector in bits 7:0; GA root pointer bits 19:0 in bits 31:12. */
  VECTOR: 0xff,
  ROOT_LO_SHIFT: 12,
  /** W3: GA root pointer bits 39:20 in bits 19:0; Destination[31:24] in bits 31:24. */
  ROOT_HI: 0xfffff,
  DEST_HI_SHIFT: 24,
} as const;

export interface GaIrte {
  remapEn: boolean;
  supIopf: boolean;
  gaLogIntr: boolean;
  gaPpiDisable: boolean;
  isRun: boolean;
  guestMode: boolean;
  /** Host APIC ID the doorbell goes to (32 bits, split 23:0 / 31:24 in the entry). */
  destination: number;
  /** Opaque tag written to the GA log; KVM encodes the VM ID and vCPU index in it. */
  gaTag: number;
  vector: number;
  /** Backing-page frame number (model: slot index). */
  gaRootPtr: number;
}

/** Encodes a GA-mode IRTE as its 128-bit value. Throws RangeError on an out-of-range field. */
export function gaIrteEncode(e: GaIrte): bigint {
  checkField('destination', e.destination, 0xffffffff);
  checkField('gaTag', e.gaTag, 0xffffffff);
  checkField('vector', e.vector, 0xff);
  checkField('gaRootPtr', e.gaRootPtr, PFN_MAX);
  return (
    (e.remapEn ? 1n : 0n) |
    (e.supIopf ? 1n << 1n : 0n) |
    (e.gaLogIntr ? 1n << 2n : 0n) |
    (e.gaPpiDisable ? 1n << 5n : 0n) |
    (e.isRun ? 1n << 6n : 0n) |
    (e.guestMode ? 1n << 7n : 0n) |
    (BigInt(e.destination & 0xffffff) << 8n) |
    (BigInt(e.gaTag) << 32n) |
    (BigInt(e.vector) << 64n) |
    (BigInt(e.gaRootPtr) << 76n) |
    (BigInt(e.destination >>> 24) << 120n)
  );
}

/** Decodes a 128-bit GA-mode IRTE; reserved bits are ignored. */
export function gaIrteDecode(x: bigint): GaIrte {
  const bit = (n: bigint): boolean => ((x >> n) & 1n) === 1n;
  return {
    remapEn: bit(0n),
    supIopf: bit(1n),
    gaLogIntr: bit(2n),
    gaPpiDisable: bit(5n),
    isRun: bit(6n),
    guestMode: bit(7n),
    destination: (Number((x >> 8n) & 0xffffffn) | (Number((x >> 120n) & 0xffn) << 24)) >>> 0,
    gaTag: Number((x >> 32n) & 0xffffffffn),
    vector: Number((x >> 64n) & 0xffn),
    gaRootPtr: Number((x >> 76n) & 0xff_ffff_ffffn),
  };
}

/** Stores an IRTE (setup, and the IOMMU driver's whole-entry cmpxchg16b updates). */
export function gaIrteWrite(m: Uint32Array, o: number, e: GaIrte): void {
  const x = gaIrteEncode(e);
  for (let i = 0; i < GA_IRTE.SIZE; i++) m[o + i] = Number((x >> BigInt(32 * i)) & 0xffffffffn);
}

/** The IRTE as a 128-bit value (traces and tests). */
export function gaIrteWord(m: Uint32Array, o: number): bigint {
  let x = 0n;
  for (let i = GA_IRTE.SIZE - 1; i >= 0; i--) x = (x << 32n) | BigInt(m[o + i]);
  return x;
}

export function gaIrteRead(m: Uint32Array, o: number): GaIrte {
  return gaIrteDecode(gaIrteWord(m, o));
}

/** Destination host APIC ID: the doorbell target when IsRun = 1. */
export function gaIrteDestination(m: Uint32Array, o: number): number {
  return (
    ((m[o + GA_IRTE.W0] >>> GA_IRTE_BITS.DEST_LO_SHIFT) |
      ((m[o + GA_IRTE.W3] >>> GA_IRTE_BITS.DEST_HI_SHIFT) << 24)) >>>
    0
  );
}

export function gaIrteVector(m: Uint32Array, o: number): number {
  return m[o + GA_IRTE.W2] & GA_IRTE_BITS.VECTOR;
}

export function gaIrteRootPtr(m: Uint32Array, o: number): number {
  return (
    (m[o + GA_IRTE.W2] >>> GA_IRTE_BITS.ROOT_LO_SHIFT) + (m[o + GA_IRTE.W3] & GA_IRTE_BITS.ROOT_HI) * TWO_20
  );
}

/**
 * The driver's update of IsRun and Destination (Linux amd_iommu_update_ga, called from KVM
 * avic_vcpu_load/put): one 128-bit store, one step here.
 */
export function gaIrteSetRun(m: Uint32Array, o: number, isRun: boolean, destination: number): void {
  const d = destination >>> 0;
  let w0 = (m[o + GA_IRTE.W0] & 0xff) | ((d & 0xffffff) << GA_IRTE_BITS.DEST_LO_SHIFT);
  if (isRun) w0 |= GA_IRTE_BITS.IS_RUN;
  else w0 &= ~GA_IRTE_BITS.IS_RUN;
  m[o + GA_IRTE.W0] = w0;
  m[o + GA_IRTE.W3] = (m[o + GA_IRTE.W3] & 0x00ffffff) | ((d >>> 24) << GA_IRTE_BITS.DEST_HI_SHIFT);
}

/** Sets or clears GALogIntr (KVM sets it only while the vCPU blocks). */
export function gaIrteSetGaLogIntr(m: Uint32Array, o: number, on: boolean): void {
  if (on) m[o + GA_IRTE.W0] |= GA_IRTE_BITS.GA_LOG_INTR;
  else m[o + GA_IRTE.W0] &= ~GA_IRTE_BITS.GA_LOG_INTR;
}

/** Outcome of iommuGaPost. */
export const GA_POST = {
  /** RemapEn = 0 or GuestMode = 0: not a GA-mode posting; nothing done here. */
  NOT_GA: 0,
  /** IRR set and IsRun = 1: the IOMMU rang the doorbell to gaIrteDestination. */
  DOORBELL: 1,
  /** IRR set, IsRun = 0, GALogIntr = 1: {GATag, device ID} appended, GA-log interrupt raised. */
  LOGGED: 2,
  /** IRR set, IsRun = 0, GALogIntr = 0: nobody is told (AMD's analogue of SN = 1). */
  SILENT: 3,
  /** IRR set, IsRun = 0, GALogIntr = 1, but the log was full or stopped: the entry was dropped. */
  LOG_DROPPED: 4,
} as const;
export type GaPost = (typeof GA_POST)[keyof typeof GA_POST];

/**
 * The IOMMU posts a device interrupt through a GA-mode IRTE (AMD IOMMU spec, GA mode;
 * hw-semantics.md §5.3 and §7.2 row 20), one atomic step:
 *   1. IRR[vector] = 1 in the backing page at GA root pointer (pages: slot 0 offset);
 *   2. IsRun = 1 -> doorbell to Destination (DOORBELL; the system layer delivers it);
 *   3. else GALogIntr = 1 -> append {GATag, deviceId} to the GA log and raise its interrupt
 *      (LOGGED), or LOG_DROPPED when the log cannot take it;
 *   4. else SILENT.
 * There is no ON-style coalescing: the doorbell or log entry happens even when IRR[vector] was
 * already set (no source says otherwise); the IRR bit itself deduplicates the interrupt.
 */
export function iommuGaPost(
  m: Uint32Array,
  irte: number,
  pages: number,
  log: number,
  deviceId: number,
): GaPost {
  const w0 = m[irte + GA_IRTE.W0];
  if ((w0 & GA_IRTE_BITS.REMAP_EN) === 0 || (w0 & GA_IRTE_BITS.GUEST_MODE) === 0) return GA_POST.NOT_GA;
  regSet(m, avicBackingOffset(pages, gaIrteRootPtr(m, irte)) + AVIC_BACKING.IRR, gaIrteVector(m, irte));
  if ((w0 & GA_IRTE_BITS.IS_RUN) !== 0) return GA_POST.DOORBELL;
  if ((w0 & GA_IRTE_BITS.GA_LOG_INTR) !== 0) {
    return gaLogAppend(m, log, m[irte + GA_IRTE.W1], deviceId) ? GA_POST.LOGGED : GA_POST.LOG_DROPPED;
  }
  return GA_POST.SILENT;
}

// ---------------------------------------------------------------------------------------------
// GA log
// ---------------------------------------------------------------------------------------------

/**
 * The IOMMU's guest virtual APIC log: a ring of 8-byte entries in memory with head and tail
 * pointer registers (MMIO 2040h/2048h; the model keeps slot indices, the registers hold byte
 * offsets = index * 8) and three bits of the status register (MMIO 2020h). Entry format (Linux
 * GA_TAG, GA_DEVID, GA_REQ_TYPE): bits 31:0 GATag, bits 47:32 device ID, bits 63:60 type
 * (1 = GA_GUEST_NR, "guest interrupt not running"); in the World word 0 = bits 31:0, word 1 =
 * bits 63:32. The IOMMU writes at TAIL, software consumes from HEAD; HEAD == TAIL means empty, so a
 * ring of SLOTS slots holds at most SLOTS - 1 entries (GA_LOG_CAPACITY).
 */
export const GA_LOG = {
  HEAD: 0,
  TAIL: 1,
  /** GA_LOG_STATUS bits. */
  STATUS: 2,
  ENTRIES: 3,
  ENTRY_WORDS: 2,
  SLOTS: 8,
  SIZE: 3 + 2 * 8,
} as const;

/** Usable entries of the ring. */
export const GA_LOG_CAPACITY = GA_LOG.SLOTS - 1;

/** Status bits, at their positions in MMIO 2020h (Linux MMIO_STATUS_GALOG_*_MASK). */
export const GA_LOG_STATUS = {
  /** GALogRun: the IOMMU is logging. Cleared by an overflow; set again by the restart. */
  RUN: 1 << 8,
  /** GALOverflow: an entry found the log full and was dropped; logging stopped (W1C). */
  OVERFLOW: 1 << 9,
  /** GAInt: an entry was written and the GA-log interrupt raised (W1C by the driver). */
  INT: 1 << 10,
} as const;

/** Entry type GA_GUEST_NR in bits 63:60 (word 1 bits 31:28). */
const GA_ENTRY_GUEST_NR = 1 << 28;

/** Empty log, logging on (GALogEn set by the driver at init). */
export function gaLogInit(m: Uint32Array, log: number): void {
  m.fill(0, log, log + GA_LOG.SIZE);
  m[log + GA_LOG.STATUS] = GA_LOG_STATUS.RUN;
}

export function gaLogCount(m: Uint32Array, log: number): number {
  return (m[log + GA_LOG.TAIL] - m[log + GA_LOG.HEAD] + GA_LOG.SLOTS) % GA_LOG.SLOTS;
}

/**
 * The IOMMU appends {gaTag, deviceId}. Returns false when the entry was dropped: logging is stopped
 * (after an overflow, until the restart), or the ring is full, in which case GALOverflow is set and
 * GALogRun cleared. A written entry sets GAInt (the GA-log interrupt). The sources do not say
 * whether an overflow raises the IOMMU interrupt by itself; the driver checks GALOverflow even
 * without GAInt (commit "iommu/amd: Handle GALog overflows"), and so should the system layer.
 */
export function gaLogAppend(m: Uint32Array, log: number, gaTag: number, deviceId: number): boolean {
  const status = m[log + GA_LOG.STATUS];
  if ((status & GA_LOG_STATUS.RUN) === 0) return false;
  const tail = m[log + GA_LOG.TAIL];
  const next = (tail + 1) % GA_LOG.SLOTS;
  if (next === m[log + GA_LOG.HEAD]) {
    m[log + GA_LOG.STATUS] = (status | GA_LOG_STATUS.OVERFLOW) & ~GA_LOG_STATUS.RUN;
    return false;
  }
  const e = log + GA_LOG.ENTRIES + tail * GA_LOG.ENTRY_WORDS;
  m[e] = gaTag;
  m[e + 1] = GA_ENTRY_GUEST_NR | (deviceId & 0xffff);
  m[log + GA_LOG.TAIL] = next;
  m[log + GA_LOG.STATUS] = status | GA_LOG_STATUS.INT;
  return true;
}

/**
 * The driver consumes one entry (Linux iommu_poll_ga_log): writes GATag to out[o] and the device
 * ID to out[o + 1], advances HEAD, returns true; returns false when the log is empty.
 */
export function gaLogPop(m: Uint32Array, log: number, out: Uint32Array, o: number): boolean {
  const head = m[log + GA_LOG.HEAD];
  if (head === m[log + GA_LOG.TAIL]) return false;
  const e = log + GA_LOG.ENTRIES + head * GA_LOG.ENTRY_WORDS;
  out[o] = m[e];
  out[o + 1] = m[e + 1] & 0xffff;
  m[log + GA_LOG.HEAD] = (head + 1) % GA_LOG.SLOTS;
  return true;
}

/** The driver acknowledges the GA-log interrupt (write 1 to clear GAInt). */
export function gaLogClearInt(m: Uint32Array, log: number): void {
  m[log + GA_LOG.STATUS] &= ~GA_LOG_STATUS.INT;
}

/**
 * The restart procedure after an overflow (AMD IOMMU spec §2.7.4 as quoted in the Linux commit
 * "iommu/amd: Handle GALog overflows"; Linux amd_iommu_restart_ga_log): only when GALogRun = 0,
 * clear GALOverflow and enable logging again; head, tail and the entries are kept (the driver
 * restarts without relocating or resizing). Returns false, doing nothing, while GALogRun = 1.
 * One step here; the driver's disable / W1C / enable sequence has no interleaving the IOMMU can
 * observe in this model because logging is stopped throughout.
 */
export function gaLogRestart(m: Uint32Array, log: number): boolean {
  const status = m[log + GA_LOG.STATUS];
  if ((status & GA_LOG_STATUS.RUN) !== 0) return false;
  m[log + GA_LOG.STATUS] = (status & ~GA_LOG_STATUS.OVERFLOW) | GA_LOG_STATUS.RUN;
  return true;
}
