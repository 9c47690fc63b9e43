/**
 * Interrupt Command Register (ICR): the register a local APIC writes to send an IPI, its two
 * encodings, and the resolution of its destination to a set of local APICs.
 *
 * - xAPIC: two 32-bit MMIO registers, ICR low at 300H and ICR high (ICR2) at 310H, with the 8-bit
 *   destination in bits 31:24 of the high word. The write to the low word sends, so software writes
 *   the high word first (SDM Vol. 3A, "Interrupt Command Register (ICR)").
 * - x2APIC: one 64-bit MSR 830H with a 32-bit destination in bits 63:32; a single WRMSR sends
 *   (SDM Vol. 3A, "ICR Operation in x2APIC Mode"). The 64-bit value is passed as a lo/hi pair of
 *   unsigned 32-bit numbers (lo = bits 31:0 = EAX, hi = bits 63:32 = EDX of the WRMSR), never as a
 *   BigInt, so that it can sit in the World's Uint32Array. `x2apicIcrToBigInt` and
 *   `x2apicIcrFromBigInt` convert for display and tests.
 *
 * Errors: the decoders judge a register value written by a guest, so a bad value is an expected
 * outcome and comes back as `{ ok: false, reason }`. The encoders and the resolver take values built
 * by the model or a scenario, so a value out of range there is a user error and throws `UserError`.
 *
 * Encoders and decoders return plain objects: they run when an ICR is written, not per state.
 * `resolveDest` can fill a caller-owned array to avoid allocating on a hot path.
 */

import { UserError } from '../../errors.ts';

/** Delivery mode, ICR bits 10:8. 3 and 7 are reserved for IPIs; ExtINT exists only in LVT and I/O APIC entries. */
export const DELIVERY_MODE = {
  FIXED: 0,
  LOWEST_PRIORITY: 1,
  SMI: 2,
  NMI: 4,
  INIT: 5,
  STARTUP: 6,
} as const;
export type DeliveryMode = (typeof DELIVERY_MODE)[keyof typeof DELIVERY_MODE];

/** Destination mode, ICR bit 11 (kernel APIC_DEST_PHYSICAL / APIC_DEST_LOGICAL). */
export const DEST_MODE = { PHYSICAL: 0, LOGICAL: 1 } as const;
export type DestMode = (typeof DEST_MODE)[keyof typeof DEST_MODE];

/** Trigger mode, ICR bit 15 (1 = level), as in the TMR and the I/O APIC redirection entry. */
export const TRIGGER_MODE = { EDGE: 0, LEVEL: 1 } as const;
export type TriggerMode = (typeof TRIGGER_MODE)[keyof typeof TRIGGER_MODE];

/** Destination shorthand, ICR bits 19:18 (kernel APIC_DEST_NOSHORT, _SELF, _ALLINC, _ALLBUT). */
export const SHORTHAND = { NONE: 0, SELF: 1, ALL_INCLUDING_SELF: 2, ALL_EXCLUDING_SELF: 3 } as const;
export type Shorthand = (typeof SHORTHAND)[keyof typeof SHORTHAND];

/** Which register format an ICR (and a local APIC) uses. */
export type ApicMode = 'xapic' | 'x2apic';

/** Physical destination that every local APIC accepts (SDM: "all 1s" is a broadcast). */
export const XAPIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffffffff;

/** DFR values (offset 0E0H): model in bits 31:28, bits 27:0 reserved and read as ones. */
export const DFR_FLAT = 0xffffffff;
export const DFR_CLUSTER = 0x0fffffff;

/** Bit positions of the low 32 bits, shared by both formats. */
const VECTOR_MASK = 0xff;
const DM_SHIFT = 8;
const DEST_MODE_BIT = 1 << 11;
const DELIVERY_STATUS_BIT = 1 << 12;
const LEVEL_BIT = 1 << 14;
const TRIGGER_BIT = 1 << 15;
const SHORTHAND_SHIFT = 18;

