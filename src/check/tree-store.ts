/**
 * The explored states, stored by tree compression (Laarman, van de Pol, Weber, "Parallel Recursive
 * State Compression for Free", SPIN 2011; LTSmin's tree database), and the search's visited set
 * in one (decision 0121).
 *
 * A state of W words is the leaf row of a binary tree: level 0 is the words, a node of level l + 1
 * interns the pair of its two children of level l in that level's table (a missing right child is
 * 0), up to a level of at most four nodes (ROOT_ARITY), whose tuple is interned in the root
 * table; the root's entry number is the state's index. Equal subtrees are stored once: of the
 * scaled seed 004's 433 words only about 60 ever vary, so the level tables stay small and a state
 * costs about the root entry (four words) plus its share of the tables just below. The set is
 * exact: two states have the same index only if they are equal, so there is no fingerprint
 * collision to estimate.
 *
 * Incremental by design: `next` is stepped in place, `lookup` finds the words that differ from the
 * loaded state `cur` (both rows live in WebAssembly memory and a SIMD kernel compares them:
 * state-diff.ts, decision 0250) and re-interns only the nodes above them (a step changes a few
 * words, so about log2(W) lookups each, instead of hashing all W words); `load` descends only
 * into the subtrees that differ from the state loaded before. Nothing is allocated per state:
 * every scratch array is sized once, the root's tuples and the per-state arrays grow in chunks
 * (chunked.ts), the small level tables by doubling, and only the slot arrays are rehashed.
 */
import { ChunkedInt32 } from './chunked.ts';
import { mix, mix4 } from './mix.ts';
import { SharedPairTable, SharedRootTable, type SharedTableHandle } from './shared-table.ts';
import { StateRows } from './state-diff.ts';

/** The tables of a tree store in shared memory (parallel.ts): one per level above the words, then the root. */
export interface SharedTrees {
  readonly levels: readonly SharedTableHandle[];
  readonly root: SharedTableHandle;
}

/**
 * Nodes of the top level, which the root interns as one tuple. Four, not two: a level of two
 * nodes (each half of the state) held 174,000 distinct entries on the 3-vCPU scaled seed 004, a
 * table of several MiB that nearly every climb and load missed in cache; the root's tuple of the
 * four nodes below costs 8 bytes more per state and saved 7% of the search's CPU (decision 0253).
 */
export const ROOT_ARITY = 4;

/** Nodes per level of the tree over `words` words (level 0: the words; the last has 1 to 4). */
export function levelLengths(words: number): number[] {
  const len = [words];
  while (len[len.length - 1] > ROOT_ARITY) len.push(Math.ceil(len[len.length - 1] / 2));
  return len;
}

/**
 * Interned pairs of 32-bit values, for the levels of the tree: entry e is (left(e), right(e)).
 * Open addressing with linear probing; each slot holds the pair and its entry + 1 (0: empty), so a
 * lookup reads one slot and no second array (a level's table is small and a climb interns a few
 * nodes at each level, so this is the store's inner loop); the pairs are also kept in entry order for
 * `load`. Grown at 3/4 load.
 */
export class PairTable {
  /** The pairs in entry order, doubled when full: a level's table is small (decision 0253). */
  private pairs = new Int32Array(32);
  size = 0;
  /** The slot where the last unsuccessful `find` stopped. */
  private slot = 0;
  /** Four words per slot: a, b, entry + 1, unused (a slot is 16 bytes, aligned). */
  private slots: Int32Array;
  private mask: number;

  constructor(capacityPow2 = 1 << 4) {
    this.slots = new Int32Array(capacityPow2 * 4);
    this.mask = capacityPow2 - 1;
  }

  left(e: number): number {
    return this.pairs[2 * e];
  }

  right(e: number): number {
    return this.pairs[2 * e + 1];
  }

  bytes(): number {
    return this.pairs.byteLength + this.slots.byteLength;
  }

  /** The entry of (a, b), or -1. */
  find(a: number, b: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let i = mix(a, b) & mask;
    for (;;) {
      const o = i << 2;
      const e = slots[o + 2];
      if (e === 0) {
        this.slot = i;
        return -1;
      }
      if (slots[o] === a && slots[o + 1] === b) return e - 1;
      i = (i + 1) & mask;
    }
  }

