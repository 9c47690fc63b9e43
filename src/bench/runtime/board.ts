/**
 * The small shared block every delivery benchmark run uses to start producers together, hand
 * latency stamps and acknowledgements across threads, and mark the end of a run.
 *
 * Int32 words: ARMED (threads ready), GO (start flag), DONE (consumer reached its count),
 * ACK + p (latency runs: events of producer p handled). Float64 slots: END (the consumer's
 * hrtime when it handled the last expected event), STAMP + p (latency runs: hrtime of producer
 * p's post in flight).
 */
export const ARMED = 0;
export const GO = 1;
export const DONE = 2;
export const ACK = 4;
export const MAX_PRODUCERS = 4;
/** Float64 indices. */
export const END = 4;
export const STAMP = 5;

export const BOARD_BYTES = 128;

export interface Board {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
}

export function board(buf: SharedArrayBuffer): Board {
  return { i32: new Int32Array(buf), f64: new Float64Array(buf) };
}

/** hrtime in nanoseconds as a double: one clock for every thread of the process. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Marks this thread ready, then blocks until the main thread sets GO. */
export function armAndAwaitGo(b: Board): void {
  Atomics.add(b.i32, ARMED, 1);
  Atomics.notify(b.i32, ARMED);
  while (Atomics.load(b.i32, GO) === 0) Atomics.wait(b.i32, GO, 0);
}

/** Marks this (consumer) thread ready without waiting for GO. */
export function arm(b: Board): void {
  Atomics.add(b.i32, ARMED, 1);
  Atomics.notify(b.i32, ARMED);
}

/** Records the end of a run: the consumer handled its last expected event. */
export function finish(b: Board): void {
  b.f64[END] = nowNs();
  Atomics.store(b.i32, DONE, 1);
  Atomics.notify(b.i32, DONE);
}

/** Latency runs: the consumer acknowledges producer p's event. */
export function ack(b: Board, p: number): void {
  Atomics.add(b.i32, ACK + p, 1);
  Atomics.notify(b.i32, ACK + p);
}

/** Latency runs: the producer blocks until `k` of its events were acknowledged. */
export function awaitAck(b: Board, p: number, k: number): void {
  for (;;) {
    const a = Atomics.load(b.i32, ACK + p);
    if (a >= k) return;
    Atomics.wait(b.i32, ACK + p, a);
  }
}

/** The vector producer p posts as its i-th event in a throughput run (vectors 32..255). */
export function eventVector(p: number, i: number): number {
  return 32 + ((i + 97 * p) % 224);
}

/** The vector of producer p's latency probe (one in flight per producer). */
export function probeVector(p: number): number {
  return 255 - p;
}
