/**
 * A posted-interrupt channel: any thread posts a vector (0-255) by setting its PIR bit; only the
 * post that moves ON from 0 to 1 (with SN clear) pays for a wake-up of the consumer. Later posts
 * coalesce into PIR until the consumer harvests it. This is the protocol of VT-d posting and of
 * KVM's software sender (kvm-semantics.md section 1), used between worker threads on a
 * SharedArrayBuffer, with Atomics.notify standing in for the notification IPI.
 *
 * The layout is in layout.ts; the consumer (harvest, posted-MSI loop, dispatch) in consumer.ts.
 */
import { PiConsumer, type PiConsumerOptions } from './consumer.ts';
import {
  CTRL_CLOSED,
  CTRL_ON,
  CTRL_SN,
  NR_PIR_WORDS32,
  NR_VECTORS,
  OFF_CONTROL,
  OFF_COUNTERS,
  OFF_PIR,
  PI_ALIGN,
  piChannelBytes,
} from './layout.ts';
import { showValue } from './show.ts';
import { isWasmMemory, Wasm, type WasmMemory } from './wasm-api.ts';

/**
 * Everything another thread needs to attach to a channel. Structured-clonable: pass it through
 * `workerData` or `postMessage` once, then talk only through the channel.
 */
export interface PiChannelHandle {
  /** The shared WebAssembly memory holding the channel, or null for a plain SharedArrayBuffer. */
  readonly memory: WasmMemory | null;
  /** The shared buffer holding the channel (`memory.buffer` when `memory` is set). */
  readonly buffer: SharedArrayBuffer;
  /** Byte offset of the channel in the buffer (a multiple of 64). */
  readonly byteOffset: number;
  /** Whether the channel has per-vector post counters. */
  readonly counters: boolean;
}

/** Options of {@link PiChannel.create}. */
export interface PiChannelCreateOptions {
  /**
   * Keep a per-vector post counter next to PIR (one extra Atomics.add per post and one
   * Atomics.exchange per delivered vector). Without it, posts of a vector that arrive before the
   * consumer harvests it are delivered once, with count 1 (coalesced, as hardware does).
   */
  readonly counters?: boolean;
}

/** Options of {@link PiChannel.fromBuffer}. */
export interface PiChannelBufferOptions extends PiChannelCreateOptions {
  /** Byte offset of the channel in the buffer; a multiple of 64. Default 0. */
  readonly byteOffset?: number;
}

/** Options of {@link PiChannel.resume}. */
export interface PiResumeOptions {
  /**
   * Set ON when PIR is non-empty after clearing SN (default true), as vmx_vcpu_pi_load does since
   * commit c112b5f50232 ("KVM: x86: Recompute PID.ON when clearing PID.SN"). `false` reproduces
   * the bug that commit fixed (seed 004): vectors posted while SN was set stay in PIR with ON
   * clear, and a waiting consumer is never woken for them. Only for demonstrations and tests.
   */
  readonly recomputeOn?: boolean;
}

/** A point-in-time view of the channel's state, for debugging and tests. */
export interface PiChannelSnapshot {
  /** Pending vectors in PIR, ascending. */
  readonly pir: number[];
  readonly on: boolean;
  readonly sn: boolean;
  readonly closed: boolean;
}

/** Thrown by {@link PiChannel.post} once the channel is closed. */
export class PiChannelClosedError extends Error {
  override name = 'PiChannelClosedError';
}

function badVector(vector: unknown): Error {
  if (typeof vector !== 'number' || !Number.isInteger(vector)) {
    return new TypeError(`vector: expected an integer 0-255, got ${showValue(vector)}`);
  }
  return new RangeError(`vector: ${vector} is outside 0-255`);
}

/**
 * The channel. Create it on one thread with {@link PiChannel.create}, hand {@link handle} to the
 * others, and {@link PiChannel.attach} there. Any number of threads may post; exactly one thread
 * consumes (see {@link consumer}).
 */
export class PiChannel {
  /** The shared WebAssembly memory holding the channel, or null. */
  readonly memory: WasmMemory | null;
  /** The shared buffer holding the channel. */
  readonly buffer: SharedArrayBuffer;
  /** Byte offset of the channel in {@link buffer}. */
  readonly byteOffset: number;
  /** Whether posts are counted per vector. */
  readonly counters: boolean;

  readonly #pir: Uint32Array;
  readonly #ctrl: Int32Array;
  readonly #counts: Uint32Array | null;

  private constructor(memory: WasmMemory | null, buffer: SharedArrayBuffer, off: number, counters: boolean) {
    this.memory = memory;
    this.buffer = buffer;
    this.byteOffset = off;
    this.counters = counters;
    this.#pir = new Uint32Array(buffer, off + OFF_PIR, NR_PIR_WORDS32);
    this.#ctrl = new Int32Array(buffer, off + OFF_CONTROL, 1);
    this.#counts = counters ? new Uint32Array(buffer, off + OFF_COUNTERS, NR_VECTORS) : null;
  }

