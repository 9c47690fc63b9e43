/**
 * The World: the whole machine as one Uint32Array. This file fixes where each unit's block sits
 * (one LAPIC per pCPU; a virtual-APIC page, a posted-interrupt descriptor and guest CPU state per
 * vCPU; the I/O APIC; on an AVIC machine the AVIC region) and names every field, so that traces, expectations and property monitors
 * can all speak of "vcpu0.PID.ON" or "pcpu1.IRR[0xf2]" without knowing offsets.
 */
import {
  AVIC_BACKING,
  AVIC_PHYS_BITS,
  AVIC_PHYS_ENTRY,
  avicPpr,
  GA_IRTE,
  GA_IRTE_BITS,
  GA_LOG,
  GA_LOG_STATUS,
  gaIrteDestination,
  gaLogCount,
} from '../hw/avic.ts';
import { IOAPIC } from '../hw/ioapic.ts';
import { LAPIC } from '../hw/lapic.ts';
import { PID } from '../hw/pid.ts';
import { VAPIC } from '../hw/vapic.ts';

/** Per-pCPU software-visible state beside its LAPIC. */
export const PCPU = {
  /** PCPU_MODE_*: host (VMX root) or running a guest (non-root). */
  MODE: 0,
  /** Index + 1 of the vCPU whose VMCS is current on this pCPU (0: none). */
  VMCS: 1,
  /**
   * Host RFLAGS.IF in root mode: 1 when the host takes interrupts, 0 when not, HOST_IF_IN_HANDLER
   * while a handler entered through an interrupt gate with IF = 1 runs (IF is 0 until its IRET).
   */
  HOST_IF: 2,
  /**
   * Bitmask of the vCPUs on whose behalf a notification-vector interrupt is pending in this
   * pCPU's LAPIC (instrumentation for the wrong-vCPU property; hardware does not keep it).
   */
  PI_FOR: 3,
  SIZE: 4,
} as const;
/**
 * PCPU.HOST_IF while a host handler that the machine does not end at once (hostAutoEoi false) runs:
 * the interrupt gate cleared IF (SDM Vol. 3A 6.12.1.3), and the handler's IRET, which the model
 * takes at its EOI (host.eoi), restores the saved IF = 1. Read as IF = 0.
 */
export const HOST_IF_IN_HANDLER = 2;
export const PCPU_MODE_ROOT = 0;
export const PCPU_MODE_GUEST = 1;

/** Per-vCPU guest CPU state beside its virtual-APIC page and descriptor. */
export const VCPU = {
  /** VCPU_F_* flags. */
  FLAGS: 0,
  /** Index + 1 of the pCPU the vCPU is loaded on (0: none). */
  PCPU: 1,
  /** Vectors whose guest handler has run at least once. */
  DELIVERED: 2,
  /** Vectors posted to this vCPU by any path (for the no-lost-interrupt property). */
  POSTED: 10,
  SIZE: 18,
} as const;
/** Guest RFLAGS.IF. */
export const VCPU_F_IF = 1 << 0;
/** The guest executed HLT and has not been woken. */
export const VCPU_F_HALTED = 1 << 1;
/** The guest's handlers write EOI as soon as they run (a convenience for scenarios). */
export const VCPU_F_AUTO_EOI = 1 << 2;
/**
 * Blocking by STI: the guest executed STI with IF = 0 and has not completed the next instruction
 * (SDM Vol. 3A 6.8.3; hw/interruptibility.ts). No maskable or virtual interrupt is taken meanwhile.
 */
export const VCPU_F_STI_SHADOW = 1 << 3;
/** A guest NMI handler runs and has not executed IRET: NMIs are blocked (SDM Vol. 3A 6.7.1). */
export const VCPU_F_NMI_BLOCKED = 1 << 4;
/**
 * NMIs KVM holds for the vCPU (vcpu->arch.nmi_pending after process_nmi, 0-2; hw/nmi.ts
 * kvmProcessNmi), in flags bits 6:5.
 */
