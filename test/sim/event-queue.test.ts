import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventQueue } from '../../src/sim/event-queue.ts';

type Ev = { time: number; prio: number; a: number };

/** The order rule, as a sort: time, then priority, then insertion order (a stable sort keeps it). */
function referenceOrder(evs: Ev[]): number[] {
  return evs
    .map((e, i) => ({ ...e, i }))
    .sort((x, y) => x.time - y.time || x.prio - y.prio || x.i - y.i)
    .map((e) => e.a);
}

// Few distinct times and priorities, so that ties are common and FIFO is really exercised.
const ev = fc.record({
  time: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 10, noNaN: true })),
  prio: fc.integer({ min: -2, max: 2 }),
  a: fc.integer(),
});

test('pops in (time, priority, insertion) order, like a stable sort', () => {
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (evs, cap) => {
      const q = new EventQueue(cap);
      evs.forEach((e, i) => {
        q.push(e.time, e.prio, e.a, i);
      });
      const out: number[] = [];
      while (q.pop()) out.push(q.outA);
      assert.deepEqual(out, referenceOrder(evs));
      assert.equal(q.size, 0);
    }),
  );
});

test('interleaved pushes and pops keep the rule (events pushed while others are pending)', () => {
  fc.assert(
    fc.property(fc.array(fc.option(ev, { nil: undefined, freq: 3 }), { maxLength: 300 }), (ops) => {
      const q = new EventQueue(2);
      const pending: (Ev & { i: number })[] = [];
      let i = 0;
      for (const op of ops) {
        if (op === undefined) {
          const got = q.pop();
          assert.equal(got, pending.length > 0);
          if (!got) continue;
          pending.sort((x, y) => x.time - y.time || x.prio - y.prio || x.i - y.i);
          const want = pending.shift()!;
          assert.equal(q.outA, want.a);
          assert.equal(q.outTime, want.time);
          assert.equal(q.outPriority, want.prio);
          assert.equal(q.outSeq, want.i);
        } else {
          q.push(op.time, op.prio, op.a, 0);
          pending.push({ ...op, i: i++ });
        }
        assert.equal(q.size, pending.length);
        const min = pending.reduce((m, e) => Math.min(m, e.time), Number.POSITIVE_INFINITY);
        assert.equal(q.peekTime(), min);
      }
    }),
  );
});

test('equal keys come out first in, first out; b travels with its event', () => {
  const q = new EventQueue();
  for (let i = 0; i < 100; i++) q.push(7, 1, i, 1000 + i);
  q.push(7, 0, -1, -1);
  assert.ok(q.pop());
  assert.equal(q.outA, -1);
  for (let i = 0; i < 100; i++) {
    assert.ok(q.pop());
    assert.equal(q.outA, i);
    assert.equal(q.outB, 1000 + i);
  }
  assert.equal(q.pop(), false);
});

test('clear restarts the sequence; NaN times are refused', () => {
  const q = new EventQueue();
  q.push(1, 0, 1, 0);
  q.clear();
  assert.equal(q.size, 0);
  assert.equal(q.peekTime(), Number.POSITIVE_INFINITY);
  q.push(1, 0, 2, 0);
  assert.ok(q.pop());
  assert.equal(q.outSeq, 0);
  assert.throws(() => q.push(Number.NaN, 0, 0, 0), RangeError);
});