/**
 * Reserved bits of the x2APIC ICR low word that must be zero: 31:20, 17:16 and 13. KVM rejects a
 * WRMSR with any of them set (lapic.c: X2APIC_ICR_RESERVED_BITS, the write fails and the guest gets
 * #GP).
 */
export const X2APIC_ICR_RESERVED_LO = 0xfff32000;
/** Bit 12, the xAPIC delivery-status (busy) bit; it does not exist in x2APIC mode. */
export const ICR_BUSY = DELIVERY_STATUS_BIT;

/** A decoded ICR. All numbers are unsigned. */
export interface Icr {
  /** Bits 7:0. */
  vector: number;
  deliveryMode: DeliveryMode;
  destMode: DestMode;
  /** Bit 12, xAPIC only and read-only to software (1 = send pending). Always 0 in x2APIC. */
  deliveryStatus: 0 | 1;
  /** Bit 14: 1 assert, 0 de-assert (meaningful only for INIT level de-assert). */
  level: 0 | 1;
  triggerMode: TriggerMode;
  shorthand: Shorthand;
  /** xAPIC: 8 bits (ICR high 31:24). x2APIC: 32 bits (ICR 63:32). */
  dest: number;
}

/** The raw register: xAPIC ICR low and high, or x2APIC ICR bits 31:0 and 63:32. */
export interface IcrWords {
  lo: number;
  hi: number;
}

export type IcrDecodeResult = { ok: true; icr: Icr } | { ok: false; reason: string };

/** The parts of an ICR (or of an I/O APIC / MSI message) that choose the destination. */
export type IcrDest = Pick<Icr, 'destMode' | 'shorthand' | 'dest'>;