export const VCPU_NMI_PENDING_SHIFT = 5;
export const VCPU_NMI_PENDING_MASK = 3 << VCPU_NMI_PENDING_SHIFT;

export type FieldKind = 'reg256' | 'u8' | 'u32' | 'bool' | 'index1' | 'flags' | 'enum';

export interface FieldDesc {
  name: string;
  offset: number;
  kind: FieldKind;
  /** For kind 'flags': the name of each bit, or '' for bits that are not shown. */
  bits?: readonly string[];
  /** For kind 'enum': the name of each value (a value without a name prints as its number). */
  names?: readonly string[];
  /** For kind 'bool' or a sub-field: mask and shift inside the word. */
  mask?: number;
  shift?: number;
  /**
   * For a scalar that the hardware does not store as one word (a vPPR derived from TPR and ISR, the
   * number of entries in a ring): computes it from the block at `base`. `offset` is then unused.
   */
  get?: (m: Uint32Array, base: number) => number;
}

/** Fields of each block, in the order traces print them. */
export const LAPIC_FIELDS: readonly FieldDesc[] = [
  { name: 'IRR', offset: LAPIC.IRR, kind: 'reg256' },
  { name: 'ISR', offset: LAPIC.ISR, kind: 'reg256' },
  { name: 'TMR', offset: LAPIC.TMR, kind: 'reg256' },
  { name: 'TPR', offset: LAPIC.TPR, kind: 'u8' },
  { name: 'SVR', offset: LAPIC.SVR, kind: 'u32' },
  { name: 'ESR', offset: LAPIC.ESR, kind: 'u32' },
];

export const PCPU_FIELDS: readonly FieldDesc[] = [
  { name: 'mode', offset: PCPU.MODE, kind: 'u32' },
  { name: 'vmcs', offset: PCPU.VMCS, kind: 'index1' },
  { name: 'hostIF', offset: PCPU.HOST_IF, kind: 'u32' },
  { name: 'piFor', offset: PCPU.PI_FOR, kind: 'u32' },
];

export const VAPIC_FIELDS: readonly FieldDesc[] = [
  { name: 'vIRR', offset: VAPIC.VIRR, kind: 'reg256' },
  { name: 'vISR', offset: VAPIC.VISR, kind: 'reg256' },
  { name: 'VTPR', offset: VAPIC.VTPR, kind: 'u8' },
  { name: 'VPPR', offset: VAPIC.VPPR, kind: 'u8' },
  { name: 'RVI', offset: VAPIC.RVI, kind: 'u8' },
  { name: 'SVI', offset: VAPIC.SVI, kind: 'u8' },
  { name: 'EOIExitBitmap', offset: VAPIC.EOI_EXIT, kind: 'reg256' },
  { name: 'vapic', offset: VAPIC.FLAGS, kind: 'flags', bits: ['VID', 'irqWindowExiting', 'recognized'] },
];

export const PID_FIELDS: readonly FieldDesc[] = [
  { name: 'PID.PIR', offset: PID.PIR, kind: 'reg256' },
  { name: 'PID.ON', offset: PID.CONTROL, kind: 'bool', mask: 1, shift: 0 },
  { name: 'PID.SN', offset: PID.CONTROL, kind: 'bool', mask: 1, shift: 1 },
  { name: 'PID.NV', offset: PID.CONTROL, kind: 'u8', mask: 0xff, shift: 16 },
  { name: 'PID.NDST', offset: PID.NDST, kind: 'u32' },
];

