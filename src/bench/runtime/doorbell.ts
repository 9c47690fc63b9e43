/**
 * The baseline without notification coalescing: the same PIR and per-vector counters as the
 * channel, but every post rings a doorbell (a sequence word) and calls Atomics.notify, instead of
 * notifying only on ON's 0->1 transition. The consumer sleeps on the doorbell word.
 */
import { harvestU64LoadsThenXchg } from '../../runtime/index.ts';

/** Int32 word 0: doorbell; bytes 64..95: PIR; 96..127: scratch; 128..: 256 counters. */
export const DOORBELL_BYTES = 128 + 256 * 4;

export class Doorbell {
  readonly #bell: Int32Array;
  readonly #pir32: Uint32Array;
  readonly #pir64: BigInt64Array;
  readonly #out64: BigInt64Array;
  readonly #out32: Uint32Array;
  readonly #counts: Uint32Array;

  constructor(buf: SharedArrayBuffer) {
    this.#bell = new Int32Array(buf, 0, 1);
    this.#pir32 = new Uint32Array(buf, 64, 8);
    this.#pir64 = new BigInt64Array(buf, 64, 4);
    this.#out64 = new BigInt64Array(buf, 96, 4);
    this.#out32 = new Uint32Array(buf, 96, 8);
    this.#counts = new Uint32Array(buf, 128, 256);
  }

  /** Posts `vector` and wakes the consumer, every time. */
  post(vector: number): void {
    Atomics.add(this.#counts, vector, 1);
    Atomics.or(this.#pir32, vector >>> 5, 1 << (vector & 31));
    Atomics.add(this.#bell, 0, 1);
    Atomics.notify(this.#bell, 0, 1);
  }

  /**
   * Harvests and dispatches until PIR is empty, then sleeps until the doorbell rings again.
   * Returns whether the sleep ended by a notify.
   */
  serve(handler: (vector: number, count: number) => void): boolean {
    const s = Atomics.load(this.#bell, 0);
    while (harvestU64LoadsThenXchg(this.#pir64, 0, this.#out64, 0) !== 0) {
      for (let i = 7; i >= 0; i--) {
        let w = this.#out32[i];
        while (w !== 0) {
          const b = 31 - Math.clz32(w);
          w ^= 1 << b;
          const v = (i << 5) | b;
          const n = Atomics.exchange(this.#counts, v, 0);
          if (n !== 0) handler(v, n);
        }
      }
    }
    // A post after our load of the bell changed it, so this returns at once ('not-equal').
    return Atomics.wait(this.#bell, 0, s, 50) === 'ok';
  }
}