/** A local APIC as destination resolution sees it. */
export interface LapicInfo {
  /** xAPIC: 8-bit APIC ID. x2APIC: 32-bit x2APIC ID. */
  readonly apicId: number;
  readonly mode: ApicMode;
  /** Full LDR value (0D0H); the logical ID is bits 31:24. Ignored in x2APIC mode, where LDR is derived from the ID. */
  readonly ldr: number;
  /** Full DFR value (0E0H); the model is bits 31:28 (1111b flat, 0000b cluster). Ignored in x2APIC mode. */
  readonly dfr: number;
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function deliveryModeReserved(dm: number): boolean {
  return dm === 3 || dm === 7;
}

/** Bits 31:0 common to both formats, without the delivery-status bit. */
function lowWord(icr: Icr, format: ApicMode): number {
  const v = icr.vector;
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new UserError(`ICR vector ${v} is not in 0..255`);
  const dm: number = icr.deliveryMode;
  if (!Number.isInteger(dm) || dm < 0 || dm > 7 || deliveryModeReserved(dm))
    throw new UserError(`ICR delivery mode ${dm} is not one of 0, 1, 2, 4, 5, 6`);
  if (icr.destMode !== 0 && icr.destMode !== 1) throw new UserError(`ICR destination mode must be 0 or 1`);
  if (icr.level !== 0 && icr.level !== 1) throw new UserError(`ICR level must be 0 or 1`);
  if (icr.triggerMode !== 0 && icr.triggerMode !== 1) throw new UserError(`ICR trigger mode must be 0 or 1`);
  const sh: number = icr.shorthand;
  if (!Number.isInteger(sh) || sh < 0 || sh > 3) throw new UserError(`ICR shorthand ${sh} is not in 0..3`);
  if (icr.deliveryStatus !== 0 && icr.deliveryStatus !== 1)
    throw new UserError(`ICR delivery status must be 0 or 1`);
  if (format === 'x2apic' && icr.deliveryStatus !== 0)
    throw new UserError('x2APIC ICR has no delivery-status bit; it must be 0');
  return (
    (v |
      (dm << DM_SHIFT) |
      (icr.destMode ? DEST_MODE_BIT : 0) |
      (icr.level ? LEVEL_BIT : 0) |
      (icr.triggerMode ? TRIGGER_BIT : 0) |
      (sh << SHORTHAND_SHIFT)) >>>
    0
  );
}

function decodeLow(lo: number, dest: number, deliveryStatus: 0 | 1): IcrDecodeResult {
  const dm = (lo >>> DM_SHIFT) & 7;
  if (deliveryModeReserved(dm)) return { ok: false, reason: `ICR delivery mode ${dm} is reserved` };
  return {
    ok: true,
    icr: {
      vector: lo & VECTOR_MASK,
      deliveryMode: dm as DeliveryMode,
      destMode: lo & DEST_MODE_BIT ? 1 : 0,
      deliveryStatus,
      level: lo & LEVEL_BIT ? 1 : 0,
      triggerMode: lo & TRIGGER_BIT ? 1 : 0,
      shorthand: ((lo >>> SHORTHAND_SHIFT) & 3) as Shorthand,
      dest,
    },
  };
}

/**
 * xAPIC ICR as the register reads: low word with the delivery-status bit as given, high word with
 * the destination in bits 31:24. Reserved bits are 0. Throws `UserError` on an out-of-range field.
 */
export function encodeXapicIcr(icr: Icr): IcrWords {
  const lo = (lowWord(icr, 'xapic') | (icr.deliveryStatus ? DELIVERY_STATUS_BIT : 0)) >>> 0;
  const d = icr.dest;
  if (!Number.isInteger(d) || d < 0 || d > 0xff)
    throw new UserError(`xAPIC ICR destination ${d} is not in 0..255`);
  return { lo, hi: (d << 24) >>> 0 };
}

/**
 * Decodes an xAPIC ICR pair. Reserved bits of both words are ignored, as on the MMIO register,
 * which defines no fault for them; only the reserved delivery modes 3 and 7 are rejected, because
 * they name no operation to model.
 */
export function decodeXapicIcr(lo: number, hi: number): IcrDecodeResult {
  return decodeLow(lo >>> 0, hi >>> 24, lo & DELIVERY_STATUS_BIT ? 1 : 0);
}

/**
 * What a software write to ICR low (300H) leaves in the register: delivery status is read-only, and
 * in this model the send completes within the write, so it reads back idle (KVM clears the busy
 * bit on the emulated write for the same reason).
 */
export function xapicIcrLowWrite(value: number): number {
  return (value & ~DELIVERY_STATUS_BIT) >>> 0;
}

/** What a software write to ICR high (310H) leaves in the register: only bits 31:24 are kept (Bochs, KVM). */
export function xapicIcrHighWrite(value: number): number {
  return (value & 0xff000000) >>> 0;
}

/** x2APIC ICR (MSR 830H) as a lo/hi pair. Throws `UserError` on an out-of-range field or a set delivery status. */
export function encodeX2apicIcr(icr: Icr): IcrWords {
  const lo = lowWord(icr, 'x2apic');
  if (!isU32(icr.dest)) throw new UserError(`x2APIC ICR destination ${icr.dest} is not a 32-bit value`);
  return { lo, hi: icr.dest >>> 0 };
}

/** How a set bit 12 in an x2APIC ICR write is treated. */
export type X2apicBusyPolicy = 'reject' | 'ignore';

/**
 * Decodes an x2APIC ICR written with WRMSR 830H. Any reserved bit (31:20, 17:16, 13) or a reserved
 * delivery mode gives `{ ok: false }`, the model of the #GP. Bit 12 is rejected too by default:
 * the brief and AMD require it to be 0; KVM notes that Intel parts ignore it, which `busy: 'ignore'`
 * models (the bit is then dropped). Bits 63:32 are the destination and have no reserved bits.
 */
export function decodeX2apicIcr(
  lo: number,
  hi: number,
  opts: { busy?: X2apicBusyPolicy } = {},
): IcrDecodeResult {
  const l = lo >>> 0;
  const reserved = l & X2APIC_ICR_RESERVED_LO;
  if (reserved !== 0)
    return { ok: false, reason: `x2APIC ICR reserved bits set: 0x${(reserved >>> 0).toString(16)}` };
  if (l & DELIVERY_STATUS_BIT && (opts.busy ?? 'reject') === 'reject')
    return { ok: false, reason: 'x2APIC ICR bit 12 (delivery status) is reserved and must be 0' };
  return decodeLow(l, hi >>> 0, 0);
}

/** The 64-bit MSR value of a lo/hi pair (display and tests only). */
export function x2apicIcrToBigInt(w: IcrWords): bigint {
  return (BigInt(w.hi >>> 0) << 32n) | BigInt(w.lo >>> 0);
}

/** Splits a 64-bit MSR value into the lo/hi pair. Throws `UserError` if it does not fit in 64 bits. */
export function x2apicIcrFromBigInt(v: bigint): IcrWords {
  if (v < 0n || v > 0xffffffffffffffffn) throw new UserError(`x2APIC ICR value ${v} is not a 64-bit value`);
  return { lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) };
}