  /** Adds (a, b) right after a `find` of it returned -1; returns its entry. */
  add(a: number, b: number): number {
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) {
      this.grow();
      this.find(a, b);
    }
    const o = this.slot << 2;
    this.slots[o] = a;
    this.slots[o + 1] = b;
    this.slots[o + 2] = this.size + 1;
    if (2 * this.size + 2 > this.pairs.length) {
      const more = new Int32Array(2 * this.pairs.length);
      more.set(this.pairs);
      this.pairs = more;
    }
    this.pairs[2 * this.size] = a;
    this.pairs[2 * this.size + 1] = b;
    return this.size++;
  }

  intern(a: number, b: number): number {
    const e = this.find(a, b);
    return e >= 0 ? e : this.add(a, b);
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const slots = new Int32Array(cap * 4);
    const mask = cap - 1;
    const old = this.slots;
    for (let o = 0; o < old.length; o += 4) {
      if (old[o + 2] === 0) continue;
      let i = mix(old[o], old[o + 1]) & mask;
      while (slots[(i << 2) + 2] !== 0) i = (i + 1) & mask;
      const n = i << 2;
      slots[n] = old[o];
      slots[n + 1] = old[o + 1];
      slots[n + 2] = old[o + 2];
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * Interned quadruples whose entries are the states (the root of the tree: the nodes of the top
 * level, 0 for a missing one). Each slot holds the entry + 1 (0: empty) and the tuple's 32-bit
 * hash, so a probe past another state's slot is decided without reading that state's tuple (the
 * tuples, in entry order, are read only to confirm a hash that matches). Grown at 3/4 load.
 */
export class RootTable {
  readonly tuples = new ChunkedInt32();
  size = 0;
  /** The slot where the last unsuccessful `find` stopped, and the hash it looked for. */
  private slot = 0;
  private hash = 0;
  private slots: Int32Array;
  private mask: number;

  constructor(capacityPow2 = 1 << 4) {
    this.slots = new Int32Array(capacityPow2 * 2);
    this.mask = capacityPow2 - 1;
  }

  /** The entry of (a, b, c, d), or -1. */
  find(a: number, b: number, c: number, d: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const h = mix4(a, b, c, d);
    this.hash = h;
    let i = h & mask;
    for (;;) {
      const e = slots[2 * i] - 1;
      if (e < 0) {
        this.slot = i;
        return -1;
      }
      if (slots[2 * i + 1] === h) {
        const t = this.tuples;
        const o = 4 * e;
        if (t.get(o) === a && t.get(o + 1) === b && t.get(o + 2) === c && t.get(o + 3) === d) return e;
      }
      i = (i + 1) & mask;
    }
  }

  /** Adds (a, b, c, d) right after a `find` of it returned -1; returns its entry. */
  add(a: number, b: number, c: number, d: number): number {
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) {
      this.grow();
      this.find(a, b, c, d);
    }
    this.slots[2 * this.slot] = this.size + 1;
    this.slots[2 * this.slot + 1] = this.hash;
    const t = this.tuples;
    t.push(a);
    t.push(b);
    t.push(c);
    t.push(d);
    return this.size++;
  }

  /** Node k (0..3) of entry e. */
  node(e: number, k: number): number {
    return this.tuples.get(4 * e + k);
  }

  bytes(): number {
    return this.tuples.bytes() + this.slots.byteLength;
  }

  /** Rehashes from the old slots, which hold every entry's hash: no tuple is read. */
  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const slots = new Int32Array(cap * 2);
    const mask = cap - 1;
    const old = this.slots;
    for (let o = 0; o < old.length; o += 2) {
      if (old[o] === 0) continue;
      const h = old[o + 1];
      let i = h & mask;
      while (slots[2 * i] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[o];
      slots[2 * i + 1] = h;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** Explored states with their search tree (parent, action, depth), by index. */
export class TreeStore {
  readonly words: number;
  /** The state loaded last (by `init` or `load`). Read-only for the caller. */
  readonly cur: Uint32Array;
  /** Equal to `cur` after `load` and after `fresh`; the caller steps it, then calls `lookup`. */
  readonly next: Uint32Array;
  /** Index of the state in `cur`. */
  at = -1;
  /** `next` as Int32 values, the type of the tree's nodes (`nval`). */
  private readonly nextI: Int32Array;
  /** `cur` and `next`, and the comparison of the two (state-diff.ts). */
  private readonly rows: StateRows;

  /** Nodes per level (level 0: the words); the last level has 1 or 2 nodes. */
  private readonly len: number[];
  /** Level l's nodes of `cur` (level 0 is `cur` itself, so index 0 is unused). */
  private readonly lv: Int32Array[];
  /** Level l's nodes of `next`: equal to lv except at the positions in `dirty[l]`. */
  private readonly nlv: Int32Array[];
  /** Per level: positions where `next` differs from `cur` after the last `lookup`. */
  private readonly dirty: Int32Array[];
  private readonly ndirty: number[];
  /** The pair tables of levels 1..top (index 0 unused). */
  private readonly tables: (PairTable | SharedPairTable)[];
  private readonly top: number;
  private readonly root: RootTable | SharedRootTable;
  /** Whether the last `intern` stored a new state. */
  added = false;
  /** The root tuple of `next` (the top level's nodes, 0 where it has fewer than four). */
  private rootA = 0;
  private rootB = 0;
  private rootC = 0;
  private rootD = 0;

  readonly parent = new ChunkedInt32();
  readonly action = new ChunkedInt32();
  readonly depth = new ChunkedInt32();
  /** Scratch rows for `find`. */
  private readonly findScratch: Int32Array;
  private readonly findScratch2: Int32Array;

  /**
   * A store of its own, or, with `shared`, a view of tables in shared memory that other threads
   * intern into too: states are then stored by `intern` (not `lookup` and `insert`), and the
   * per-state parent, action and depth arrays are left to the caller.
   */
  constructor(words: number, shared?: SharedTrees) {
    this.words = words;
    this.findScratch = new Int32Array(Math.max(1, words));
    this.findScratch2 = new Int32Array(Math.max(1, words));
    this.rows = new StateRows(words);
    this.cur = this.rows.cur;
    this.next = this.rows.next;
    this.nextI = new Int32Array(this.next.buffer, this.next.byteOffset, words);
    const len = levelLengths(words);
    this.len = len;
    this.top = len.length - 1;
    this.lv = len.map((n, l) => (l === 0 ? new Int32Array(0) : new Int32Array(n)));
    this.nlv = len.map((n, l) => (l === 0 ? new Int32Array(0) : new Int32Array(n)));
    this.dirty = len.map((n, l) => (l === 0 ? this.rows.dirty : new Int32Array(n)));
    this.ndirty = len.map(() => 0);
    if (shared !== undefined) {
      if (shared.levels.length !== len.length) throw new Error('tree store: shared tables of another shape');
      this.tables = shared.levels.map((h) => new SharedPairTable(h));
      this.root = new SharedRootTable(shared.root);
    } else {
      this.tables = len.map(() => new PairTable());
      this.root = new RootTable(1 << 12);
    }
  }

  /** With shared tables: gives back the rest of this thread's block of state numbers (SharedRootTable.release). */
  releaseNumbers(): void {
    if (this.root instanceof SharedRootTable) this.root.release();
  }

  /** The shared tables (after another thread grew one, each must re-read its mask). */
  sharedTables(): (SharedPairTable | SharedRootTable)[] {
    const all = [...this.tables.slice(1), this.root];
    return all.filter((t) => t instanceof SharedPairTable || t instanceof SharedRootTable);
  }

  get count(): number {
    return this.root.size;
  }

  /** Node q of level l of `next`. */
  private nval(l: number, q: number): number {
    return l === 0 ? this.next[q] | 0 : this.nlv[l][q];
  }

  /**
   * Stores s as the initial state (index 0, no parent) and loads it. With shared tables, first
   * reads their sizes: a helper thread opens the store when it starts and sets it up only when it
   * joins its first level (parallel.ts), by which time the other threads may have grown the
   * tables, and an old mask probes the wrong slots (the same node interned twice, or "full").
   */
  init(s: Uint32Array): number {
    for (const t of this.sharedTables()) t.refresh();
    this.fresh();
    this.next.set(s);
    this.cur.set(s);
    for (let l = 1; l <= this.top; l++) {
      const below = this.len[l - 1];
      for (let q = 0; q < this.len[l]; q++) {
        const a = this.nval(l - 1, 2 * q);
        const b = 2 * q + 1 < below ? this.nval(l - 1, 2 * q + 1) : 0;
        const v = this.tables[l].intern(a, b);
        this.nlv[l][q] = v;
        this.lv[l][q] = v;
      }
    }
    this.rootPair();
    if (this.root instanceof SharedRootTable) {
      this.at = this.root.intern(this.rootA, this.rootB, this.rootC, this.rootD);
      return this.at;
    }
    if (this.root.find(this.rootA, this.rootB, this.rootC, this.rootD) < 0) this.insert(-1, -1, 0);
    this.at = 0;
    return 0;
  }

  private rootPair(): void {
    const t = this.top;
    const n = this.len[t];
    this.rootA = this.nval(t, 0);
    this.rootB = n > 1 ? this.nval(t, 1) : 0;
    this.rootC = n > 2 ? this.nval(t, 2) : 0;
    this.rootD = n > 3 ? this.nval(t, 3) : 0;
  }

  /** Undoes the caller's step on `next` (after `lookup`): `next` equals `cur` again. */
  fresh(): void {
    const d0 = this.dirty[0];
    for (let i = 0; i < this.ndirty[0]; i++) this.next[d0[i]] = this.cur[d0[i]];
    this.ndirty[0] = 0;
    for (let l = 1; l <= this.top; l++) {
      const d = this.dirty[l];
      const nl = this.nlv[l];
      const ll = this.lv[l];
      for (let i = 0; i < this.ndirty[l]; i++) nl[d[i]] = ll[d[i]];
      this.ndirty[l] = 0;
    }
  }

  /**
   * The index of the state in `next`, or -1 if it is new (then `insert` stores it). Interns the
   * nodes above the words that differ from `cur`. Call `fresh` before stepping `next` again.
   */
  lookup(): number {
    if (!this.climb()) return this.at;
    return (this.root as RootTable).find(this.rootA, this.rootB, this.rootC, this.rootD);
  }

  /**
   * With shared tables: the index of the state in `next`, stored if it is new (`added` then says
   * so). Call `fresh` before stepping `next` again.
   */
  intern(): number {
    this.added = false;
    if (!this.climb()) return this.at;
    const root = this.root as SharedRootTable;
    const e = root.intern(this.rootA, this.rootB, this.rootC, this.rootD);
    this.added = root.lastAdded;
    return e;
  }

  /** Interns the nodes above the words where `next` differs from `cur`; false when none does. */
  private climb(): boolean {
    const n = this.rows.diff();
    this.ndirty[0] = n;
    if (n === 0) return false;
    for (let l = 1; l <= this.top; l++) {
      const below = this.dirty[l - 1];
      const nb = this.ndirty[l - 1];
      const d = this.dirty[l];
      const nl = this.nlv[l];
      const ll = this.lv[l];
      const t = this.tables[l];
      const lenBelow = this.len[l - 1];
      // The row below: the words (as Int32 values, like the nodes) at level 1, else nodes.
      const src = l === 1 ? this.nextI : this.nlv[l - 1];
      let m = 0;
      for (let i = 0; i < nb; i++) {
        const q = below[i] >>> 1;
        if (m > 0 && d[m - 1] === q) continue;
        const a = src[2 * q];
        const b = 2 * q + 1 < lenBelow ? src[2 * q + 1] : 0;
        const v = t.intern(a, b);
        nl[q] = v;
        d[m++] = q;
        // Pairs are interned exactly, so a child that changed always changes its parent.
        if (v === ll[q]) throw new Error('tree store: a changed node kept its value');
      }
      this.ndirty[l] = m;
    }
    this.rootPair();
    return true;
  }

  /** Stores the state of the last `lookup` that returned -1; returns its index. */
  insert(parent: number, action: number, depth: number): number {
    const i = (this.root as RootTable).add(this.rootA, this.rootB, this.rootC, this.rootD);
    this.parent.push(parent);
    this.action.push(action);
    this.depth.push(depth);
    return i;
  }

  /** Loads state i into `cur` and `next`, descending only where it differs from `cur`. */
  load(i: number): void {
    this.fresh();
    if (i === this.at) return;
    this.at = i;
    const t = this.top;
    const d = this.dirty;
    // The dirty lists serve as scratch for the positions that change, level by level.
    let m = 0;
    const root = this.root;
    const top = this.len[t];
    if (t === 0) {
      for (let k = 0; k < top; k++) this.setWord(k, root.node(i, k));
      return;
    }
    const lt = this.lv[t];
    const nt = this.nlv[t];
    for (let k = 0; k < top; k++) {
      const v = root.node(i, k);
      if (lt[k] !== v) {
        lt[k] = nt[k] = v;
        d[t][m++] = k;
      }
    }
    for (let l = t; l >= 2; l--) {
      const tab = this.tables[l];
      const ll = this.lv[l];
      const dl = d[l];
      const below = this.lv[l - 1];
      const belowN = this.nlv[l - 1];
      const db = d[l - 1];
      const lenBelow = this.len[l - 1];
      let mb = 0;
      for (let k = 0; k < m; k++) {
        const e = ll[dl[k]];
        const c = 2 * dl[k];
        const x = tab.left(e);
        if (below[c] !== x) {
          below[c] = belowN[c] = x;
          db[mb++] = c;
        }
        if (c + 1 < lenBelow) {
          const y = tab.right(e);
          if (below[c + 1] !== y) {
            below[c + 1] = belowN[c + 1] = y;
            db[mb++] = c + 1;
          }
        }
      }
      m = mb;
    }
    // Level 1: its nodes' children are the words themselves.
    const tab = this.tables[1];
    const l1 = this.lv[1];
    const d1 = d[1];
    const cur = this.cur;
    const next = this.next;
    const W = this.len[0];
    for (let k = 0; k < m; k++) {
      const e = l1[d1[k]];
      const c = 2 * d1[k];
      const x = tab.left(e);
      cur[c] = x;
      next[c] = x;
      if (c + 1 < W) {
        const y = tab.right(e);
        cur[c + 1] = y;
        next[c + 1] = y;
      }
    }
  }

  private setWord(k: number, v: number): void {
    this.cur[k] = v;
    this.next[k] = v;
  }

  /** Actions from the initial state to state i. */
  path(i: number): number[] {
    const out: number[] = [];
    for (let j = i; this.parent.get(j) >= 0; j = this.parent.get(j)) out.push(this.action.get(j));
    return out.reverse();
  }

  depthOf(i: number): number {
    return this.depth.get(i);
  }

  /**
   * The index of state s, or -1 if it was never stored, without storing anything. Encodes s from
   * scratch (for the fair-cycle phase, which looks up successors it recomputes).
   */
  find(s: Uint32Array): number {
    let row = this.findScratch;
    let n = this.words;
    for (let k = 0; k < n; k++) row[k] = s[k] | 0;
    for (let l = 1; l <= this.top; l++) {
      const out = row === this.findScratch ? this.findScratch2 : this.findScratch;
      const m = this.len[l];
      for (let q = 0; q < m; q++) {
        const e = this.tables[l].find(row[2 * q], 2 * q + 1 < n ? row[2 * q + 1] : 0);
        if (e < 0) return -1;
        out[q] = e;
      }
      row = out;
      n = m;
    }
    const a = row[0];
    const b = n > 1 ? row[1] : 0;
    const c = n > 2 ? row[2] : 0;
    const d = n > 3 ? row[3] : 0;
    return this.root.find(a, b, c, d);
  }

  /** Bytes held by the tables and the per-state arrays (allocated chunks and slot arrays). */
  bytes(): number {
    let b = this.root.bytes() + this.parent.bytes() + this.action.bytes() + this.depth.bytes();
    for (const t of this.tables) b += t.bytes();
    return b;
  }
}
