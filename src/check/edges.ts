/**
 * The edges a breadth-first search computes anyway, kept as successor indices, and an exact test of
 * whether the graph they form has a cycle (decision 0120).
 *
 * The fair-cycle phase (liveness.ts) needs a cycle. The search used to guess one from an edge that
 * does not go deeper; a merge of two paths of different lengths makes such an edge too, so on an
 * acyclic graph the phase re-expanded every state for nothing (37-41% of the time on the scaled
 * seed 004, ../shared/bench/spin/README.md). Here Kahn's algorithm (repeatedly removing states no
 * remaining edge enters) decides it exactly in two passes over the edges: the states it cannot
 * remove are those on a cycle and those reachable from one, and only those can be in a strongly
 * connected component with an internal edge, the only place a fair cycle can be.
 *
 * Memory: 4 bytes per edge and 4 per state while searching (chunked, never copied), then 8 bytes
 * per state for the test.
 */
import { CHUNK_BITS, ChunkedInt32 } from './chunked.ts';

export class EdgeLog {
  /** Edge targets, state by state, in the order the states were expanded. */
  readonly tgt = new ChunkedInt32();
  /** Per state (by index): where its edges start in `tgt`. */
  readonly first = new ChunkedInt32();
  /** False once more edges than an Int32 index can address were seen: nothing can be decided. */
  ok = true;

  /** Starts the edges of the next state (states must be expanded in index order: BFS). */
  begin(): void {
    this.first.push(this.tgt.length);
  }

  add(target: number): void {
    if (this.tgt.length >= 0x7fffffff) this.ok = false;
    else this.tgt.push(target);
  }

  bytes(): number {
    return this.tgt.bytes() + this.first.bytes();
  }
}

/**
 * The states of the first `n` on a cycle or reachable from one, as a 0/1 mask, or null when the
 * graph has no cycle. Every one of the `n` states must have been expanded (`begin` called for it).
 */
export function cyclicPart(log: EdgeLog, n: number): Uint8Array | null {
  const E = log.tgt.length;
  const indeg = new Int32Array(n);
  const chunks = log.tgt.chunks;
  for (let c = 0, base = 0; base < E; c++, base += 1 << CHUNK_BITS) {
    const ch = chunks[c];
    const end = Math.min(ch.length, E - base);
    for (let k = 0; k < end; k++) indeg[ch[k]]++;
  }
  const queue = new Int32Array(n);
  let tail = 0;
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue[tail++] = v;
  for (let h = 0; h < tail; h++) {
    const v = queue[h];
    const end = v + 1 < n ? log.first.get(v + 1) : E;
    for (let e = log.first.get(v); e < end; e++) {
      const w = log.tgt.get(e);
      if (--indeg[w] === 0) queue[tail++] = w;
    }
  }
  if (tail === n) return null;
  const out = new Uint8Array(n);
  for (let v = 0; v < n; v++) if (indeg[v] > 0) out[v] = 1;
  return out;
}