  /** Bytes a channel occupies: 128, or 1152 with per-vector counters. */
  static byteLength(counters = false): number {
    return piChannelBytes(counters);
  }

  /**
   * Creates a channel in a fresh one-page shared WebAssembly.Memory, so that both harvest kernels
   * (`js` and `wasm`) can consume it. All bits start clear (SN=0: notifications enabled; KVM
   * starts a vCPU's descriptor with SN=1 instead, because no vCPU is loaded yet).
   */
  static create(options: PiChannelCreateOptions = {}): PiChannel {
    const counters = PiChannel.#checkCounters(options.counters);
    const memory = new Wasm.Memory({ initial: 1, maximum: 1, shared: true });
    return new PiChannel(memory, memory.buffer as SharedArrayBuffer, 0, counters);
  }

  /**
   * Uses (part of) an existing shared buffer or shared WebAssembly.Memory. The bytes must be zero
   * the first time a channel is placed there; attaching again from another thread reads whatever
   * state they hold. Only the `js` kernel can consume a channel in a plain SharedArrayBuffer.
   */
  static fromBuffer(target: SharedArrayBuffer | WasmMemory, options: PiChannelBufferOptions = {}): PiChannel {
    const counters = PiChannel.#checkCounters(options.counters);
    let memory: WasmMemory | null = null;
    let buffer: SharedArrayBuffer;
    if (isWasmMemory(target)) {
      if (!(target.buffer instanceof SharedArrayBuffer)) {
        throw new TypeError('memory: expected a shared WebAssembly.Memory ({ shared: true })');
      }
      memory = target;
      buffer = target.buffer;
    } else if (target instanceof SharedArrayBuffer) {
      buffer = target;
    } else {
      throw new TypeError('buffer: expected a SharedArrayBuffer or a shared WebAssembly.Memory');
    }
    const off = options.byteOffset ?? 0;
    if (typeof off !== 'number') throw new TypeError(`byteOffset: expected a number, got ${showValue(off)}`);
    if (!Number.isInteger(off) || off < 0 || off % PI_ALIGN !== 0) {
      throw new RangeError(
        `byteOffset: expected a non-negative multiple of ${PI_ALIGN}, got ${showValue(off)}`,
      );
    }
    const need = piChannelBytes(counters);
    if (buffer.byteLength < off + need) {
      throw new RangeError(
        `buffer: ${buffer.byteLength} bytes is too small for a channel at byteOffset ${off} (needs ${off + need})`,
      );
    }
    return new PiChannel(memory, buffer, off, counters);
  }

  /** Attaches to a channel from its {@link handle} (typically in a worker). */
  static attach(handle: PiChannelHandle): PiChannel {
    if (handle === null || typeof handle !== 'object') {
      throw new TypeError('handle: expected a PiChannelHandle ({ memory, buffer, byteOffset, counters })');
    }
    return PiChannel.fromBuffer(handle.memory ?? handle.buffer, {
      byteOffset: handle.byteOffset,
      counters: handle.counters,
    });
  }

