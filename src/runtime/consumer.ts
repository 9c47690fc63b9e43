/**
 * The consuming side of a posted-interrupt channel: sleep until ON is set, then demultiplex PIR
 * the way the host posted-MSI handler does (sysvec_posted_msi_notification, kvm-semantics.md
 * section 4), calling one handler per harvested vector, highest vector first.
 */
import type { PiChannel } from './channel.ts';
import {
  checkHarvestAlgorithm,
  checkHarvestKernel,
  createPirHarvester,
  type HarvestAlgorithm,
  type HarvestKernel,
  type PirHarvester,
  popcount32,
} from './harvest.ts';
import {
  CTRL_CLOSED,
  CTRL_ON,
  CTRL_SN,
  NR_PIR_WORDS32,
  NR_VECTORS,
  OFF_CONTROL,
  OFF_COUNTERS,
} from './layout.ts';
import { showValue } from './show.ts';

/**
 * Called once per harvested vector. `count` is the number of posts this delivery stands for when
 * the channel has counters (always >= 1), and 1 otherwise (one or more coalesced posts).
 */
export type PiHandler = (vector: number, count: number) => void;

/**
 * MAX_POSTED_MSI_COALESCING_LOOP in arch/x86/kernel/irq.c: harvests per notification, counting
 * the final one after ON is cleared. Jacob Pan's measurements put 90+% of the gain at 3.
 */
export const DEFAULT_COALESCING_LOOPS = 3;

/** The default algorithm: what KVM and posted MSI use since seed 000. */
export const DEFAULT_HARVEST_ALGORITHM: HarvestAlgorithm = 'u64-loads-then-xchg';

/** Options of {@link PiChannel.consumer}. */
export interface PiConsumerOptions {
  /**
   * One function for every vector, or a table indexed by vector (at most 256 entries). A vector
   * whose table entry is missing is harvested and counted in `stats.unhandled`.
   */
  readonly handler: PiHandler | readonly (PiHandler | undefined)[];
  /** Harvest algorithm. Default `u64-loads-then-xchg`. */
  readonly algorithm?: HarvestAlgorithm;
  /** Harvest kernel. Default `js`; `wasm` needs a channel in a WebAssembly.Memory. */
  readonly kernel?: HarvestKernel;
  /**
   * Harvests per wake-up, including the final one after ON is cleared (an integer >= 1).
   * Default 3, as MAX_POSTED_MSI_COALESCING_LOOP. With 1 the consumer clears ON and harvests
   * once, the order of KVM's vmx_sync_pir_to_irr.
   */
  readonly coalescingLoops?: number;
  /**
   * Before sleeping, keep checking the control word for this many nanoseconds (default 0: sleep
   * at once). Like KVM's halt polling (halt_poll_ns, kvm_vcpu_halt): a post that arrives within
   * the window is picked up without a futex sleep and wake-up, at the price of a busy core. On the
   * main thread the poll blocks the event loop for that long.
   */
  readonly haltPollNs?: number;
}

/** Why a wait returned. */
export type PiWaitResult = 'dispatched' | 'timed-out' | 'closed';

/** Counters kept by a consumer (its own thread's view; plain numbers, not shared). */
export interface PiConsumerStats {
  /** Times Atomics.wait / waitAsync returned because of a notify. */
  wakeups: number;
  /** Times the consumer found ON set and ran the posted-MSI loop. */
  notifications: number;
  /** Harvests performed, and how many of them found PIR empty. */
  harvests: number;
  emptyHarvests: number;
  /** Handler calls (vectors delivered). */
  vectors: number;
  /** Posts accounted for: the sum of the counts handed to handlers. */
  events: number;
  /** Vectors harvested that had no handler in the table. */
  unhandled: number;
  /** Atomic operations on PIR spent in harvests. */
  atomicLoads: number;
  atomicXchgs: number;
  /** Handler calls that threw. */
  handlerErrors: number;
  /** Halt polls that saw the control word change (a sleep avoided), and polls that timed out. */
  pollHits: number;
  pollMisses: number;
}

function emptyStats(): PiConsumerStats {
  return {
    wakeups: 0,
    notifications: 0,
    harvests: 0,
    emptyHarvests: 0,
    vectors: 0,
    events: 0,
    unhandled: 0,
    atomicLoads: 0,
    atomicXchgs: 0,
    handlerErrors: 0,
    pollHits: 0,
    pollMisses: 0,
  };
}

function checkTimeout(timeoutMs: unknown): number {
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw new TypeError(`timeoutMs: expected a number of milliseconds, got ${showValue(timeoutMs)}`);
  }
  if (timeoutMs < 0) throw new RangeError(`timeoutMs: ${timeoutMs} is negative`);
  return timeoutMs;
}

/**
 * The consumer of one channel. Use {@link wait} / {@link run} in a worker (Atomics.wait blocks the
 * thread) and {@link waitAsync} / {@link runAsync} on the main thread.
 */
