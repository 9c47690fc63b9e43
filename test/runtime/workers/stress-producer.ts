/** A stress-test producer: posts bursts of vectors and waits for its owned ones to be handled. */
import { parentPort } from 'node:worker_threads';
import { PiChannel, type PiChannelHandle, tsWorkerData } from '../../../src/runtime/index.ts';
import { GO, OWNED_END, SEEN, SEQ, xorshift32 } from '../stress-board.ts';

export interface ProducerData {
  readonly channel: PiChannelHandle;
  readonly board: SharedArrayBuffer;
  readonly index: number;
  readonly producers: number;
  readonly seed: number;
  readonly phases: number;
  readonly maxBurst: number;
  readonly ackEvery: number;
  readonly ackTimeoutMs: number;
}

export interface ProducerResult {
  readonly posts: number;
  readonly notifications: number;
  readonly posted: number[];
  readonly failure: string | null;
}

const d = tsWorkerData<ProducerData>();
const ch = PiChannel.attach(d.channel);
const board = new Int32Array(d.board);
const nap = new Int32Array(new SharedArrayBuffer(4));
const rnd = xorshift32(d.seed);

const owned: number[] = [];
for (let v = 0; v < OWNED_END; v++) if (v % d.producers === d.index) owned.push(v);

let posts = 0;
let notifications = 0;
const posted = new Array<number>(256).fill(0);
let seq = 0;
const unacked = new Map<number, number>();
let failure: string | null = null;
let sink = 0;

/** Waits until the consumer has handled the latest post of every owned vector in `unacked`. */
function awaitAcks(): boolean {
  const deadline = performance.now() + d.ackTimeoutMs;
  for (const [v, s] of unacked) {
    while (Atomics.load(board, SEEN + v) < s) {
      if (performance.now() > deadline) {
        const snap = ch.snapshot();
        failure =
          `producer ${d.index}: vector ${v} (seq ${s}) not handled after ${d.ackTimeoutMs} ms; ` +
          `seen ${Atomics.load(board, SEEN + v)}, PIR [${snap.pir.join(',')}], ON=${snap.on}, SN=${snap.sn}`;
        return false;
      }
      Atomics.wait(nap, 0, 0, 0.02);
    }
  }
  unacked.clear();
  return true;
}

Atomics.wait(board, GO, 0);
for (let phase = 0; phase < d.phases && failure === null; phase++) {
  const burst = 1 + (rnd() % d.maxBurst);
  for (let i = 0; i < burst; i++) {
    const r = rnd();
    let v: number;
    if ((r & 3) === 0) {
      v = OWNED_END + ((r >>> 2) % (256 - OWNED_END));
    } else {
      v = owned[(r >>> 2) % owned.length];
      seq++;
      // Published before the post; the post's atomic RMW orders it before the PIR bit.
      Atomics.store(board, SEQ + v, seq);
      unacked.set(v, seq);
    }
    if (ch.post(v)) notifications++;
    posts++;
    posted[v]++;
    // Now and then a short random pause, so the consumer sometimes catches up and sleeps.
    if (r >>> 26 === 0) for (let k = (r >>> 8) & 4095; k > 0; k--) sink += k;
  }
  if (phase % d.ackEvery === d.ackEvery - 1 || phase === d.phases - 1) awaitAcks();
}

const result: ProducerResult = { posts, notifications, posted, failure };
parentPort!.postMessage({ result, sink });