  static #checkCounters(counters: unknown): boolean {
    if (counters === undefined) return false;
    if (typeof counters !== 'boolean')
      throw new TypeError(`counters: expected a boolean, got ${showValue(counters)}`);
    return counters;
  }

  /** What another thread needs to {@link PiChannel.attach} to this channel. */
  get handle(): PiChannelHandle {
    return { memory: this.memory, buffer: this.buffer, byteOffset: this.byteOffset, counters: this.counters };
  }

  /**
   * Posts `vector` (an integer 0-255). Returns true when this post sent the wake-up, i.e. it moved
   * ON from 0 to 1 with SN clear; false when it coalesced (the bit or ON was already set) or
   * notifications are suppressed (SN=1).
   *
   * A vector posted several times before the consumer harvests it is delivered once (its PIR bit
   * is just set again); enable `counters` to learn how many posts each delivery stands for.
   *
   * @throws TypeError or RangeError for a bad vector; PiChannelClosedError after {@link close}.
   */
  post(vector: number): boolean {
    // One check covers non-numbers, non-integers, NaN and the range; the slow path says which.
    if ((vector & 0xff) !== vector) throw badVector(vector);
    const ctrl = this.#ctrl;
    // A plain read is enough for CLOSED (it only turns posts into errors; a post racing with
    // close() is documented as undefined either way) and costs a fraction of an Atomics.load.
    if ((ctrl[0] & CTRL_CLOSED) !== 0) throw new PiChannelClosedError('post: the channel is closed');
    // Count before publishing the bit: the consumer reads the counter after it has taken the bit,
    // so every increment is collected by the harvest of this post's bit or an earlier one; a
    // count is never left behind without a bit that leads the consumer to it.
    if (this.#counts !== null) Atomics.add(this.#counts, vector, 1);
    const bit = 1 << (vector & 31);
    // S1 (pi_test_and_set_pir): a locked RMW, hence a full fence before the read of ON below.
    // If the bit was already set, the poster that set it owns the notification for it (the
    // early return of __vmx_deliver_posted_interrupt).
    if ((Atomics.or(this.#pir, vector >>> 5, bit) & bit) !== 0) return false;
    // S2 (pi_test_and_set_on), honouring SN like the VT-d posting engine (VT-d spec 9.12): with
    // SN set only PIR changes; with ON already set an earlier wake-up covers this bit. A CAS
    // loop rather than Atomics.or so that ON is never set while SN is (the consumer's resume
    // recomputes it from PIR instead, as vmx_vcpu_pi_load does).
    let c = Atomics.load(ctrl, 0);
    for (;;) {
      if ((c & (CTRL_ON | CTRL_SN)) !== 0) return false;
      const seen = Atomics.compareExchange(ctrl, 0, c, c | CTRL_ON);
      if (seen === c) break;
      c = seen;
    }
    // S3: the notification. The consumer sleeps with Atomics.wait on the control word expecting
    // ON=0, so it either saw our ON (and does not sleep) or is queued and woken here.
    Atomics.notify(ctrl, 0, 1);
    return true;
  }

  /**
   * Sets SN: posts keep setting PIR bits but no longer set ON or wake the consumer (a consumer
   * that is busy elsewhere, as KVM does for a vCPU that is scheduled out, seed 001). Call
   * {@link resume} before waiting again.
   */
  suppress(): void {
    Atomics.or(this.#ctrl, 0, CTRL_SN);
  }

  /**
   * Clears SN and, if PIR is non-empty, sets ON (vmx_vcpu_pi_load after c112b5f50232): the posts
   * made while SN was set produced no wake-up, so this is the only thing that makes the consumer
   * look at them. Returns true when it set ON (and notified a consumer that might be sleeping).
   */
  resume(options: PiResumeOptions = {}): boolean {
    const ctrl = this.#ctrl;
    // The and is a full fence, so the PIR loads below cannot move above the SN clear: a poster
    // that still saw SN=1 has its bit visible to us (the smp_mb__after_atomic of the fix).
    Atomics.and(ctrl, 0, ~CTRL_SN);
    if (options.recomputeOn === false || !this.pending()) return false;
    if ((Atomics.or(ctrl, 0, CTRL_ON) & CTRL_ON) !== 0) return false;
    Atomics.notify(ctrl, 0, 1);
    return true;
  }

  /**
   * Closes the channel: later posts throw, and the consumer harvests what is left, returns
   * 'closed' from its wait and stops. Posts that race with close() may or may not be delivered;
   * stop the producers first if every post matters.
   */
  close(): void {
    Atomics.or(this.#ctrl, 0, CTRL_CLOSED);
    Atomics.notify(this.#ctrl, 0);
  }

  /** Whether {@link close} was called (by any thread). */
  get closed(): boolean {
    return (Atomics.load(this.#ctrl, 0) & CTRL_CLOSED) !== 0;
  }

  /** Current ON bit. */
  get on(): boolean {
    return (Atomics.load(this.#ctrl, 0) & CTRL_ON) !== 0;
  }

  /** Current SN bit. */
  get sn(): boolean {
    return (Atomics.load(this.#ctrl, 0) & CTRL_SN) !== 0;
  }

  /** Whether any PIR bit is set (KVM pi_is_pir_empty, negated). */
  pending(): boolean {
    for (let i = 0; i < NR_PIR_WORDS32; i++) if (Atomics.load(this.#pir, i) !== 0) return true;
    return false;
  }

  /** Posts of `vector` not yet handed to a handler (0 without counters). */
  postCount(vector: number): number {
    if ((vector & 0xff) !== vector) throw badVector(vector);
    return this.#counts === null ? 0 : Atomics.load(this.#counts, vector);
  }

  /** A point-in-time view of PIR and the control bits (not atomic as a whole). */
  snapshot(): PiChannelSnapshot {
    const pir: number[] = [];
    for (let i = 0; i < NR_PIR_WORDS32; i++) {
      const w = Atomics.load(this.#pir, i);
      for (let b = 0; b < 32; b++) if (((w >>> b) & 1) !== 0) pir.push((i << 5) | b);
    }
    const c = Atomics.load(this.#ctrl, 0);
    return {
      pir,
      on: (c & CTRL_ON) !== 0,
      sn: (c & CTRL_SN) !== 0,
      closed: (c & CTRL_CLOSED) !== 0,
    };
  }

  /**
   * The consumer of this channel: harvests PIR and calls the handlers. A channel has at most one
   * consumer at a time (it owns the harvest scratch area and is the only thread clearing bits).
   */
  consumer(options: PiConsumerOptions): PiConsumer {
    return new PiConsumer(this, options);
  }
}
