/**
 * The tree store's pair tables (tree-store.ts) in shared memory, so that the worker threads of a
 * parallel search (parallel.ts) intern into one exact set (decision 0171). As in LTSmin's
 * multi-core tree database (Laarman, van de Pol, Weber, SPIN 2011), insertion is lock-free per
 * slot: a thread claims an empty slot by compare-and-swap (0 to -1, "being written"), takes the
 * next entry number, writes the pair and publishes entry + 1 in the slot; a reader that meets -1
 * waits for the publication. Entries are numbered densely in insertion order, so the root table's
 * entries are the states.
 *
 * Growth: the pairs and the slots live in growable buffers (reserveShared) that only fill up. The
 * slot array is rehashed only while every thread is parked between two lookups
 * (`needsGrowth` asks for it; parallel.ts parks the threads and calls `grow`): a thread that asked
 * finishes its lookup first, so each table keeps `slack` free slots (threads times the nodes one
 * lookup can intern in it) above the half-full mark.
 */

import { totalmem } from 'node:os';
import { mix, mix4 } from './mix.ts';

/**
 * Bytes reserved per shared buffer: address space only, memory as it is written. 4 GiB (the
 * largest a typed array view here indexes with 32-bit offsets), or the power of two at most half
 * the machine's memory where that is less, so that no single reservation exceeds what the kernel's
 * overcommit heuristic grants.
 */
export const SHARED_BYTES = Math.min(2 ** 32, 2 ** Math.floor(Math.log2(totalmem() / 2)));

/** The first length of a shared buffer; it grows by doubling (checkRoom). */
const FIRST_BYTES = 1 << 16;

/**
 * A growable shared buffer of at most SHARED_BYTES, FIRST_BYTES long to begin with; its views
 * track its length. Only the length it has grown to is committed memory. A fixed-length buffer of
 * SHARED_BYTES, as this was first, is private writable memory that the kernel's overcommit
 * accounting charges in full although its pages are never written: 26 of them (a two-thread
 * search) exceed the commit limit of a 24 GB machine, and every later fork of the process failed
 * with ENOMEM until they were collected. That stalled the two-thread tests: a helper started under
 * tsx spawns esbuild to compile a file missing from tsx's cache (a clean clone, an edited file),
 * the spawn failed, the helper died before it was ready, and the main thread, blocked in
 * Atomics.wait, never saw the Worker's error (decision 0221). Views that track a growable
 * buffer's length index about twice as slowly in Node 20's V8 (decision 0171): a cost of the
 * parallel search only.
 */
export function reserveShared(): SharedArrayBuffer {
  return new SharedArrayBuffer(FIRST_BYTES, { maxByteLength: SHARED_BYTES });
}

/**
 * Grows `sab` to hold `bytes` (at least doubling); throws past SHARED_BYTES. Threads may grow a
 * buffer at once: a grow to less than the length another thread reached throws, and the length is
 * then read again.
 */
export function checkRoom(sab: SharedArrayBuffer, bytes: number): void {
  for (;;) {
    const cur = sab.byteLength;
    if (bytes <= cur) return;
    if (bytes > sab.maxByteLength)
      throw new Error(`shared memory: ${bytes} bytes exceed one buffer's ${sab.maxByteLength}`);
    try {
      sab.grow(Math.min(sab.maxByteLength, Math.max(bytes, 2 * cur)));
    } catch (e) {
      if (sab.byteLength === cur) throw e;
    }
  }
}

/** What a thread needs to open the same table (structured-clonable). */
export interface SharedTableHandle {
  readonly pairs: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  /** [entries, mask]. */
  readonly meta: SharedArrayBuffer;
  readonly slack: number;
  /**
   * Whether each slot holds its pair as well as the entry (four words: a, b, entry + 1, unused),
   * so that a lookup reads one slot and not the pairs: the tree's levels, as in tree-store.ts's
   * PairTable. The root, as long as the states are many, keeps one word per slot.
   */
  readonly keyed: boolean;
  /** Words per entry: 2, a pair (the levels), or 4, the root's quadruple (never keyed). */
  readonly arity: 2 | 4;
}

const SIZE = 0;
const MASK = 1;

/** Words per slot of a table: see SharedPairTable.stride. */
function strideOf(keyed: boolean, arity: number): number {
  return keyed ? 4 : arity === 4 ? 2 : 1;
}

/**
 * A fixed-length view of a growable buffer's current length. Fixed-length views index as fast as
 * views of a plain buffer; views that track the length are several times slower in Node 20's V8
 * (decision 0222). A holder re-creates its view when the buffer has grown past it.
 */
export function fixedView(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, sab.byteLength >>> 2);
}

export class SharedPairTable {
  readonly h: SharedTableHandle;
  /** Fixed-length views: `pairs` re-created when an entry lies past it, `slots` at each grow or refresh. */
  private pairs: Int32Array;
  private slots: Int32Array;
  private readonly meta: Int32Array;
  private mask: number;
  /** Whether the last `intern` added the pair. */
  lastAdded = false;
  /** Called by the `intern` that makes the table need growing (`needsGrowth`). */
  onFull: () => void = () => {};

