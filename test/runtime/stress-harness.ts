/**
 * Runs one stress configuration: P producer workers post into one channel, one consumer (a worker
 * on Atomics.wait, or this thread on Atomics.waitAsync) handles the vectors. Pass/fail does not
 * depend on timing: the checks are exact counts and sequence numbers, plus deadlines that only a
 * lost wake-up can hit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import {
  type HarvestAlgorithm,
  type HarvestKernel,
  PiChannel,
  type PiChannelSnapshot,
  type PiConsumerStats,
  startTsWorker,
} from '../../src/runtime/index.ts';
import { boardHandler, DELIVERED, GO, newBoard, OWNED_END, PHANTOM, SEEN, SEQ } from './stress-board.ts';
import type { ConsumerData } from './workers/stress-consumer.ts';
import type { ProducerData, ProducerResult } from './workers/stress-producer.ts';

export interface StressOptions {
  readonly producers: number;
  readonly algorithm: HarvestAlgorithm;
  readonly kernel: HarvestKernel;
  /** Where the consumer runs: a worker (Atomics.wait) or this thread (Atomics.waitAsync). */
  readonly consumer: 'worker' | 'main';
  readonly counters: boolean;
  readonly seed: number;
  readonly phases: number;
  readonly maxBurst: number;
  /** Producers wait for their owned vectors to be handled every this many bursts. */
  readonly ackEvery: number;
  /** How long a post may stay unhandled before it counts as lost. */
  readonly ackTimeoutMs: number;
  /** Worker consumer only: set SN and resume every this many wake-ups (0: never). */
  readonly snEvery?: number;
  /** Worker consumer only: resume without recomputing ON (reproduces seed 004's bug). */
  readonly snBug?: boolean;
}

export interface StressReport {
  readonly producers: readonly ProducerResult[];
  readonly posts: number;
  /** Posts that moved ON from 0 to 1 (and notified). */
  readonly notifications: number;
  readonly consumer: PiConsumerStats;
  /** Times the consumer's resume() found PIR non-empty and set ON. */
  readonly resumeOns: number;
  /** Posts per vector, summed over the producers. */
  readonly posted: readonly number[];
  /** Counts handed to the handler per vector. */
  readonly delivered: readonly number[];
  readonly seq: readonly number[];
  readonly seen: readonly number[];
  readonly phantom: number;
  /** Lost-wake-up and other failures found while running (empty when all went well). */
  readonly failures: readonly string[];
  /** The channel after the consumer stopped (its close path drains PIR). */
  readonly final: PiChannelSnapshot;
  readonly elapsedMs: number;
}

const WORKERS = new URL('./workers/', import.meta.url);

function message<T>(w: Worker, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      const v = pick(m);
      if (v !== undefined) {
        w.off('message', onMessage);
        resolve(v);
      }
    };
    w.on('message', onMessage);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited (code ${code}) before replying`)));
  });
}

function field<T>(key: string): (m: unknown) => T | undefined {
  return (m) => (m !== null && typeof m === 'object' && key in m ? (m as Record<string, T>)[key] : undefined);
}

export async function runStress(o: StressOptions): Promise<StressReport> {
  const ch = PiChannel.create({ counters: o.counters });
  const boardBuf = newBoard();
  const board = new Int32Array(boardBuf);
  const failures: string[] = [];
  const workers: Worker[] = [];
  try {
    let consumerDone: Promise<{ stats: PiConsumerStats; resumeOns: number }>;
    if (o.consumer === 'worker') {
      const data: ConsumerData = {
        channel: ch.handle,
        board: boardBuf,
        algorithm: o.algorithm,
        kernel: o.kernel,
        snEvery: o.snEvery ?? 0,
        snBug: o.snBug,
      };
      const w = startTsWorker(new URL('stress-consumer.ts', WORKERS), data);
      workers.push(w);
      const done = message<{ stats: PiConsumerStats; resumeOns: number }>(w, (m) =>
        field<PiConsumerStats>('stats')(m) === undefined
          ? undefined
          : (m as { stats: PiConsumerStats; resumeOns: number }),
      );
      done.catch(() => {});
      await message<boolean>(w, field('ready'));
      consumerDone = done;
    } else {
      const c = ch.consumer({ handler: boardHandler(board), algorithm: o.algorithm, kernel: o.kernel });
      consumerDone = c.runAsync().then((stats) => ({ stats, resumeOns: 0 }));
    }

    const results: Promise<ProducerResult>[] = [];
    for (let p = 0; p < o.producers; p++) {
      const data: ProducerData = {
        channel: ch.handle,
        board: boardBuf,
        index: p,
        producers: o.producers,
        seed: (o.seed * 7919 + p * 104729) >>> 0,
        phases: o.phases,
        maxBurst: o.maxBurst,
        ackEvery: o.ackEvery,
        ackTimeoutMs: o.ackTimeoutMs,
      };
      const w = startTsWorker(new URL('stress-producer.ts', WORKERS), data);
      workers.push(w);
      results.push(message<ProducerResult>(w, field('result')));
    }
    const t0 = performance.now();
    Atomics.store(board, GO, 1);
    Atomics.notify(board, GO);
    const producers = await Promise.all(results);
    for (const r of producers) if (r.failure !== null) failures.push(r.failure);

    const posted = new Array<number>(256).fill(0);
    for (const r of producers) for (let v = 0; v < 256; v++) posted[v] += r.posted[v];

    // Every post must now reach the handler without any further post or close: a wake-up lost at
    // the end leaves a PIR bit with nobody awake to harvest it, and this deadline expires.
    const settled = (): boolean => {
      const snap = ch.snapshot();
      if (snap.pir.length !== 0 || snap.on) return false;
      for (let v = 0; v < 256; v++) {
        const got = Atomics.load(board, DELIVERED + v);
        if (o.counters ? got !== posted[v] : posted[v] > 0 && got === 0) return false;
        if (v < OWNED_END && Atomics.load(board, SEEN + v) !== Atomics.load(board, SEQ + v)) return false;
      }
      return true;
    };
    const deadline = performance.now() + o.ackTimeoutMs;
    while (!settled()) {
      if (performance.now() > deadline) {
        const snap = ch.snapshot();
        failures.push(
          `not all posts handled ${o.ackTimeoutMs} ms after the producers stopped: ` +
            `PIR [${snap.pir.join(',')}], ON=${snap.on}, SN=${snap.sn}`,
        );
        break;
      }
      await sleep(1);
    }
    const elapsedMs = performance.now() - t0;

    ch.close();
    const { stats: consumer, resumeOns } = await consumerDone;
    return {
      producers,
      posts: producers.reduce((a, r) => a + r.posts, 0),
      notifications: producers.reduce((a, r) => a + r.notifications, 0),
      consumer,
      resumeOns,
      posted,
      delivered: Array.from(board.subarray(DELIVERED, DELIVERED + 256)),
      seq: Array.from(board.subarray(SEQ, SEQ + 256)),
      seen: Array.from(board.subarray(SEEN, SEEN + 256)),
      phantom: Atomics.load(board, PHANTOM),
      failures,
      final: ch.snapshot(),
      elapsedMs,
    };
  } finally {
    if (!ch.closed) ch.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
