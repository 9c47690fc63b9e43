/**
 * The simulator's pending events: a binary min-heap ordered by (time, priority, sequence). The
 * sequence number is the order of insertion, so events due at the same time with the same priority
 * come out first in, first out, and a run is deterministic (docs/decisions/0152-event-queue.md).
 *
 * Events live in slots of parallel typed arrays (time, priority, sequence, a, b); the heap orders
 * slot numbers, so sifting moves one integer per level. Freed slots are reused through a free list.
 * Push and pop allocate nothing; the arrays double when full, O(log n) times in a run.
 *
 * An event carries two integers, `a` and `b` (an actor or source index, and a kind or argument),
 * chosen by the driver. There is no cancel: a driver that must retract an event (an actor
 * preempted before its step is due) bumps a generation counter it keeps per actor, puts the
 * generation in `b`, and ignores popped events whose generation is stale.
 */
export class EventQueue {
  private time: Float64Array;
  private prio: Int32Array;
  /** Sequence numbers are exact in a double up to 2^53 insertions. */
  private seq: Float64Array;
  private ea: Int32Array;
  private eb: Int32Array;
  /** heap[0..n-1]: slot numbers in heap order. */
  private heap: Int32Array;
  /** free[0..nFree-1]: slots not in use. */
  private free: Int32Array;
  private nFree: number;
  private n = 0;
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
    this.heap = new Int32Array(c);
    this.free = new Int32Array(c);
    for (let i = 0; i < c; i++) this.free[i] = c - 1 - i;
    this.nFree = c;
  }

  get size(): number {
    return this.n;
  }

  /** The time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.n === 0 ? Number.POSITIVE_INFINITY : this.time[this.heap[0]];
  }

  /** Adds an event due at `time` (lower priority numbers go first among equal times). */
  push(time: number, priority: number, a: number, b: number): void {
    if (Number.isNaN(time)) throw new RangeError('event time is NaN');
    if (this.nFree === 0) this.grow();
    const slot = this.free[--this.nFree];
    this.time[slot] = time;
    this.prio[slot] = priority;
    this.seq[slot] = this.nextSeq++;
    this.ea[slot] = a;
    this.eb[slot] = b;
    const heap = this.heap;
    let i = this.n++;
    // Sift up: move parents that come after the new event down into the hole.
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(slot, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = slot;
  }

  /** Removes the earliest event into out*; false when the queue is empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const heap = this.heap;
    const top = heap[0];
    this.outTime = this.time[top];
    this.outPriority = this.prio[top];
    this.outSeq = this.seq[top];
    this.outA = this.ea[top];
    this.outB = this.eb[top];
    this.free[this.nFree++] = top;
    const last = --this.n;
    if (last === 0) return true;
    const moving = heap[last];
    // Sift down the former last slot from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && this.less(heap[r], heap[l]) ? heap[r] : heap[l];
      if (!this.less(c, moving)) break;
      heap[i] = c;
      i = c === heap[l] ? l : r;
    }
    heap[i] = moving;
    return true;
  }

  /** Empties the queue; sequence numbers restart (a new replication). */
  clear(): void {
    this.n = 0;
    this.nextSeq = 0;
    const c = this.time.length;
    for (let i = 0; i < c; i++) this.free[i] = c - 1 - i;
    this.nFree = c;
  }

  /** Whether the event in slot x comes before the one in slot y. */
  private less(x: number, y: number): boolean {
    const tx = this.time[x];
    const ty = this.time[y];
    if (tx !== ty) return tx < ty;
    const px = this.prio[x];
    const py = this.prio[y];
    if (px !== py) return px < py;
    return this.seq[x] < this.seq[y];
  }

  private grow(): void {
    const old = this.time.length;
    const c = old * 2;
    const f64 = (a: Float64Array) => {
      const x = new Float64Array(c);
      x.set(a);
      return x;
    };
    const i32 = (a: Int32Array) => {
      const x = new Int32Array(c);
      x.set(a);
      return x;
    };
    this.time = f64(this.time);
    this.seq = f64(this.seq);
    this.prio = i32(this.prio);
    this.ea = i32(this.ea);
    this.eb = i32(this.eb);
    this.heap = i32(this.heap);
    this.free = new Int32Array(c);
    // Only called when every old slot is in use: the new ones are free.
    for (let i = 0; i < c - old; i++) this.free[i] = c - 1 - i;
    this.nFree = c - old;
  }
}