/**
 * Logical x2APIC ID, the read-only LDR (MSR 80DH) derived from the x2APIC ID: cluster ID = ID bits
 * 19:4 in LDR bits 31:16, and one bit, 1 << ID[3:0], in bits 15:0 (SDM Vol. 3A, "Deriving Logical
 * x2APIC ID from the Local x2APIC ID").
 */
export function x2apicLdr(apicId: number): number {
  return ((((apicId >>> 4) & 0xffff) << 16) | (1 << (apicId & 0xf))) >>> 0;
}

function isBroadcast(dest: number, format: ApicMode): boolean {
  return format === 'xapic' ? dest === XAPIC_BROADCAST : dest >>> 0 === X2APIC_BROADCAST;
}

/**
 * Whether one local APIC is a destination of a message with no shorthand. `format` is the width of
 * the message's destination (the sender's ICR format; I/O APIC messages are 'xapic'); each target
 * interprets the destination by its own mode, as KVM's kvm_apic_match_dest does, so an 8-bit I/O
 * APIC destination can reach x2APIC targets.
 *
 * - Broadcast (0xFF for an 8-bit destination, 0xFFFFFFFF for a 32-bit one) matches every APIC in
 *   both destination modes. SDM: "all 1s" is a broadcast in physical mode, in the flat model and in
 *   the cluster model; in x2APIC mode FFFF_FFFFH is a broadcast in both modes. KVM does the same
 *   (kvm_apic_broadcast, and kvm_apic_mda widens an 8-bit 0xFF for x2APIC targets).
 * - Physical: the destination equals the APIC ID.
 * - Logical, x2APIC target: cluster (dest 31:16) equals LDR 31:16 and dest 15:0 AND LDR 15:0 is not
 *   zero, with LDR derived from the ID (`x2apicLdr`); DFR does not exist.
 * - Logical, xAPIC target, flat model (DFR 31:28 = 1111b): dest AND LDR[31:24] is not zero.
 * - Logical, xAPIC target, cluster model (DFR 31:28 = 0000b): dest 7:4 equals LDR 31:28 or is 0xF
 *   (all clusters), and dest 3:0 AND LDR 27:24 is not zero. Any other DFR model matches nothing.
 */
export function apicMatchesDest(
  apic: LapicInfo,
  destMode: DestMode,
  dest: number,
  format: ApicMode,
): boolean {
  const d = dest >>> 0;
  if (isBroadcast(d, format)) return true;
  if (destMode === DEST_MODE.PHYSICAL) return apic.apicId >>> 0 === d;
  if (apic.mode === 'x2apic') {
    const ldr = x2apicLdr(apic.apicId);
    return ldr >>> 16 === d >>> 16 && (ldr & d & 0xffff) !== 0;
  }
  const lid = (apic.ldr >>> 24) & 0xff;
  const model = apic.dfr >>> 28;
  if (model === 0xf) return (lid & d) !== 0;
  if (model === 0) {
    const cluster = d >>> 4;
    return (cluster === 0xf || cluster === lid >>> 4) && (lid & d & 0xf) !== 0;
  }
  return false;
}