export const VCPU_FIELDS: readonly FieldDesc[] = [
  { name: 'IF', offset: VCPU.FLAGS, kind: 'bool', mask: 1, shift: 0 },
  { name: 'halted', offset: VCPU.FLAGS, kind: 'bool', mask: 1, shift: 1 },
  { name: 'stiShadow', offset: VCPU.FLAGS, kind: 'bool', mask: 1, shift: 3 },
  { name: 'nmiBlocked', offset: VCPU.FLAGS, kind: 'bool', mask: 1, shift: 4 },
  { name: 'nmiPending', offset: VCPU.FLAGS, kind: 'u8', mask: 3, shift: 5 },
  { name: 'pcpu', offset: VCPU.PCPU, kind: 'index1' },
  { name: 'delivered', offset: VCPU.DELIVERED, kind: 'reg256' },
  { name: 'posted', offset: VCPU.POSTED, kind: 'reg256' },
];

/** A block instance in the World: its name prefix ("vcpu0"), base offset and fields. */
export interface Block {
  prefix: string;
  base: number;
  fields: readonly FieldDesc[];
}

/** Offsets of every block for a machine of a given size. */
export interface Layout {
  nPcpu: number;
  nVcpu: number;
  /** LAPIC block of pCPU p: lapic[p]; its PCPU block: pcpu[p]. */
  lapic: number[];
  pcpu: number[];
  /** Per vCPU: virtual-APIC page, descriptor, guest state. */
  vapic: number[];
  pid: number[];
  vcpu: number[];
  /** Extra blocks added by other units (I/O APIC, AVIC, KVM state), by name. */
  extra: Map<string, number>;
  /**
   * Offsets of KVM's per-vCPU blocks (`kvm.vcpuN`), resolved once so the checker's steps do not
   * look names up (empty for machines without KVM state).
   */
  kvmVcpu: number[];
  /** Where the AVIC structures sit, on a machine with `features.avic` (set by initWorld). */
  avic?: AvicRegion;
  /** Per vCPU: its guest-APIC register block, on machines with `apicRegisters` (guest-apic-block.ts). */
  guestApic?: number[];
  size: number;
  blocks: Block[];
}

/** A block added by another unit; `prefix` names its fields in traces (default: `name`). */
export interface ExtraBlock {
  name: string;
  prefix?: string;
  size: number;
  fields: readonly FieldDesc[];
}

export function makeLayout(nPcpu: number, nVcpu: number, extras: readonly ExtraBlock[] = []): Layout {
  let at = 0;
  const take = (n: number) => {
    const o = at;
    at += n;
    return o;
  };
  const L: Layout = {
    nPcpu,
    nVcpu,
    lapic: [],
    pcpu: [],
    vapic: [],
    pid: [],
    vcpu: [],
    extra: new Map(),
    kvmVcpu: [],
    size: 0,
    blocks: [],
  };
  for (let p = 0; p < nPcpu; p++) {
    L.lapic.push(take(LAPIC.SIZE));
    L.pcpu.push(take(PCPU.SIZE));
    L.blocks.push({ prefix: `pcpu${p}`, base: L.pcpu[p], fields: PCPU_FIELDS });
    L.blocks.push({ prefix: `pcpu${p}`, base: L.lapic[p], fields: LAPIC_FIELDS });
  }
  for (let x = 0; x < nVcpu; x++) {
    L.vcpu.push(take(VCPU.SIZE));
    L.vapic.push(take(VAPIC.SIZE));
    L.pid.push(take(PID.SIZE));
    L.blocks.push({ prefix: `vcpu${x}`, base: L.vcpu[x], fields: VCPU_FIELDS });
    L.blocks.push({ prefix: `vcpu${x}`, base: L.vapic[x], fields: VAPIC_FIELDS });
    L.blocks.push({ prefix: `vcpu${x}`, base: L.pid[x], fields: PID_FIELDS });
  }
  for (const e of extras) {
    const o = take(e.size);
    L.extra.set(e.name, o);
    L.blocks.push({ prefix: e.prefix ?? e.name, base: o, fields: e.fields });
  }
  for (let x = 0; x < nVcpu; x++) {
    const k = L.extra.get(`kvm.vcpu${x}`);
    if (k !== undefined) L.kvmVcpu.push(k);
  }
  L.size = at;
  return L;
}