  /** Words per slot: 4 when keyed; 2 for tuples (the entry and the tuple's hash); else 1. */
  private readonly stride: number;
  /** Words per entry (SharedTableHandle.arity). */
  private readonly arity: number;

  /** A new table with room for `slack` lookups' worth of entries at least. */
  static create(slack: number, keyed = false, arity: 2 | 4 = 2): SharedTableHandle {
    if (keyed && arity !== 2) throw new Error('shared pair table: only pairs are keyed');
    let cap = 1 << 10;
    while (cap < 4 * slack) cap *= 2;
    const meta = new SharedArrayBuffer(8);
    new Int32Array(meta)[MASK] = cap - 1;
    const slots = reserveShared();
    checkRoom(slots, cap * 4 * strideOf(keyed, arity));
    return { pairs: reserveShared(), slots, meta, slack, keyed, arity };
  }

  constructor(h: SharedTableHandle) {
    this.h = h;
    this.stride = strideOf(h.keyed, h.arity);
    this.arity = h.arity;
    this.pairs = fixedView(h.pairs);
    this.slots = fixedView(h.slots);
    this.meta = new Int32Array(h.meta);
    this.mask = this.meta[MASK];
  }

  /**
   * The pairs view holding entry e. Another thread may have grown the buffer to add it: an entry
   * is published in a slot only after its pair was written, so the buffer already holds it.
   */
  private pairsOf(e: number): Int32Array {
    if (this.arity * (e + 1) > this.pairs.length) this.pairs = fixedView(this.h.pairs);
    return this.pairs;
  }

  get size(): number {
    return Atomics.load(this.meta, SIZE);
  }

  /** Re-reads the slot mask after another thread's `grow`. */
  refresh(): void {
    this.mask = this.meta[MASK];
    if (this.slots.length < (this.mask + 1) * this.stride) this.slots = fixedView(this.h.slots);
  }

  /** The entry of (a, b), or -1. */
  find(a: number, b: number): number {
    if (this.h.keyed) return this.findKeyed(a, b);
    const slots = this.slots;
    let i = mix(a, b) & this.mask;
    for (;;) {
      let e = slots[i];
      if (e === 0) return -1;
      while (e === -1) e = Atomics.load(slots, i);
      e -= 1;
      const pairs = this.pairsOf(e);
      if (pairs[2 * e] === a && pairs[2 * e + 1] === b) return e;
      i = (i + 1) & this.mask;
    }
  }

  private findKeyed(a: number, b: number): number {
    const slots = this.slots;
    let i = mix(a, b) & this.mask;
    for (;;) {
      const o = i << 2;
      let e = slots[o + 2];
      if (e === 0) return -1;
      while (e === -1) e = Atomics.load(slots, o + 2);
      if (slots[o] === a && slots[o + 1] === b) return e - 1;
      i = (i + 1) & this.mask;
    }
  }

  /** The entry of (a, b), added if absent (`lastAdded` says which). */
  intern(a: number, b: number): number {
    if (this.h.keyed) return this.internKeyed(a, b);
    const slots = this.slots;
    let i = mix(a, b) & this.mask;
    for (;;) {
      // A plain read first: a stale 0 only costs the compare-and-swap below, which reads again.
      let e = slots[i];
      if (e === 0) {
        if (Atomics.compareExchange(slots, i, 0, -1) === 0) {
          const n = this.append(a, b);
          Atomics.store(slots, i, n + 1);
          this.lastAdded = true;
          if ((n + 1 + this.h.slack) * 2 > this.mask + 1) this.onFull();
          return n;
        }
        e = Atomics.load(slots, i);
      }
      while (e === -1) e = Atomics.load(slots, i);
      e -= 1;
      const pairs = this.pairsOf(e);
      if (pairs[2 * e] === a && pairs[2 * e + 1] === b) {
        this.lastAdded = false;
        return e;
      }
      i = (i + 1) & this.mask;
    }
  }

  /**
   * intern for a keyed table: the slot's entry word is claimed (0 to -1), the pair is written in
   * the slot and in the pairs, then the entry is published, so a reader that sees an entry sees
   * the keys beside it.
   */
  private internKeyed(a: number, b: number): number {
    const slots = this.slots;
    let i = mix(a, b) & this.mask;
    for (;;) {
      const o = i << 2;
      let e = slots[o + 2];
      if (e === 0) {
        if (Atomics.compareExchange(slots, o + 2, 0, -1) === 0) {
          const n = this.append(a, b);
          slots[o] = a;
          slots[o + 1] = b;
          Atomics.store(slots, o + 2, n + 1);
          this.lastAdded = true;
          if ((n + 1 + this.h.slack) * 2 > this.mask + 1) this.onFull();
          return n;
        }
        e = Atomics.load(slots, o + 2);
      }
      while (e === -1) e = Atomics.load(slots, o + 2);
      if (slots[o] === a && slots[o + 1] === b) {
        this.lastAdded = false;
        return e - 1;
      }
      i = (i + 1) & this.mask;
    }
  }

