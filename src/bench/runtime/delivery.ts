/**
 * Delivery benchmarks: events per second and post-to-handler latency through three transports,
 * each with one consumer worker and 1 or 2 producer workers:
 *
 * - `pi-channel`: the posted-interrupt channel (a post wakes the consumer only on ON's 0->1);
 * - `pi-channel+poll`: the same, with the consumer polling ON for {@link HALT_POLL_NS} before it
 *   sleeps (KVM's halt polling);
 * - `notify-per-event`: the same PIR and counters, but every post calls Atomics.notify;
 * - `MessagePort`: one postMessage per event (Node's built-in inter-thread messaging).
 *
 * Throughput runs: every producer posts its events as fast as it can; the run ends when the
 * consumer has accounted for all of them (the channel's per-vector counters make every post
 * count, coalesced or not). Latency runs: each producer keeps one event in flight, stamping it
 * with hrtime before the post and waiting for the consumer's acknowledgement before the next; the
 * consumer takes the difference in the handler. Nothing here asserts on time.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  DEFAULT_HARVEST_ALGORITHM,
  type HarvestAlgorithm,
  type HarvestKernel,
  PiChannel,
} from '../../runtime/index.ts';
import { ARMED, BOARD_BYTES, board, DONE, END, GO, nowNs } from './board.ts';
import { DOORBELL_BYTES } from './doorbell.ts';
import type { WorkerPool } from './pool.ts';
import type { ConsumeResult, DeliveryMode, ProduceResult, Task } from './tasks.ts';

export type Transport = 'pi-channel' | 'pi-channel+poll' | 'notify-per-event' | 'MessagePort';
export const TRANSPORTS: readonly Transport[] = [
  'pi-channel',
  'pi-channel+poll',
  'notify-per-event',
  'MessagePort',
];

/** The consumer's halt-poll window in the `pi-channel+poll` runs. */
export const HALT_POLL_NS = 50_000;

export interface DeliverySizes {
  /** Events per producer in a throughput run, per transport. */
  readonly events: Readonly<Record<Transport, number>>;
  /** Events per producer in a latency run. */
  readonly latencyEvents: number;
  /** Latency samples discarded per producer (JIT warm-up). */
  readonly warmup: number;
  /** Throughput runs per configuration; the median is reported. */
  readonly repeats: number;
}

export interface ThroughputFigures {
  readonly transport: Transport;
  readonly producers: number;
  readonly posts: number;
  /** Delivered events per second (median over the repeats). */
  readonly eventsPerSec: number;
  /** Every repeat's figure. */
  readonly runs: readonly number[];
  /** Handler calls (pi-channel, notify-per-event: one per harvested vector; MessagePort: one per message). */
  readonly handlerCalls: number;
  /** Wake-ups the producers paid for (notify calls), or posts for MessagePort. */
  readonly notifications: number;
  /** Times the consumer woke from a sleep by a notify (-1: not applicable). */
  readonly consumerWakeups: number;
  /** posts / notifications: how many posts shared one wake-up. */
  readonly postsPerWakeup: number;
}