export class PiConsumer {
  /** The channel consumed. */
  readonly channel: PiChannel;
  /** The harvest algorithm in use. */
  readonly algorithm: HarvestAlgorithm;
  /** The harvest kernel in use. */
  readonly kernel: HarvestKernel;
  /** Harvests per wake-up, including the final one. */
  readonly coalescingLoops: number;
  /** Nanoseconds of polling before each sleep. */
  readonly haltPollNs: number;

  readonly #ctrl: Int32Array;
  readonly #counts: Uint32Array | null;
  readonly #harvester: PirHarvester;
  readonly #fn: PiHandler | null;
  readonly #table: readonly (PiHandler | undefined)[] | null;
  readonly #stats: PiConsumerStats = emptyStats();
  #busy = false;
  #error: { error: unknown } | null = null;

  /** Same as `channel.consumer(options)`. */
  constructor(channel: PiChannel, options: PiConsumerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        'options: expected { handler, algorithm?, kernel?, coalescingLoops?, haltPollNs? }',
      );
    }
    const { handler } = options;
    if (typeof handler === 'function') {
      this.#fn = handler;
      this.#table = null;
    } else if (Array.isArray(handler)) {
      if (handler.length > NR_VECTORS) {
        throw new RangeError(`handler: a table has at most 256 entries, got ${handler.length}`);
      }
      this.#fn = null;
      this.#table = handler;
    } else {
      throw new TypeError('handler: expected a function or an array of functions indexed by vector');
    }
    this.algorithm = checkHarvestAlgorithm(options.algorithm ?? DEFAULT_HARVEST_ALGORITHM);
    this.kernel = checkHarvestKernel(options.kernel ?? 'js');
    const loops = options.coalescingLoops ?? DEFAULT_COALESCING_LOOPS;
    if (typeof loops !== 'number' || !Number.isInteger(loops) || loops < 1) {
      throw new RangeError(`coalescingLoops: expected an integer >= 1, got ${showValue(loops)}`);
    }
    this.coalescingLoops = loops;
    const poll = options.haltPollNs ?? 0;
    if (typeof poll !== 'number' || !Number.isFinite(poll) || poll < 0) {
      throw new RangeError(`haltPollNs: expected a number of nanoseconds >= 0, got ${showValue(poll)}`);
    }
    this.haltPollNs = poll;
    this.channel = channel;
    this.#ctrl = new Int32Array(channel.buffer, channel.byteOffset + OFF_CONTROL, 1);
    this.#counts = channel.counters
      ? new Uint32Array(channel.buffer, channel.byteOffset + OFF_COUNTERS, NR_VECTORS)
      : null;
    this.#harvester = createPirHarvester(
      channel.buffer,
      channel.memory,
      channel.byteOffset,
      this.algorithm,
      this.kernel,
    );
  }

  /** A copy of the counters. */
  get stats(): PiConsumerStats {
    return { ...this.#stats };
  }

  /**
   * Non-blocking: if ON is set, runs the posted-MSI loop and returns true; otherwise returns false
   * without touching PIR.
   */
  poll(): boolean {
    if ((Atomics.load(this.#ctrl, 0) & CTRL_ON) === 0) return false;
    this.#process();
    return true;
  }

  /**
   * Blocks (Atomics.wait) until ON is set, then runs the posted-MSI loop and returns
   * 'dispatched'; returns 'closed' (after draining PIR) once the channel is closed, or
   * 'timed-out'. For workers: on the main thread it would block the event loop; use
   * {@link waitAsync} there.
   *
   * @throws Error if SN is set (the wait could sleep through posts; call resume() first), or the
   *   first error a handler threw (after all harvested vectors were handed out).
   */
  wait(timeoutMs = Number.POSITIVE_INFINITY): PiWaitResult {
    const deadline = performance.now() + checkTimeout(timeoutMs);
    const ctrl = this.#ctrl;
    for (;;) {
      const c = Atomics.load(ctrl, 0);
      const r = this.#act(c);
      if (r !== null) return r;
      const left = deadline - performance.now();
      if (left <= 0) return 'timed-out';
      if (this.haltPollNs > 0 && this.#haltPoll(c)) continue;
      // Sleep only while the control word still holds c (ON clear). A poster sets ON before it
      // notifies: if its CAS came first, the word differs and wait returns 'not-equal' at once;
      // if it comes later, we are already queued and its notify wakes us. Either way the post is
      // seen; this is the futex form of the mode/ON handshake of kvm-semantics.md section 1.
      if (Atomics.wait(ctrl, 0, c, left) === 'ok') this.#stats.wakeups++;
    }
  }

  /** {@link wait} for the main thread, on Atomics.waitAsync. Same results and errors. */
  async waitAsync(timeoutMs = Number.POSITIVE_INFINITY): Promise<PiWaitResult> {
    const deadline = performance.now() + checkTimeout(timeoutMs);
    const ctrl = this.#ctrl;
    for (;;) {
      const c = Atomics.load(ctrl, 0);
      const r = this.#act(c);
      if (r !== null) return r;
      const left = deadline - performance.now();
      if (left <= 0) return 'timed-out';
      if (this.haltPollNs > 0 && this.#haltPoll(c)) continue;
      // Same handshake as wait(): waitAsync compares the word with c before it queues us.
      const w = Atomics.waitAsync(ctrl, 0, c, left);
      const v = w.async ? await w.value : w.value;
      if (v === 'ok') this.#stats.wakeups++;
    }
  }

  /** Waits and dispatches until the channel is closed; returns the final counters. */
  run(): PiConsumerStats {
    while (this.wait() !== 'closed') {}
    return this.stats;
  }

  /** {@link run} for the main thread. */
  async runAsync(): Promise<PiConsumerStats> {
    while ((await this.waitAsync()) !== 'closed') {}
    return this.stats;
  }

  /**
   * Clears ON and harvests until PIR is empty, whatever ON said; returns the number of handler
   * calls. Used at close, and by callers that want everything now.
   */
  drain(): number {
    const before = this.#stats.vectors;
    this.#enter();
    try {
      // Clear first, then harvest (vmx_sync_pir_to_irr's order): a bit posted after our last
      // harvest finds ON clear and sets it, so it is never stranded.
      Atomics.and(this.#ctrl, 0, ~CTRL_ON);
      while (this.#harvestAndDispatch()) {}
    } finally {
      this.#busy = false;
    }
    this.#rethrow();
    return this.#stats.vectors - before;
  }

  /** Spins up to haltPollNs while the control word holds c; true if it changed. */
  #haltPoll(c: number): boolean {
    const ctrl = this.#ctrl;
    const end = performance.now() + this.haltPollNs / 1e6;
    do {
      // Read the clock only every 64 loads: it costs more than the load.
      for (let k = 0; k < 64; k++) {
        if (Atomics.load(ctrl, 0) !== c) {
          this.#stats.pollHits++;
          return true;
        }
      }
    } while (performance.now() < end);
    this.#stats.pollMisses++;
    return false;
  }

  /** What to do for control word c, or null to sleep. */
  #act(c: number): PiWaitResult | null {
    if ((c & CTRL_ON) !== 0) {
      this.#process();
      return 'dispatched';
    }
    if ((c & CTRL_CLOSED) !== 0) {
      this.drain();
      return 'closed';
    }
    if ((c & CTRL_SN) !== 0) {
      throw new Error('wait: notifications are suppressed (SN=1); call channel.resume() before waiting');
    }
    return null;
  }

  #enter(): void {
    if (this.#busy) throw new Error('PiConsumer: called again from inside a handler');
    this.#busy = true;
  }

  #rethrow(): void {
    const e = this.#error;
    if (e !== null) {
      this.#error = null;
      throw e.error;
    }
  }

  /** The posted-MSI loop (sysvec_posted_msi_notification). */
  #process(): void {
    this.#enter();
    this.#stats.notifications++;
    try {
      // While ON stays set, posters coalesce into PIR without waking anyone, so harvest again as
      // long as something was found, up to coalescingLoops - 1 times.
      for (let i = 1; i < this.coalescingLoops; i++) {
        if (!this.#harvestAndDispatch()) break;
      }
      // Re-arm notifications (pi_clear_on; a locked and, hence a full fence) ...
      Atomics.and(this.#ctrl, 0, ~CTRL_ON);
      // ... then one last harvest: bits posted while ON was still set sent no notification and
      // nothing else would pick them up until the next post (scenario X5 of the model).
      this.#harvestAndDispatch();
    } finally {
      this.#busy = false;
    }
    this.#rethrow();
  }

  /** One harvest; hands every vector to its handler, highest first. Returns whether any was found. */
  #harvestAndDispatch(): boolean {
    const h = this.#harvester;
    const s = this.#stats;
    const mask = h.harvest();
    s.harvests++;
    s.atomicLoads += h.loadsPerHarvest;
    if (mask === 0) {
      s.emptyHarvests++;
      return false;
    }
    s.atomicXchgs += popcount32(mask);
    const words = h.words;
    // Priority order: the highest vector first (as the APIC delivers the highest IRR bit first).
    for (let i = NR_PIR_WORDS32 - 1; i >= 0; i--) {
      let w = words[i];
      while (w !== 0) {
        const b = 31 - Math.clz32(w);
        w ^= 1 << b;
        this.#deliver((i << 5) | b);
      }
    }
    return true;
  }

  #deliver(vector: number): void {
    const s = this.#stats;
    let count = 1;
    if (this.#counts !== null) {
      // Zero means an earlier harvest already handed out this post's count (the poster counted,
      // we harvested its bit's predecessor and took the count, then its bit arrived): skip.
      count = Atomics.exchange(this.#counts, vector, 0);
      if (count === 0) return;
    }
    const fn = this.#fn ?? this.#table?.[vector];
    s.events += count;
    if (fn === undefined) {
      s.unhandled++;
      return;
    }
    s.vectors++;
    try {
      fn(vector, count);
    } catch (error) {
      // Keep going: the other harvested vectors are already out of PIR and would be lost.
      s.handlerErrors++;
      if (this.#error === null) this.#error = { error };
    }
  }
}
