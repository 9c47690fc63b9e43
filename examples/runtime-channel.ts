/**
 * A posted-interrupt channel between worker threads: two producer workers post "device
 * interrupts" (vectors 32-34) as fast as they can; the main thread consumes them with
 * Atomics.waitAsync and the WebAssembly harvest kernel. Most posts coalesce: only the post that
 * finds ON clear wakes the consumer, and the per-vector counters say how many posts each
 * delivery stands for.
 *
 * Run: node --import tsx examples/runtime-channel.ts
 *
 * This file is both the main program and the producers' worker entry (isMainThread tells which).
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { PiChannel, type PiChannelHandle, startTsWorker, tsWorkerData } from '../src/runtime/index.ts';

interface ProducerData {
  readonly channel: PiChannelHandle;
  readonly id: number;
  readonly posts: number;
}

const DEVICES: Record<number, string> = { 32: 'disk', 33: 'nic', 34: 'timer' };

if (isMainThread) {
  // The channel lives in a shared WebAssembly.Memory so that either harvest kernel can consume it.
  const channel = PiChannel.create({ counters: true });
  const received: Record<string, number> = { disk: 0, nic: 0, timer: 0 };
  const consumer = channel.consumer({
    // Called once per harvested vector, highest vector first; `count` = posts it stands for.
    handler: (vector, count) => {
      received[DEVICES[vector]] += count;
    },
    algorithm: 'u64-loads-then-xchg',
    kernel: 'wasm',
  });
  const consuming = consumer.runAsync();

  const producers = [0, 1].map((id) => {
    const data: ProducerData = { channel: channel.handle, id, posts: 200_000 };
    return startTsWorker(new URL(import.meta.url), data);
  });
  const results = await Promise.all(
    producers.map(
      (w) =>
        new Promise<{ posts: number; notifications: number }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  // All producers are done: close() makes the consumer drain what is left and return.
  channel.close();
  const stats = await consuming;

  const posts = results.reduce((a, r) => a + r.posts, 0);
  const notifications = results.reduce((a, r) => a + r.notifications, 0);
  console.log(`posts:            ${posts}`);
  console.log(`received:         ${JSON.stringify(received)} (sum ${stats.events})`);
  console.log(`handler calls:    ${stats.vectors}`);
  console.log(`notifications:    ${notifications} (posts that moved ON 0->1)`);
  console.log(`consumer wake-ups: ${stats.wakeups}`);
  console.log(`posts per wake-up: ${(posts / Math.max(1, notifications)).toFixed(1)}`);
  console.log(
    `atomic ops on PIR: ${stats.atomicLoads} loads, ${stats.atomicXchgs} xchgs in ${stats.harvests} harvests`,
  );
  if (stats.events !== posts) throw new Error('lost posts');
} else {
  const { channel, id, posts } = tsWorkerData<ProducerData>();
  const ch = PiChannel.attach(channel);
  let notifications = 0;
  for (let i = 0; i < posts; i++) {
    // post() returns true only for the post that woke the consumer.
    if (ch.post(32 + ((i + id) % 3))) notifications++;
  }
  parentPort!.postMessage({ posts, notifications });
}