  /**
   * The entry of the quadruple (a, b, c, d), or -1 (the root: arity 4). A slot holds entry + 1
   * and the tuple's hash, written before the entry is published, so a probe past another state
   * reads no tuple.
   */
  findTuple(a: number, b: number, c: number, d: number): number {
    const slots = this.slots;
    const h = mix4(a, b, c, d);
    let i = h & this.mask;
    for (;;) {
      let e = slots[2 * i];
      if (e === 0) return -1;
      while (e === -1) e = Atomics.load(slots, 2 * i);
      if (slots[2 * i + 1] === h) {
        e -= 1;
        const t = this.pairsOf(e);
        const o = 4 * e;
        if (t[o] === a && t[o + 1] === b && t[o + 2] === c && t[o + 3] === d) return e;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The entry of (a, b, c, d), added if absent (`lastAdded` says which): `intern` for the root. */
  internTuple(a: number, b: number, c: number, d: number): number {
    const slots = this.slots;
    const h = mix4(a, b, c, d);
    let i = h & this.mask;
    for (;;) {
      const at = 2 * i;
      let e = slots[at];
      if (e === 0) {
        if (Atomics.compareExchange(slots, at, 0, -1) === 0) {
          const n = this.claim();
          const t = this.pairs;
          const o = 4 * n;
          t[o] = a;
          t[o + 1] = b;
          t[o + 2] = c;
          t[o + 3] = d;
          slots[at + 1] = h;
          Atomics.store(slots, at, n + 1);
          this.lastAdded = true;
          if ((n + 1 + this.h.slack) * 2 > this.mask + 1) this.onFull();
          return n;
        }
        e = Atomics.load(slots, at);
      }
      while (e === -1) e = Atomics.load(slots, at);
      if (slots[at + 1] === h) {
        e -= 1;
        const t = this.pairsOf(e);
        const o = 4 * e;
        if (t[o] === a && t[o + 1] === b && t[o + 2] === c && t[o + 3] === d) {
          this.lastAdded = false;
          return e;
        }
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Takes the next entry number with room for its words; the caller writes and publishes them. */
  private claim(): number {
    const n = Atomics.add(this.meta, SIZE, 1);
    if (n + 1 >= this.mask) throw new Error('shared pair table: full (a growth was missed)');
    const k = this.arity;
    if (k * (n + 1) > this.pairs.length) {
      checkRoom(this.h.pairs, k * (n + 1) * 4);
      this.pairs = fixedView(this.h.pairs);
    }
    return n;
  }

  /** Takes the next entry number and writes its pair; the caller publishes it. */
  private append(a: number, b: number): number {
    const n = this.claim();
    this.pairs[2 * n] = a;
    this.pairs[2 * n + 1] = b;
    return n;
  }

  add(_a: number, _b: number): number {
    throw new Error('shared pair table: use intern');
  }

  left(e: number): number {
    return this.pairsOf(e)[2 * e];
  }

  right(e: number): number {
    return this.pairsOf(e)[2 * e + 1];
  }

  /** Word k of entry e (of `arity` words). */
  node(e: number, k: number): number {
    return this.pairsOf(e)[this.arity * e + k];
  }

  /** More than half full, counting `slack` entries that may arrive before every thread parks. */
  needsGrowth(): boolean {
    return (this.size + this.h.slack) * 2 > this.mask + 1;
  }

  /** Rehashes into a slot array twice as large (or more); only while no other thread uses it. */
  grow(): void {
    const size = this.size;
    let cap = this.mask + 1;
    while ((size + this.h.slack) * 2 > cap) cap *= 2;
    const k = this.stride;
    checkRoom(this.h.slots, cap * 4 * k);
    this.slots = fixedView(this.h.slots);
    const slots = this.slots;
    slots.fill(0, 0, cap * k);
    const mask = cap - 1;
    const pairs = this.pairsOf(size - 1);
    // The entry word of a slot: the third of a keyed slot, else the first.
    const at = k === 4 ? 2 : 0;
    const q = this.arity;
    for (let e = 0; e < size; e++) {
      const a = pairs[q * e];
      const b = pairs[q * e + 1];
      const h = q === 4 ? mix4(a, b, pairs[4 * e + 2], pairs[4 * e + 3]) : mix(a, b);
      let i = h & mask;
      while (slots[i * k + at] !== 0) i = (i + 1) & mask;
      slots[i * k + at] = e + 1;
      if (k === 4) {
        slots[i * k] = a;
        slots[i * k + 1] = b;
      } else if (k === 2) slots[i * k + 1] = h;
    }
    this.meta[MASK] = mask;
    this.mask = mask;
  }

  /** Bytes in use: the entries and the slot array. */
  bytes(): number {
    return this.size * 4 * this.arity + (this.mask + 1) * 4 * this.stride;
  }
}