/** Fields of the I/O APIC block for the pins a machine programs. */
export function ioapicFields(pins: readonly number[]): FieldDesc[] {
  const out: FieldDesc[] = [
    { name: 'lines', offset: IOAPIC.LINES, kind: 'u32' },
    { name: 'id', offset: IOAPIC.ID, kind: 'u32' },
  ];
  for (const p of pins) {
    out.push({ name: `pin${p}.remoteIRR`, offset: IOAPIC.REDTBL + 2 * p, kind: 'bool', mask: 1, shift: 14 });
    out.push({ name: `pin${p}.masked`, offset: IOAPIC.REDTBL + 2 * p, kind: 'bool', mask: 1, shift: 16 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// AVIC (features.avic)
// ---------------------------------------------------------------------------------------------

/**
 * Entries of the physical APIC ID table, one per guest APIC ID 0..max index. KVM sizes the table
 * by the largest index AVIC accepts (svm.h AVIC_MAX_PHYSICAL_ID 0xFE for xAVIC,
 * X2AVIC_MAX_PHYSICAL_ID 0x1FF for x2AVIC), so a guest APIC ID must be below this.
 */
export function avicTableSize(x2apic: boolean): number {
  return x2apic ? 0x200 : 0xff;
}

/**
 * The AVIC region of the World, one contiguous extra block named 'avic':
 *   pages   the backing pages, vCPU x's in slot x (its page frame number in the model: see
 *           hw/avic.ts "Addresses"), each AVIC_BACKING.SIZE words;
 *   table   the physical APIC ID table, tableSize entries of AVIC_PHYS_ENTRY.SIZE words;
 *   irtes   the GA-mode IRTEs of machine.irtes, GA_IRTE.SIZE words each;
 *   log     the IOMMU's GA log (GA_LOG.SIZE words).
 */
export interface AvicRegion {
  pages: number;
  table: number;
  tableSize: number;
  irtes: number;
  log: number;
  size: number;
}

export function avicRegion(base: number, nVcpu: number, nIrte: number, tableSize: number): AvicRegion {
  const pages = base;
  const table = pages + nVcpu * AVIC_BACKING.SIZE;
  const irtes = table + tableSize * AVIC_PHYS_ENTRY.SIZE;
  const log = irtes + nIrte * GA_IRTE.SIZE;
  return { pages, table, tableSize, irtes, log, size: log + GA_LOG.SIZE - base };
}

/** Offset of vCPU x's backing page. */
export function avicPageOffset(a: AvicRegion, x: number): number {
  return a.pages + x * AVIC_BACKING.SIZE;
}

/** Offset of the physical APIC ID table entry of a guest APIC ID. */
export function avicEntryOffset(a: AvicRegion, apicId: number): number {
  return a.table + apicId * AVIC_PHYS_ENTRY.SIZE;
}

/** Offset of IRTE i. */
export function avicIrteOffset(a: AvicRegion, i: number): number {
  return a.irtes + i * GA_IRTE.SIZE;
}

/** A vCPU's backing page, as `vcpuN.avic.*`. */
export const AVIC_PAGE_FIELDS: readonly FieldDesc[] = [
  { name: 'avic.IRR', offset: AVIC_BACKING.IRR, kind: 'reg256' },
  { name: 'avic.ISR', offset: AVIC_BACKING.ISR, kind: 'reg256' },
  { name: 'avic.TMR', offset: AVIC_BACKING.TMR, kind: 'reg256' },
  { name: 'avic.TPR', offset: AVIC_BACKING.TPR, kind: 'u8', mask: 0xff, shift: 0 },
  { name: 'avic.PPR', offset: 0, kind: 'u8', get: avicPpr },
  { name: 'avic.ICR', offset: AVIC_BACKING.ICR_LO, kind: 'u32' },
  { name: 'avic.ICR2', offset: AVIC_BACKING.ICR_HI, kind: 'u32' },
  { name: 'avic.recognized', offset: AVIC_BACKING.PEND, kind: 'u8' },
];

/** A vCPU's entry in the physical APIC ID table (the block's base is the entry), as `vcpuN.avic.*`. */
export const AVIC_ENTRY_FIELDS: readonly FieldDesc[] = [
  {
    name: 'avic.IsRunning',
    offset: AVIC_PHYS_ENTRY.HI,
    kind: 'bool',
    mask: 1,
    shift: Math.log2(AVIC_PHYS_BITS.IS_RUNNING),
  },
  { name: 'avic.Valid', offset: AVIC_PHYS_ENTRY.HI, kind: 'bool', mask: 1, shift: 31 },
  {
    name: 'avic.hostApicId',
    offset: AVIC_PHYS_ENTRY.LO,
    kind: 'u32',
    mask: AVIC_PHYS_BITS.HOST_APIC_ID,
    shift: 0,
  },
  {
    name: 'avic.backingPage',
    offset: 0,
    kind: 'u32',
    get: (m, o) =>
      (m[o + AVIC_PHYS_ENTRY.LO] >>> AVIC_PHYS_BITS.BACKING_LO_SHIFT) +
      (m[o + AVIC_PHYS_ENTRY.HI] & AVIC_PHYS_BITS.BACKING_HI) * 2 ** 20,
  },
];

/** A GA-mode IRTE, as `irteN.*`. */
export const GA_IRTE_FIELDS: readonly FieldDesc[] = [
  { name: 'IsRun', offset: GA_IRTE.W0, kind: 'bool', mask: 1, shift: Math.log2(GA_IRTE_BITS.IS_RUN) },
  {
    name: 'GALogIntr',
    offset: GA_IRTE.W0,
    kind: 'bool',
    mask: 1,
    shift: Math.log2(GA_IRTE_BITS.GA_LOG_INTR),
  },
  { name: 'dest', offset: 0, kind: 'u32', get: gaIrteDestination },
  { name: 'vector', offset: GA_IRTE.W2, kind: 'u8', mask: GA_IRTE_BITS.VECTOR, shift: 0 },
  { name: 'GATag', offset: GA_IRTE.W1, kind: 'u32' },
];

/** The GA log, as `galog.*`. */
export const GA_LOG_FIELDS: readonly FieldDesc[] = [
  { name: 'count', offset: 0, kind: 'u32', get: gaLogCount },
  {
    name: 'GAInt',
    offset: GA_LOG.STATUS,
    kind: 'bool',
    mask: 1,
    shift: Math.log2(GA_LOG_STATUS.INT),
  },
  {
    name: 'GALogRun',
    offset: GA_LOG.STATUS,
    kind: 'bool',
    mask: 1,
    shift: Math.log2(GA_LOG_STATUS.RUN),
  },
  {
    name: 'GALOverflow',
    offset: GA_LOG.STATUS,
    kind: 'bool',
    mask: 1,
    shift: Math.log2(GA_LOG_STATUS.OVERFLOW),
  },
];

/**
 * The named views into the AVIC region, in the order traces print them: per vCPU its backing page
 * and its table entry (at its guest APIC ID), then each IRTE, then the GA log.
 */
export function avicBlocks(a: AvicRegion, apicIds: readonly number[], nIrte: number): Block[] {
  const out: Block[] = [];
  apicIds.forEach((id, x) => {
    out.push({ prefix: `vcpu${x}`, base: avicPageOffset(a, x), fields: AVIC_PAGE_FIELDS });
    out.push({ prefix: `vcpu${x}`, base: avicEntryOffset(a, id), fields: AVIC_ENTRY_FIELDS });
  });
  for (let i = 0; i < nIrte; i++)
    out.push({ prefix: `irte${i}`, base: avicIrteOffset(a, i), fields: GA_IRTE_FIELDS });
  out.push({ prefix: 'galog', base: a.log, fields: GA_LOG_FIELDS });
  return out;
}
