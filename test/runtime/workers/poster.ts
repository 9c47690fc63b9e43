/** Posts the given vectors into a channel after a short delay (for the main-thread waitAsync test). */
import { parentPort } from 'node:worker_threads';
import { PiChannel, type PiChannelHandle, tsWorkerData } from '../../../src/runtime/index.ts';

export interface PosterData {
  readonly channel: PiChannelHandle;
  readonly vectors: readonly number[];
  readonly delayMs: number;
}

const d = tsWorkerData<PosterData>();
const ch = PiChannel.attach(d.channel);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, d.delayMs);
const notified = d.vectors.map((v) => ch.post(v));
parentPort!.postMessage({ notified });
