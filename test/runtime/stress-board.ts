/**
 * Shared bookkeeping of the stress tests (a SharedArrayBuffer next to the channel), used by the
 * harness, the producer workers and the consumer. Int32 words:
 *
 * - SEQ + v: the sequence number of the latest post of owned vector v (written by its only
 *   producer before it posts v);
 * - SEEN + v: SEQ + v as the consumer read it when it handled v (so SEEN >= a post's sequence
 *   number proves that post was handled after it was made);
 * - DELIVERED + v: the counts handed to the handler for v (posts, with counters; calls without);
 * - GO: the start barrier; PHANTOM: handler calls for an owned vector never posted.
 */
export const SEQ = 0;
export const SEEN = 256;
export const DELIVERED = 512;
export const GO = 768;
export const PHANTOM = 769;
export const BOARD_WORDS = 770;

/** Vectors 0..191 are owned (vector v by producer v % P, acknowledged); 192..255 are shared. */
export const OWNED_END = 192;

export function newBoard(): SharedArrayBuffer {
  return new SharedArrayBuffer(BOARD_WORDS * 4);
}

/** The handler every stress consumer uses. */
export function boardHandler(board: Int32Array): (vector: number, count: number) => void {
  return (v, n) => {
    Atomics.add(board, DELIVERED + v, n);
    if (v < OWNED_END) {
      const seq = Atomics.load(board, SEQ + v);
      if (seq === 0) Atomics.add(board, PHANTOM, 1);
      Atomics.store(board, SEEN + v, seq);
    }
  };
}

/** xorshift32: a tiny deterministic generator for the producers' vector choices. */
export function xorshift32(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}
