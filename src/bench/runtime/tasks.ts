/** Messages between the benchmark's main thread and its worker pool (src/bench/runtime/worker.ts). */
import type { MessagePort } from 'node:worker_threads';
import type { HarvestAlgorithm, HarvestKernel, PiChannelHandle } from '../../runtime/index.ts';

/** throughput: post as fast as possible; latency: one event in flight per producer. */
export type DeliveryMode = 'throughput' | 'latency';

interface Common {
  readonly board: SharedArrayBuffer;
  readonly mode: DeliveryMode;
}

export interface ProduceTask extends Common {
  readonly p: number;
  readonly events: number;
}

export interface ConsumeTask extends Common {
  readonly producers: number;
  /** Events to handle before the run ends. */
  readonly expected: number;
  /** Latency samples to discard per producer (JIT warm-up). */
  readonly warmup: number;
}

export type Task =
  | (ProduceTask & { readonly kind: 'pi-produce'; readonly channel: PiChannelHandle })
  | (ConsumeTask & {
      readonly kind: 'pi-consume';
      readonly channel: PiChannelHandle;
      readonly algorithm: HarvestAlgorithm;
      readonly kernel: HarvestKernel;
      readonly haltPollNs: number;
    })
  | (ProduceTask & { readonly kind: 'bell-produce'; readonly bell: SharedArrayBuffer })
  | (ConsumeTask & { readonly kind: 'bell-consume'; readonly bell: SharedArrayBuffer })
  | (ProduceTask & { readonly kind: 'port-produce'; readonly port: MessagePort })
  | (ConsumeTask & { readonly kind: 'port-consume'; readonly ports: readonly MessagePort[] });

export interface ProduceResult {
  readonly posts: number;
  /** Wake-ups this producer paid for (notify calls). */
  readonly notifications: number;
}

export interface ConsumeResult {
  /** Events handled (posts accounted for). */
  readonly events: number;
  /** Handler calls / messages received. */
  readonly calls: number;
  /** Times the consumer's sleep ended by a notify (-1: not applicable, e.g. MessagePort). */
  readonly wakeups: number;
  /** Latency runs: post-to-handler latencies in ns, warm-up discarded. */
  readonly latenciesNs: readonly number[];
}

export type TaskResult = ProduceResult | ConsumeResult;

export interface TaskRequest {
  readonly id: number;
  readonly task: Task;
}

export type TaskReply =
  | { readonly id: number; readonly ok: true; readonly result: TaskResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
