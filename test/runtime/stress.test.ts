/**
 * Stress: several producer workers and one consumer on a real channel, for every harvest
 * algorithm and both kernels. Every post is delivered (no producer waits in vain for a vector it
 * posted, and nothing is left in PIR once the producers stop), nothing is delivered that was not
 * posted, and wake-ups never exceed posts. Pass/fail rests on exact counts and sequence numbers;
 * time only enters through deadlines that a lost wake-up would hit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HARVEST_ALGORITHMS, HARVEST_KERNELS } from '../../src/runtime/index.ts';
import { OWNED_END } from './stress-board.ts';
import { runStress, type StressOptions, type StressReport } from './stress-harness.ts';

const BASE = {
  producers: 3,
  seed: 20250315,
  phases: 300,
  maxBurst: 48,
  ackEvery: 2,
  ackTimeoutMs: 3000,
} as const;

function check(r: StressReport, o: StressOptions): void {
  assert.deepEqual(r.failures, [], 'lost wake-up: a posted vector was never handled');
  // Nothing delivered that was not posted, and (with counters) every post exactly once.
  for (let v = 0; v < 256; v++) {
    if (o.counters) assert.equal(r.delivered[v], r.posted[v], `vector ${v}: delivered vs posted`);
    else {
      assert.ok(r.delivered[v] <= r.posted[v], `vector ${v}: more deliveries than posts`);
      assert.equal(
        r.delivered[v] > 0,
        r.posted[v] > 0,
        `vector ${v}: posted but never delivered, or the reverse`,
      );
    }
    if (v < OWNED_END) assert.equal(r.seen[v], r.seq[v], `vector ${v}: its last post was not handled`);
  }
  assert.equal(r.phantom, 0);
  assert.equal(r.consumer.events, o.counters ? r.posts : r.consumer.vectors);
  // Wake-ups never exceed posts: the consumer wakes only for a notify (each a post that moved ON
  // 0 -> 1, or close()), and runs the posted-MSI loop at most once per ON transition.
  assert.ok(r.notifications <= r.posts);
  // ON is set by a notifying post, or by resume() recomputing it (which wakes nobody: the
  // consumer calls it itself).
  assert.ok(
    r.consumer.notifications <= r.notifications + r.resumeOns,
    'more ON episodes than ON transitions',
  );
  assert.ok(r.consumer.wakeups <= r.notifications + 1, 'more wake-ups than notifications');
  // The final drain (the consumer's close path) leaves PIR empty.
  assert.deepEqual(r.final.pir, []);
  assert.equal(r.final.on, false);
}

function describe(r: StressReport): string {
  return (
    `${r.posts} posts, ${r.notifications} notifications (${(r.posts / Math.max(1, r.notifications)).toFixed(1)} ` +
    `posts each), ${r.consumer.wakeups} consumer wake-ups, ${r.consumer.vectors} handler calls, ` +
    `${r.elapsedMs.toFixed(0)} ms`
  );
}

for (const algorithm of HARVEST_ALGORITHMS) {
  for (const kernel of HARVEST_KERNELS) {
    test(`stress: 3 producers -> worker consumer (Atomics.wait), ${algorithm}/${kernel}, counters`, async (t) => {
      const o: StressOptions = { ...BASE, algorithm, kernel, consumer: 'worker', counters: true };
      const r = await runStress(o);
      t.diagnostic(describe(r));
      check(r, o);
    });
  }
}

for (const [algorithm, kernel] of [
  ['u64-loads-then-xchg', 'js'],
  ['u32-interleaved', 'wasm'],
] as const) {
  test(`stress: 3 producers -> main-thread consumer (Atomics.waitAsync), ${algorithm}/${kernel}`, async (t) => {
    const o: StressOptions = { ...BASE, algorithm, kernel, consumer: 'main', counters: true };
    const r = await runStress(o);
    t.diagnostic(describe(r));
    check(r, o);
  });
}

test('stress: a consumer that sets SN and resumes every 8 wake-ups loses nothing (ON recomputed)', async (t) => {
  const o: StressOptions = {
    ...BASE,
    algorithm: 'u64-loads-then-xchg',
    kernel: 'js',
    consumer: 'worker',
    counters: true,
    snEvery: 8,
  };
  const r = await runStress(o);
  t.diagnostic(`${describe(r)}, ${r.resumeOns} resumes found PIR non-empty`);
  check(r, o);
});

test('stress: without counters (pure coalescing), u64-loads-then-xchg/wasm', async (t) => {
  const o: StressOptions = {
    ...BASE,
    algorithm: 'u64-loads-then-xchg',
    kernel: 'wasm',
    consumer: 'worker',
    counters: false,
  };
  const r = await runStress(o);
  t.diagnostic(describe(r));
  check(r, o);
});