export interface LatencyFigures {
  readonly transport: Transport;
  readonly producers: number;
  readonly samples: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface DeliveryOptions {
  readonly algorithm?: HarvestAlgorithm;
  readonly kernel?: HarvestKernel;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

async function awaitWord(i32: Int32Array, index: number, atLeast: number): Promise<void> {
  for (;;) {
    const v = Atomics.load(i32, index);
    if (v >= atLeast) return;
    const w = Atomics.waitAsync(i32, index, v, 5000);
    if (w.async && (await w.value) === 'timed-out') {
      throw new Error(`benchmark: timed out waiting for board word ${index} to reach ${atLeast}`);
    }
  }
}

interface RunOutcome {
  readonly elapsedNs: number;
  readonly consumer: ConsumeResult;
  readonly producers: readonly ProduceResult[];
}

/** One run: consumer on worker 0, producers on workers 1..P. */
async function runOnce(
  pool: WorkerPool,
  transport: Transport,
  mode: DeliveryMode,
  producers: number,
  eventsPerProducer: number,
  warmup: number,
  opts: DeliveryOptions,
): Promise<RunOutcome> {
  const boardBuf = new SharedArrayBuffer(BOARD_BYTES);
  const b = board(boardBuf);
  const expected = producers * eventsPerProducer;
  const common = { board: boardBuf, mode };
  let consumerTask: Task;
  const producerTasks: { task: Task; transfer: MessagePort[] }[] = [];
  let consumerTransfer: MessagePort[] = [];
  const consume = { ...common, producers, expected, warmup };
  if (transport === 'pi-channel' || transport === 'pi-channel+poll') {
    const ch = PiChannel.create({ counters: true });
    consumerTask = {
      ...consume,
      kind: 'pi-consume',
      channel: ch.handle,
      algorithm: opts.algorithm ?? DEFAULT_HARVEST_ALGORITHM,
      kernel: opts.kernel ?? 'js',
      haltPollNs: transport === 'pi-channel+poll' ? HALT_POLL_NS : 0,
    };
    for (let p = 0; p < producers; p++) {
      producerTasks.push({
        task: { ...common, kind: 'pi-produce', channel: ch.handle, p, events: eventsPerProducer },
        transfer: [],
      });
    }
  } else if (transport === 'notify-per-event') {
    const bell = new SharedArrayBuffer(DOORBELL_BYTES);
    consumerTask = { ...consume, kind: 'bell-consume', bell };
    for (let p = 0; p < producers; p++) {
      producerTasks.push({
        task: { ...common, kind: 'bell-produce', bell, p, events: eventsPerProducer },
        transfer: [],
      });
    }
  } else {
    const ports: MessagePort[] = [];
    for (let p = 0; p < producers; p++) {
      const mc = new MessageChannel();
      ports.push(mc.port2);
      producerTasks.push({
        task: { ...common, kind: 'port-produce', port: mc.port1, p, events: eventsPerProducer },
        transfer: [mc.port1],
      });
    }
    consumerTask = { ...consume, kind: 'port-consume', ports };
    consumerTransfer = ports;
  }
  const consumer = pool.run<ConsumeResult>(0, consumerTask, consumerTransfer);
  const prods = producerTasks.map(({ task, transfer }, p) => pool.run<ProduceResult>(1 + p, task, transfer));
  // Start together once everyone is ready, so the clock measures delivery, not thread start.
  await awaitWord(b.i32, ARMED, 1 + producers);
  const t0 = nowNs();
  Atomics.store(b.i32, GO, 1);
  Atomics.notify(b.i32, GO);
  const [c, ...ps] = await Promise.all([consumer, ...prods]);
  await awaitWord(b.i32, DONE, 1);
  return { elapsedNs: b.f64[END] - t0, consumer: c, producers: ps };
}

/** Throughput of one transport with `producers` producers (median of `repeats` runs). */
export async function measureThroughput(
  pool: WorkerPool,
  transport: Transport,
  producers: number,
  sizes: DeliverySizes,
  opts: DeliveryOptions = {},
): Promise<ThroughputFigures> {
  const perProducer = sizes.events[transport];
  const runs: number[] = [];
  let last: RunOutcome | undefined;
  for (let r = 0; r < sizes.repeats; r++) {
    last = await runOnce(pool, transport, 'throughput', producers, perProducer, 0, opts);
    runs.push((last.consumer.events / last.elapsedNs) * 1e9);
  }
  const o = last!;
  const posts = o.producers.reduce((a, p) => a + p.posts, 0);
  const notifications = o.producers.reduce((a, p) => a + p.notifications, 0);
  return {
    transport,
    producers,
    posts,
    eventsPerSec: median(runs),
    runs,
    handlerCalls: o.consumer.calls,
    notifications,
    consumerWakeups: o.consumer.wakeups,
    postsPerWakeup: notifications === 0 ? Number.NaN : posts / notifications,
  };
}

/** Post-to-handler latency of one transport with `producers` producers, one event in flight each. */
export async function measureLatency(
  pool: WorkerPool,
  transport: Transport,
  producers: number,
  sizes: DeliverySizes,
  opts: DeliveryOptions = {},
): Promise<LatencyFigures> {
  const o = await runOnce(pool, transport, 'latency', producers, sizes.latencyEvents, sizes.warmup, opts);
  const sorted = [...o.consumer.latenciesNs].sort((a, b) => a - b);
  return {
    transport,
    producers,
    samples: sorted.length,
    p50Us: quantile(sorted, 0.5) / 1e3,
    p99Us: quantile(sorted, 0.99) / 1e3,
  };
}
