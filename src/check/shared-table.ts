/**
 * The tree store's tables (tree-store.ts) in shared memory, so that the worker threads of a
 * parallel search (parallel.ts) intern into one exact set (decision 0171): the levels' pairs and
 * the root's tuples of four nodes (decision 0253). As in LTSmin's multi-core tree database
 * (Laarman, van de Pol, Weber, SPIN 2011), insertion is lock-free per slot: a thread claims an
 * empty slot by compare-and-swap of its entry word (0 to -1, "being written"), takes the next
 * entry number, writes the entry's words and the slot's key, and publishes entry + 1; a reader
 * that meets -1 waits for the publication, and one that sees an entry sees the key beside it.
 * Entries are numbered in insertion order, so the root table's entries are the states; the root
 * hands its numbers to each thread in blocks, and the numbers a thread gives back unused are holes
 * that no lookup finds (decision 0254).
 *
 * Growth: the pairs and the slots live in growable buffers (reserveShared) that only fill up. The
 * slot array is rehashed only while every thread is parked between two lookups
 * (`needsGrowth` asks for it; parallel.ts parks the threads and calls `grow`): a thread that asked
 * finishes its lookup first, so each table keeps `slack` free slots (threads times the nodes one
 * lookup can intern in it) below the load that makes it grow: half full, three quarters for the
 * root's slots of two words (decision 0254).
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

/** Entry numbers a thread takes at once from the root table (SharedRootTable.take). */
const BLOCK = 64;

/** What a thread needs to open the same table (structured-clonable). */
export interface SharedTableHandle {
  /** The entries in entry order, `arity` words each. */
  readonly entries: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  /** [entry numbers taken, mask, holes]. */
  readonly meta: SharedArrayBuffer;
  readonly slack: number;
}

const SIZE = 0;
const MASK = 1;
/** Entry numbers given back unused (SharedRootTable.release). */
const HOLES = 2;

/**
 * A fixed-length view of a growable buffer's current length. Fixed-length views index as fast as
 * views of a plain buffer; views that track the length are several times slower in Node 20's V8
 * (decision 0222). A holder re-creates its view when the buffer has grown past it.
 */
export function fixedView(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, sab.byteLength >>> 2);
}

/**
 * What both tables share: the entries, the slot array of `stride` words a slot, the size and
 * mask every thread reads, growth while the threads are parked. The slot layouts and so the
 * probe loops are each table's own.
 */
abstract class SharedTable {
  readonly h: SharedTableHandle;
  /** Fixed-length views: `entries` re-created when an entry lies past it, `slots` at each grow or refresh. */
  protected entries: Int32Array;
  protected slots: Int32Array;
  private readonly meta: Int32Array;
  protected mask: number;
  /** Whether the last `intern` added its key. */
  lastAdded = false;
  /** Called by the `intern` that makes the table need growing (`needsGrowth`). */
  onFull: () => void = () => {};

  /** A new table's buffers, with room for `slack` lookups' worth of entries at least. */
  protected static buffers(slack: number, stride: number): SharedTableHandle {
    let cap = 1 << 10;
    while (cap < 4 * slack) cap *= 2;
    const meta = new SharedArrayBuffer(12);
    new Int32Array(meta)[MASK] = cap - 1;
    const slots = reserveShared();
    checkRoom(slots, cap * 4 * stride);
    return { entries: reserveShared(), slots, meta, slack };
  }

  /** Words per entry. */
  protected readonly arity: number;
  /** Words per slot. */
  protected readonly stride: number;

  constructor(h: SharedTableHandle, arity: number, stride: number) {
    this.h = h;
    this.arity = arity;
    this.stride = stride;
    this.entries = fixedView(h.entries);
    this.slots = fixedView(h.slots);
    this.meta = new Int32Array(h.meta);
    this.mask = this.meta[MASK];
  }

  /**
   * The entries view holding entry e. Another thread may have grown the buffer to add it: an entry
   * is published in a slot only after its words were written, so the buffer already holds it.
   */
  protected entriesOf(e: number): Int32Array {
    if (this.arity * (e + 1) > this.entries.length) this.entries = fixedView(this.h.entries);
    return this.entries;
  }

  /** Entry numbers taken: every entry is below it (holes included). */
  get size(): number {
    return Atomics.load(this.meta, SIZE);
  }

  /** Entries stored: the numbers taken less the holes. */
  get stored(): number {
    return Atomics.load(this.meta, SIZE) - Atomics.load(this.meta, HOLES);
  }