/**
 * The local APICs a message reaches, as ascending indices into `apics`. Shorthands ignore the
 * destination field and mode: self is the APIC(s) whose ID is `senderId`, all-including-self is
 * every APIC, all-excluding-self every APIC whose ID is not `senderId`. Without a shorthand each
 * APIC is tested with `apicMatchesDest`.
 *
 * Lowest-priority messages resolve to the whole candidate set here; `lowestPriorityTarget` then
 * picks one. `out`, if given, is cleared and filled (no allocation). Throws `UserError` when the
 * destination does not fit the format (more than 8 bits for 'xapic').
 */
export function resolveDest(
  msg: IcrDest,
  format: ApicMode,
  senderId: number,
  apics: readonly LapicInfo[],
  out: number[] = [],
): number[] {
  out.length = 0;
  const sender = senderId >>> 0;
  switch (msg.shorthand) {
    case SHORTHAND.SELF:
      for (let i = 0; i < apics.length; i++) if (apics[i].apicId >>> 0 === sender) out.push(i);
      return out;
    case SHORTHAND.ALL_INCLUDING_SELF:
      for (let i = 0; i < apics.length; i++) out.push(i);
      return out;
    case SHORTHAND.ALL_EXCLUDING_SELF:
      for (let i = 0; i < apics.length; i++) if (apics[i].apicId >>> 0 !== sender) out.push(i);
      return out;
    default: {
      const d = msg.dest;
      if (!isU32(d) || (format === 'xapic' && d > 0xff))
        throw new UserError(
          `${format} destination ${d} does not fit the ${format === 'xapic' ? 8 : 32}-bit field`,
        );
      for (let i = 0; i < apics.length; i++)
        if (apicMatchesDest(apics[i], msg.destMode, d, format)) out.push(i);
      return out;
    }
  }
}

/**
 * Lowest-priority arbitration: among `candidates` (indices into `apics`, e.g. from `resolveDest`)
 * picks the one with the lowest processor priority `ppr[i]` (the whole 8-bit PPR value compared as
 * a number), ties broken by the lowest APIC ID. Returns the chosen index, or -1 for an empty set.
 *
 * This is one of the arbitration models the SDM permits ("Lowest Priority Delivery Mode": the
 * choice is by processor priority, or left to the chipset, depending on the processor family). KVM
 * does not use it: it picks by vector hashing (kvm_vector_to_index) or by a rotating arbitration
 * priority (kvm_apic_compare_prio). Making the choice a deterministic function of the PPRs keeps
 * the model free of hidden state.
 */
export function lowestPriorityTarget(
  candidates: readonly number[],
  apics: readonly LapicInfo[],
  ppr: readonly number[],
): number {
  let best = -1;
  for (const i of candidates) {
    if (best < 0) {
      best = i;
      continue;
    }
    const p = ppr[i] & 0xff;
    const q = ppr[best] & 0xff;
    if (p < q || (p === q && apics[i].apicId >>> 0 < apics[best].apicId >>> 0)) best = i;
  }
  return best;
}

/**
 * Destination matching as KVM does it (lapic.c kvm_apic_match_dest, kvm_apic_match_logical_addr,
 * kvm_apic_match_physical_addr), for the peer tests that run on KVM. It differs from
 * `apicMatchesDest` in one place: in the xAPIC cluster model KVM compares the cluster (dest 7:4)
 * with LDR 31:28 and has no "cluster 0xF reaches every cluster" rule, so only the full broadcast
 * 0xFF reaches every cluster (kvm-unit-tests apic.c test_logical_ipi_xapic uses clusters 0-14
 * only). Everything else (broadcast in both modes, flat model, x2APIC clusters, physical IDs and
 * their aliasing) is the same.
 */
