/**
 * The simulator's pending events: a binary min-heap over parallel typed arrays, ordered by
 * (time, priority, sequence). The sequence number is the order of insertion, so events due at the
 * same time with the same priority come out first in, first out, and a run is deterministic
 * (docs/decisions/0152-event-queue.md). Push and pop allocate nothing; the arrays double when full,
 * which happens O(log n) times in a run.
 *
 * An event carries two integers, `a` and `b` (an actor or source index, and a kind or argument),
 * chosen by the driver. There is no cancel: a driver that must retract an event (an actor
 * preempted before its step is due) bumps a generation counter it keeps per actor, puts the
 * generation in `b`, and ignores popped events whose generation is stale.
 */
export class EventQueue {
  private time: Float64Array;
  private prio: Int32Array;
  private seq: Float64Array;
  private ea: Int32Array;
  private eb: Int32Array;
  private n = 0;
  /** Sequence numbers are exact in a double up to 2^53 insertions. */
  private nextSeq = 0;

  /** The event the last pop removed. */
  outTime = 0;
  outPriority = 0;
  outSeq = 0;
  outA = 0;
  outB = 0;

  constructor(capacity = 64) {
    const c = Math.max(1, capacity | 0);
    this.time = new Float64Array(c);
    this.prio = new Int32Array(c);
    this.seq = new Float64Array(c);
    this.ea = new Int32Array(c);
    this.eb = new Int32Array(c);
  }

  get size(): number {
    return this.n;
  }

  /** The time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.n === 0 ? Number.POSITIVE_INFINITY : this.time[0];
  }

  /** Adds an event due at `time` (lower priority numbers go first among equal times). */
  push(time: number, priority: number, a: number, b: number): void {
    if (Number.isNaN(time)) throw new RangeError('event time is NaN');
    if (this.n === this.time.length) this.grow();
    let i = this.n++;
    const s = this.nextSeq++;
    // Sift up: move parents that come after the new event down into the hole.
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(time, priority, s, p)) break;
      this.move(p, i);
      i = p;
    }
    this.time[i] = time;
    this.prio[i] = priority;
    this.seq[i] = s;
    this.ea[i] = a;
    this.eb[i] = b;
  }

  /** Removes the earliest event into out*; false when the queue is empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    this.outTime = this.time[0];
    this.outPriority = this.prio[0];
    this.outSeq = this.seq[0];
    this.outA = this.ea[0];
    this.outB = this.eb[0];
    const last = --this.n;
    if (last === 0) return true;
    const t = this.time[last];
    const pr = this.prio[last];
    const s = this.seq[last];
    const a = this.ea[last];
    const b = this.eb[last];
    // Sift down the former last element from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && this.less(r, l) ? r : l;
      if (!this.childFirst(c, t, pr, s)) break;
      this.move(c, i);
      i = c;
    }
    this.time[i] = t;
    this.prio[i] = pr;
    this.seq[i] = s;
    this.ea[i] = a;
    this.eb[i] = b;
    return true;
  }

  /** Empties the queue; sequence numbers restart (a new replication). */
  clear(): void {
    this.n = 0;
    this.nextSeq = 0;
  }

  /** Whether (t, pr, s) comes before the event at slot j. */
  private before(t: number, pr: number, s: number, j: number): boolean {
    const tj = this.time[j];
    if (t !== tj) return t < tj;
    const pj = this.prio[j];
    if (pr !== pj) return pr < pj;
    return s < this.seq[j];
  }

  /** Whether the event at slot c comes before (t, pr, s). */
  private childFirst(c: number, t: number, pr: number, s: number): boolean {
    const tc = this.time[c];
    if (tc !== t) return tc < t;
    const pc = this.prio[c];
    if (pc !== pr) return pc < pr;
    return this.seq[c] < s;
  }

  private less(i: number, j: number): boolean {
    return this.before(this.time[i], this.prio[i], this.seq[i], j);
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from];
    this.prio[to] = this.prio[from];
    this.seq[to] = this.seq[from];
    this.ea[to] = this.ea[from];
    this.eb[to] = this.eb[from];
  }

  private grow(): void {
    const c = this.time.length * 2;
    const t = new Float64Array(c);
    t.set(this.time);
    this.time = t;
    const p = new Int32Array(c);
    p.set(this.prio);
    this.prio = p;
    const s = new Float64Array(c);
    s.set(this.seq);
    this.seq = s;
    const a = new Int32Array(c);
    a.set(this.ea);
    this.ea = a;
    const b = new Int32Array(c);
    b.set(this.eb);
    this.eb = b;
  }
}
