/** The stress-test consumer, in a worker: Atomics.wait until the channel is closed. */
import { parentPort } from 'node:worker_threads';
import {
  type HarvestAlgorithm,
  type HarvestKernel,
  PiChannel,
  type PiChannelHandle,
  tsWorkerData,
} from '../../../src/runtime/index.ts';
import { boardHandler } from '../stress-board.ts';

export interface ConsumerData {
  readonly channel: PiChannelHandle;
  readonly board: SharedArrayBuffer;
  readonly algorithm: HarvestAlgorithm;
  readonly kernel: HarvestKernel;
  /**
   * Every this many wake-ups, act busy elsewhere: set SN, spin a while (posts keep landing in
   * PIR without ON), then resume(). 0: never.
   */
  readonly snEvery: number;
  /** resume() without recomputing ON (the seed 004 bug), to show the test catches it. */
  readonly snBug?: boolean;
}

const d = tsWorkerData<ConsumerData>();
const ch = PiChannel.attach(d.channel);
const consumer = ch.consumer({
  handler: boardHandler(new Int32Array(d.board)),
  algorithm: d.algorithm,
  kernel: d.kernel,
});
parentPort!.postMessage({ ready: true });
let resumeOns = 0;
let woken = 0;
let sink = 0;
while (consumer.wait() !== 'closed') {
  if (d.snEvery > 0 && ++woken % d.snEvery === 0) {
    ch.suppress();
    for (let k = 0; k < 20_000; k++) sink += k;
    if (ch.resume({ recomputeOn: d.snBug !== true })) resumeOns++;
  }
}
parentPort!.postMessage({ stats: consumer.stats, resumeOns, sink });