export function kvmApicMatchDest(
  apic: LapicInfo,
  destMode: DestMode,
  dest: number,
  format: ApicMode,
): boolean {
  const d = dest >>> 0;
  if (
    destMode === DEST_MODE.LOGICAL &&
    apic.mode === 'xapic' &&
    apic.dfr >>> 28 === 0 &&
    !isBroadcast(d, format)
  ) {
    const lid = (apic.ldr >>> 24) & 0xff;
    return d >>> 4 === lid >>> 4 && (lid & d & 0xf) !== 0;
  }
  return apicMatchesDest(apic, destMode, d, format);
}

/**
 * KVM's vector hashing for lowest-priority delivery (kvm_vector_to_index): among the candidate
 * vCPUs, ascending by vCPU index, the one at position `vector % count`. Returns -1 for an empty
 * set. Used when kvm.vector_hashing is on (its default).
 */
export function kvmVectorToIndex(vector: number, candidates: readonly number[]): number {
  if (candidates.length === 0) return -1;
  return candidates[(vector >>> 0) % candidates.length];
}

/**
 * How KVM resolves a lowest-priority message (kvm_irq_delivery_to_apic and the APIC-map fast path
 * kvm_apic_map_get_dest_lapic): only software-enabled APICs among the matching ones are candidates
 * (`swEnabled[i]`); with vector hashing the pick is `kvmVectorToIndex`, otherwise the candidate
 * with the smallest arbitration priority `arbPrio[i]` (kvm_apic_compare_prio; KVM increments a
 * vCPU's apic_arb_prio each time it accepts a lowest-priority interrupt, which rotates the choice),
 * the lowest index on a tie. `candidates` must be ascending (as resolveDest returns them). The PPR
 * plays no part, unlike the SDM's arbitration (`lowestPriorityTarget`). Returns -1 when none.
 */
export function kvmLowestPriorityTarget(
  candidates: readonly number[],
  vector: number,
  swEnabled: readonly boolean[],
  opts: { vectorHashing: boolean; arbPrio?: readonly number[] },
): number {
  const enabled = candidates.filter((i) => swEnabled[i]);
  if (opts.vectorHashing) return kvmVectorToIndex(vector, enabled);
  let best = -1;
  for (const i of enabled) {
    if (best < 0 || (opts.arbPrio?.[i] ?? 0) < (opts.arbPrio?.[best] ?? 0)) best = i;
  }
  return best;
}

/**
 * The destinations of an IPI as KVM computes them for an intercepted ICR write
 * (kvm_apic_send_ipi -> kvm_irq_delivery_to_apic, kvm_apic_match_dest): shorthands go by vCPU
 * identity, not by APIC ID (self is the sender, all-excluding-self every other vCPU, even one that
 * shares the sender's xAPIC ID); without a shorthand each APIC is matched with
 * `kvmApicMatchDest`. For a lowest-priority message the candidates are then narrowed to one with
 * `kvmLowestPriorityTarget`. `sender` is an index into `apics`. Returns ascending indices.
 */
export function kvmIpiDestinations(
  msg: IcrDest & { deliveryMode: DeliveryMode; vector: number },
  format: ApicMode,
  sender: number,
  apics: readonly LapicInfo[],
  swEnabled: readonly boolean[],
  opts: { vectorHashing: boolean; arbPrio?: readonly number[] },
): number[] {
  const out: number[] = [];
  for (let i = 0; i < apics.length; i++) {
    switch (msg.shorthand) {
      case SHORTHAND.SELF:
        if (i === sender) out.push(i);
        break;
      case SHORTHAND.ALL_INCLUDING_SELF:
        out.push(i);
        break;
      case SHORTHAND.ALL_EXCLUDING_SELF:
        if (i !== sender) out.push(i);
        break;
      default:
        if (kvmApicMatchDest(apics[i], msg.destMode, msg.dest, format)) out.push(i);
    }
  }
  if (msg.deliveryMode !== DELIVERY_MODE.LOWEST_PRIORITY) return out;
  const t = kvmLowestPriorityTarget(out, msg.vector, swEnabled, opts);
  return t < 0 ? [] : [t];
}