  /** Re-reads the slot mask after another thread's `grow`. */
  refresh(): void {
    this.mask = this.meta[MASK];
    if (this.slots.length < (this.mask + 1) * this.stride) this.slots = fixedView(this.h.slots);
  }

  /**
   * Takes the next `count` entry numbers with room for their words; returns the first. The caller
   * writes and publishes them.
   */
  protected claim(count = 1): number {
    const n = Atomics.add(this.meta, SIZE, count);
    if (n + count >= this.mask) throw new Error('shared table: full (a growth was missed)');
    const k = this.arity;
    if (k * (n + count) > this.entries.length) {
      checkRoom(this.h.entries, k * (n + count) * 4);
      this.entries = fixedView(this.h.entries);
    }
    return n;
  }

  /** Counts `count` entry numbers given back unused. */
  protected holes(count: number): void {
    Atomics.add(this.meta, HOLES, count);
  }

  /** Called after a new entry was published; `upTo` bounds the numbers this thread took. */
  protected added(upTo: number): void {
    this.lastAdded = true;
    if (this.over(upTo + this.h.slack, this.mask + 1)) this.onFull();
  }

  /** Past the table's load, counting `slack` entries that may arrive before every thread parks. */
  needsGrowth(): boolean {
    return this.over(this.size + this.h.slack, this.mask + 1);
  }

  /** Whether n entries are past the load a table of cap slots takes: half by default. */
  protected over(n: number, cap: number): boolean {
    return n * 2 > cap;
  }

  /**
   * Rehashes into a slot array twice as large (or more); only while no other thread uses it. The
   * slots are re-placed from a private copy of the old array in slot order, as tree-store.ts's
   * tables do from their old array: a key's new home is its old home or that plus the old size, so
   * the writes run in two nearly sequential streams and no entry is read. Placed in entry order,
   * the writes landed at random and the root read every tuple to hash it again: 50 ms of the
   * last growth of a 3-vCPU search (1.3 million states), with every other thread parked.
   */
  grow(): void {
    const size = this.size;
    const stride = this.stride;
    const old = this.slots.slice(0, (this.mask + 1) * stride);
    let cap = this.mask + 1;
    while (this.over(size + this.h.slack, cap)) cap *= 2;
    checkRoom(this.h.slots, cap * 4 * stride);
    this.slots = fixedView(this.h.slots);
    this.slots.fill(0, 0, cap * stride);
    const mask = cap - 1;
    for (let o = 0; o < old.length; o += stride) this.place(old, o, mask);
    this.meta[MASK] = mask;
    this.mask = mask;
  }

  /** Writes the key of old slot `o` (if any) into the (emptied, grown) slot array: `grow`'s step. */
  protected abstract place(old: Int32Array, o: number, mask: number): void;

  /** Bytes in use: the entries and the slot array. */
  bytes(): number {
    return this.size * 4 * this.arity + (this.mask + 1) * 4 * this.stride;
  }
}

/**
 * A level's pairs, as tree-store.ts's PairTable: each slot holds the pair and its entry + 1 (four
 * words: a, b, entry + 1, unused), so a lookup reads one slot and not the entries.
 */
export class SharedPairTable extends SharedTable {
  static create(slack: number): SharedTableHandle {
    return SharedTable.buffers(slack, 4);
  }

  constructor(h: SharedTableHandle) {
    super(h, 2, 4);
  }

