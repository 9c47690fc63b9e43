/**
 * The one-thread search's bookkeeping, rebuilt by the parallel search (parallel.ts) from the
 * threads' records of a level: it reads them in the one-thread order and numbers the new states,
 * counts the edges, checks the invariant where a state is new and the terminal checks, and stops
 * where explorer.ts would stop, with its counts and its path.
 *
 * A class of its own, called once per chunk of records, rather than a loop inside the search's
 * driver: V8 optimizes a small method that is called often once and for all, where a long loop in
 * a big function is compiled again on stack (OSR) at every level it meets new feedback in (seven
 * compilations of the driver per 3-vCPU search, 35 ms each, on a core the search needs; decision
 * 0261).
 */
import { ChunkedInt32 } from './chunked.ts';
import type { EdgeLog } from './edges.ts';
import type { Outcome } from './explorer.ts';

export class LevelReplay {
  /** Per numbered state: its parent's number (-1 for the initial state) and the action from it. */
  readonly parent = new ChunkedInt32();
  readonly action = new ChunkedInt32();
  readonly depthOf = new ChunkedInt32();
  /** States numbered so far (the one-thread search's stored count). */
  count = 0;
  generated = 0;
  /** States expanded through the ample action alone. */
  reducedStates = 0;
  maxSeenDepth = 0;
  /** A violation on an edge of this level: the level's later states still get their terminal checks. */
  pending: Outcome | null = null;
  /** A level was cut by the depth bound. */
  depthLimited = false;
  private readonly edges: EdgeLog | null;
  private readonly maxStates: number;
  private readonly maxDepth: number;
  // The level's parameters and views (set by `level`).
  private d = 0;
  private es = 0;
  private canon: Int32Array = new Int32Array(0);
  private ord: Int32Array = new Int32Array(0);
  private inv: Int32Array = new Int32Array(0);

  constructor(edges: EdgeLog | null, maxStates: number, maxDepth: number) {
    this.edges = edges;
    this.maxStates = maxStates;
    this.maxDepth = maxDepth;
  }

  /** The initial state, number 0. */
  root(): void {
    this.parent.push(-1);
    this.action.push(-1);
    this.depthOf.push(0);
    this.count = 1;
  }

  /**
   * Starts level `d`: states stored from `es` on are new unless numbered; `canon` maps a stored
   * state to its number (-1: none yet), `ord` a number to its stored state, `inv` a stored state to
   * its invariant's code.
   */
  level(d: number, es: number, canon: Int32Array, ord: Int32Array, inv: Int32Array): void {
    this.d = d;
    this.es = es;
    this.canon = canon;
    this.ord = ord;
    this.inv = inv;
  }

  /**
   * Replays the records of states `i0`..`end`-1 of the level from `off` in `recs` (parallel.ts
   * says their layout). Returns the search's outcome where it ends here (a terminal violation, the
   * state bound), else null.
   */
  chunk(recs: Int32Array, off: number, i0: number, end: number): Outcome | null {
    const { d, es, canon, ord, inv, edges } = this;
    for (let i = i0; i < end; i++) {
      const n = recs[off];
      const term = recs[off + 1];
      const m = recs[off + 2];
      off += 3;
      edges?.begin();
      if (n === 0) {
        if (term !== 0) return { kind: 'violated', code: term, path: this.path(i), atTerminal: true };
        continue;
      }
      if (this.pending !== null) {
        off += 3 * m;
        continue;
      }
      if (d >= this.maxDepth) {
        this.depthLimited = true;
        continue;
      }
      // Expanded through the ample action alone (the proviso would have expanded them all).
      if (m === 1 && n > 1) this.reducedStates++;
      for (let k = 0; k < m; k++) {
        const t = recs[off];
        const a = recs[off + 1];
        const sv = recs[off + 2];
        off += 3;
        this.generated++;
        const isNew = t >= es && canon[t] < 0;
        if (isNew && this.count >= this.maxStates) return { kind: 'incomplete', reason: 'states' };
        let j = -1;
        if (isNew) {
          j = this.count++;
          canon[t] = j;
          ord[j] = t;
          this.parent.push(i);
          this.action.push(a);
          this.depthOf.push(d + 1);
          if (d + 1 > this.maxSeenDepth) this.maxSeenDepth = d + 1;
        }
        edges?.add(isNew ? j : canon[t]);
        let code = sv;
        if (code === 0 && isNew) code = inv[t];
        if (code !== 0) {
          const p = isNew ? this.path(j) : [...this.path(i), a];
          this.pending = { kind: 'violated', code, path: p, atTerminal: false };
          off += 3 * (m - k - 1);
          break;
        }
      }
    }
    return null;
  }

  /** The actions from the initial state to state `j`. */
  path(j: number): number[] {
    const out: number[] = [];
    for (let i = j; this.parent.get(i) >= 0; i = this.parent.get(i)) out.push(this.action.get(i));
    return out.reverse();
  }
}
