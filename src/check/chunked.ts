/**
 * Append-only arrays of 32-bit integers stored as a list of fixed-size typed-array chunks. Growing
 * adds a chunk and never copies what is stored, so a search of tens of millions of states never
 * holds two copies of a big array at once (the doubling arena it replaces peaked at 1.5x its
 * content while growing, and copied everything on each doubling).
 */

/** log2 of the entries per chunk: 2^16 entries, 256 KiB per chunk. */
export const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/** An append-only Int32 array in chunks; `get` and `set` take any index below `length`. */
export class ChunkedInt32 {
  readonly chunks: Int32Array[] = [];
  private last: Int32Array = new Int32Array(0);
  private fill = CHUNK;
  length = 0;

  push(v: number): void {
    if (this.fill === CHUNK) {
      this.last = new Int32Array(CHUNK);
      this.chunks.push(this.last);
      this.fill = 0;
    }
    this.last[this.fill++] = v;
    this.length++;
  }

  get(i: number): number {
    return this.chunks[i >>> CHUNK_BITS][i & MASK];
  }

  set(i: number, v: number): void {
    this.chunks[i >>> CHUNK_BITS][i & MASK] = v;
  }

  /** Bytes held (whole chunks). */
  bytes(): number {
    return this.chunks.length * CHUNK * 4;
  }
}
