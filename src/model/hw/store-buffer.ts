/**
 * A CPU's store buffer under x86-TSO (SDM Vol. 3A 9.2.2 "Memory Ordering in P6 and More Recent
 * Processor Families"; Owens, Sarkar, Sewell, "A better x86 memory model: x86-TSO", TPHOLs 2009):
 * a FIFO of plain stores not yet visible to other CPUs. A store goes to the tail; the CPU's own
 * loads see the newest buffered store to the location (store forwarding); the oldest entry becomes
 * visible to every CPU as a step of its own; MFENCE and locked instructions wait until the buffer
 * is empty.
 *
 * Layout at `b` in a packed state: [count, addr0 + 1, value0, addr1 + 1, value1, ...] with room
 * for `depth` entries, entry 0 the oldest. Addresses are word indices in the same state. Unused
 * entries are kept zero so that equal buffers are equal words (the checker hashes states).
 */

/** Words a buffer of `depth` entries takes. */
export function storeBufferWords(depth: number): number {
  return 1 + 2 * depth;
}

export function sbEmpty(s: Uint32Array, b: number): boolean {
  return s[b] === 0;
}

export function sbCount(s: Uint32Array, b: number): number {
  return s[b];
}

/** Appends a store; returns false (and changes nothing) when the buffer is full. */
export function sbPush(s: Uint32Array, b: number, depth: number, index: number, value: number): boolean {
  const n = s[b];
  if (n >= depth) return false;
  s[b + 1 + 2 * n] = index + 1;
  s[b + 2 + 2 * n] = value;
  s[b] = n + 1;
  return true;
}

/** A load by the buffer's own CPU: the newest buffered store to `index`, else memory. */
export function sbLoad(s: Uint32Array, b: number, index: number): number {
  for (let i = s[b] - 1; i >= 0; i--) if (s[b + 1 + 2 * i] === index + 1) return s[b + 2 + 2 * i];
  return s[index];
}

/** The oldest buffered store becomes visible to every CPU; the rest move up one entry. */
export function sbDrainOldest(s: Uint32Array, b: number): void {
  const n = s[b];
  if (n === 0) return;
  s[s[b + 1] - 1] = s[b + 2];
  for (let i = 1; i < n; i++) {
    s[b - 1 + 2 * i] = s[b + 1 + 2 * i];
    s[b + 2 * i] = s[b + 2 + 2 * i];
  }
  s[b - 1 + 2 * n] = 0;
  s[b + 2 * n] = 0;
  s[b] = n - 1;
}
