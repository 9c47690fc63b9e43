/**
 * Byte layout of a posted-interrupt channel inside a shared buffer.
 *
 * The first 64 bytes copy the shape of the VT-x posted-interrupt descriptor (SDM Vol. 3C,
 * "Posted-Interrupt Descriptor"; KVM `struct pi_desc`): the 256-bit PIR in bytes 0-31 and the
 * notification bits in the word at byte 32, with ON in bit 0 and SN in bit 1, as in the
 * descriptor's `notifications` field. The rest is software state that has no hardware
 * counterpart. All offsets are relative to the channel's base, which must be 64-byte aligned
 * (the descriptor's alignment; it also keeps the 64-bit atomics naturally aligned).
 *
 * | bytes        | field                                                                  |
 * |--------------|------------------------------------------------------------------------|
 * | 0 .. 31      | PIR: 8 x u32 (vector v in bit v & 31 of word v >> 5) = 4 x u64          |
 * | 32 .. 35     | control: ON (bit 0), SN (bit 1), CLOSED (bit 15, software)             |
 * | 36 .. 63     | reserved (zero), so the PID keeps a cache line of its own               |
 * | 64 .. 95     | harvest scratch: the consumer's copy of the harvested words (private)  |
 * | 96 .. 127    | reserved (zero)                                                        |
 * | 128 .. 1151  | optional per-vector post counters, 256 x u32 (only with `counters`)    |
 */

/** Alignment the channel's base offset must have, in bytes. */
export const PI_ALIGN = 64;

/** Byte offset of the PIR (256 bits). */
export const OFF_PIR = 0;
/** Byte offset of the control word (ON, SN, CLOSED). */
export const OFF_CONTROL = 32;
/** Byte offset of the consumer's 32-byte harvest scratch area. */
export const OFF_SCRATCH = 64;
/** Byte offset of the 256 per-vector post counters. */
export const OFF_COUNTERS = 128;

/** Bytes of a channel without per-vector counters. */
export const PI_BYTES = 128;
/** Bytes of a channel with per-vector counters. */
export const PI_BYTES_WITH_COUNTERS = OFF_COUNTERS + 256 * 4;

/** Number of vectors a channel carries. */
export const NR_VECTORS = 256;
/** 32-bit words in the PIR. */
export const NR_PIR_WORDS32 = 8;
/** 64-bit words in the PIR (KVM's NR_PIR_WORDS on a 64-bit kernel). */
export const NR_PIR_WORDS64 = 4;

/** Outstanding Notification: a wake-up has been sent and not yet consumed (POSTED_INTR_ON). */
export const CTRL_ON = 1 << 0;
/** Suppress Notification: posters set PIR only (POSTED_INTR_SN). */
export const CTRL_SN = 1 << 1;
/**
 * The channel was closed: posting throws, the consumer drains PIR and stops. A software bit in
 * the reserved part of the descriptor's `notifications` field; it lives in the control word so
 * that a consumer sleeping on that word sees it.
 */
export const CTRL_CLOSED = 1 << 15;

/** Bytes a channel needs. */
export function piChannelBytes(counters: boolean): number {
  return counters ? PI_BYTES_WITH_COUNTERS : PI_BYTES;
}