  /** The entry of (a, b), or -1. */
  find(a: number, b: number): number {
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
    const slots = this.slots;
    let i = mix(a, b) & this.mask;
    for (;;) {
      const o = i << 2;
      // A plain read first: a stale 0 only costs the compare-and-swap below, which reads again.
      let e = slots[o + 2];
      if (e === 0) {
        if (Atomics.compareExchange(slots, o + 2, 0, -1) === 0) {
          const n = this.claim();
          this.entries[2 * n] = a;
          this.entries[2 * n + 1] = b;
          slots[o] = a;
          slots[o + 1] = b;
          Atomics.store(slots, o + 2, n + 1);
          this.added(n + 1);
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

  left(e: number): number {
    return this.entriesOf(e)[2 * e];
  }

  right(e: number): number {
    return this.entriesOf(e)[2 * e + 1];
  }

  protected place(old: Int32Array, o: number, mask: number): void {
    const e1 = old[o + 2];
    if (e1 === 0) return;
    const slots = this.slots;
    const a = old[o];
    const b = old[o + 1];
    let i = mix(a, b) & mask;
    while (slots[(i << 2) + 2] !== 0) i = (i + 1) & mask;
    const n = i << 2;
    slots[n] = a;
    slots[n + 1] = b;
    slots[n + 2] = e1;
  }
}

/**
 * The root's tuples of four nodes (entries: the states), as tree-store.ts's RootTable: a slot
 * holds entry + 1 and the tuple's hash, written before the entry is published, so a probe past
 * another state reads no tuple.
 */
export class SharedRootTable extends SharedTable {
  /** `threads`: the threads that intern into it (each may hold a block of numbers). */
  static create(threads: number): SharedTableHandle {
    return SharedTable.buffers(threads * BLOCK, 2);
  }

  /** This thread's block of entry numbers: the next to use and the end. */
  private next = 0;
  private end = 0;

  constructor(h: SharedTableHandle) {
    super(h, 4, 2);
  }

  /**
   * Three quarters, as the one-thread root: a probe past another state compares its slot's hash
   * alone, and eight slots share a cache line.
   */
  protected override over(n: number, cap: number): boolean {
    return n * 4 > cap * 3;
  }

  /**
   * The next entry number of this thread's block, taking a new block when it is used up: one
   * atomic add on the shared size per BLOCK states instead of one per state, and the threads
   * write their tuples in regions of their own.
   */
  private take(): number {
    if (this.next === this.end) {
      this.next = this.claim(BLOCK);
      this.end = this.next + BLOCK;
    }
    return this.next++;
  }

  /**
   * Gives back the rest of this thread's block: before it parks (a growth rehashes every entry
   * number taken) and when it ends a level (the states stored during the next level must be
   * numbered from the size at its start). The numbers left get a tuple no state has (node numbers
   * are never negative), which lookups never match and growth skips, and count as holes.
   */
  release(): void {
    if (this.next === this.end) return;
    const t = this.entriesOf(this.end - 1);
    t.fill(-1, 4 * this.next, 4 * this.end);
    this.holes(this.end - this.next);
    this.next = this.end = 0;
  }

  /** The entry of (a, b, c, d), or -1. */
  find(a: number, b: number, c: number, d: number): number {
    const slots = this.slots;
    const h = mix4(a, b, c, d);
    let i = h & this.mask;
    for (;;) {
      let e = slots[2 * i];
      if (e === 0) return -1;
      while (e === -1) e = Atomics.load(slots, 2 * i);
      if (slots[2 * i + 1] === h) {
        e -= 1;
        const t = this.entriesOf(e);
        const o = 4 * e;
        if (t[o] === a && t[o + 1] === b && t[o + 2] === c && t[o + 3] === d) return e;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The entry of (a, b, c, d), added if absent (`lastAdded` says which). */
  intern(a: number, b: number, c: number, d: number): number {
    const slots = this.slots;
    const h = mix4(a, b, c, d);
    let i = h & this.mask;
    for (;;) {
      const at = 2 * i;
      let e = slots[at];
      if (e === 0) {
        if (Atomics.compareExchange(slots, at, 0, -1) === 0) {
          const n = this.take();
          const t = this.entriesOf(n);
          const o = 4 * n;
          t[o] = a;
          t[o + 1] = b;
          t[o + 2] = c;
          t[o + 3] = d;
          slots[at + 1] = h;
          Atomics.store(slots, at, n + 1);
          this.added(this.end);
          return n;
        }
        e = Atomics.load(slots, at);
      }
      while (e === -1) e = Atomics.load(slots, at);
      if (slots[at + 1] === h) {
        e -= 1;
        const t = this.entriesOf(e);
        const o = 4 * e;
        if (t[o] === a && t[o + 1] === b && t[o + 2] === c && t[o + 3] === d) {
          this.lastAdded = false;
          return e;
        }
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Node k (0..3) of entry e. */
  node(e: number, k: number): number {
    return this.entriesOf(e)[4 * e + k];
  }

  protected place(old: Int32Array, o: number, mask: number): void {
    // Holes (release) were never published in a slot.
    const e1 = old[o];
    if (e1 === 0) return;
    const slots = this.slots;
    const h = old[o + 1];
    let i = h & mask;
    while (slots[2 * i] !== 0) i = (i + 1) & mask;
    slots[2 * i] = e1;
    slots[2 * i + 1] = h;
  }
}
