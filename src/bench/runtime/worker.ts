/** A benchmark pool worker: runs the tasks of tasks.ts one at a time and replies with the result. */
import { type MessagePort, parentPort } from 'node:worker_threads';
import { PiChannel } from '../../runtime/index.ts';
import {
  ack,
  arm,
  armAndAwaitGo,
  awaitAck,
  type Board,
  board,
  eventVector,
  finish,
  nowNs,
  probeVector,
  STAMP,
} from './board.ts';
import { Doorbell } from './doorbell.ts';
import type {
  ConsumeResult,
  ConsumeTask,
  ProduceResult,
  ProduceTask,
  Task,
  TaskReply,
  TaskRequest,
  TaskResult,
} from './tasks.ts';

/** Runs a producer's loop over `post`, which returns whether that post notified. */
function produce(t: ProduceTask, post: (vector: number) => boolean): ProduceResult {
  const b = board(t.board);
  let notifications = 0;
  armAndAwaitGo(b);
  if (t.mode === 'throughput') {
    for (let i = 0; i < t.events; i++) if (post(eventVector(t.p, i))) notifications++;
  } else {
    const v = probeVector(t.p);
    for (let k = 1; k <= t.events; k++) {
      // The stamp is a plain store; the post's atomic RMW publishes it with the PIR bit.
      b.f64[STAMP + t.p] = nowNs();
      if (post(v)) notifications++;
      awaitAck(b, t.p, k);
    }
  }
  return { posts: t.events, notifications };
}

/** The consumer-side bookkeeping shared by the three transports. */
class Tally {
  events = 0;
  calls = 0;
  readonly latencies: number[] = [];
  readonly #seen: number[];
  readonly #b: Board;
  readonly #t: ConsumeTask;

  constructor(t: ConsumeTask) {
    this.#t = t;
    this.#b = board(t.board);
    this.#seen = new Array<number>(t.producers).fill(0);
  }

  get done(): boolean {
    return this.events >= this.#t.expected;
  }

  /** One handled event (or `count` coalesced ones); `stampNs` for MessagePort latency runs. */
  handle(vector: number, count: number, stampNs?: number): void {
    this.calls++;
    this.events += count;
    if (this.#t.mode === 'latency') {
      const p = 255 - vector;
      const lat = nowNs() - (stampNs ?? this.#b.f64[STAMP + p]);
      if (++this.#seen[p] > this.#t.warmup) this.latencies.push(lat);
      ack(this.#b, p);
    }
    if (this.done && this.events - count < this.#t.expected) finish(this.#b);
  }

  result(wakeups: number): ConsumeResult {
    return { events: this.events, calls: this.calls, wakeups, latenciesNs: this.latencies };
  }
}

function consumePi(t: Extract<Task, { kind: 'pi-consume' }>): ConsumeResult {
  const tally = new Tally(t);
  const ch = PiChannel.attach(t.channel);
  const c = ch.consumer({
    handler: (v, n) => tally.handle(v, n),
    algorithm: t.algorithm,
    kernel: t.kernel,
    haltPollNs: t.haltPollNs,
  });
  arm(board(t.board));
  while (!tally.done) c.wait(1000);
  return tally.result(c.stats.wakeups);
}

function consumeBell(t: Extract<Task, { kind: 'bell-consume' }>): ConsumeResult {
  const tally = new Tally(t);
  const bell = new Doorbell(t.bell);
  let wakeups = 0;
  arm(board(t.board));
  const handler = (v: number, n: number) => tally.handle(v, n);
  while (!tally.done) if (bell.serve(handler)) wakeups++;
  return tally.result(wakeups);
}

function consumePorts(t: Extract<Task, { kind: 'port-consume' }>): Promise<ConsumeResult> {
  const tally = new Tally(t);
  return new Promise((resolve) => {
    const close = () => {
      for (const port of t.ports) port.close();
      resolve(tally.result(-1));
    };
    for (const port of t.ports) {
      port.on('message', (m: number) => {
        // Throughput runs carry the vector; latency runs carry the post's hrtime stamp, and the
        // port says which producer sent it.
        if (t.mode === 'latency') tally.handle(probeVector(t.ports.indexOf(port)), 1, m);
        else tally.handle(m, 1);
        if (tally.done) close();
      });
    }
    arm(board(t.board));
  });
}

function producePort(t: Extract<Task, { kind: 'port-produce' }>): ProduceResult {
  const port: MessagePort = t.port;
  const r =
    t.mode === 'throughput'
      ? produce(t, (v) => {
          port.postMessage(v);
          return true;
        })
      : produce(t, () => {
          port.postMessage(nowNs());
          return true;
        });
  port.close();
  return r;
}

async function run(task: Task): Promise<TaskResult> {
  switch (task.kind) {
    case 'pi-produce': {
      const ch = PiChannel.attach(task.channel);
      return produce(task, (v) => ch.post(v));
    }
    case 'pi-consume':
      return consumePi(task);
    case 'bell-produce': {
      const bell = new Doorbell(task.bell);
      return produce(task, (v) => {
        bell.post(v);
        return true;
      });
    }
    case 'bell-consume':
      return consumeBell(task);
    case 'port-produce':
      return producePort(task);
    case 'port-consume':
      return consumePorts(task);
  }
}

parentPort!.on('message', async ({ id, task }: TaskRequest) => {
  let reply: TaskReply;
  try {
    reply = { id, ok: true, result: await run(task) };
  } catch (e) {
    reply = { id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  parentPort!.postMessage(reply);
});
