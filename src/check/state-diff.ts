/**
 * The two state rows a tree store steps and compares (tree-store.ts `cur` and `next`), kept in the
 * memory of a small WebAssembly module whose `diff` lists the words where they differ
 * (state-diff.wat, SIMD). The comparison runs once per generated state over every word of the
 * state, although a step changes about three of them: in a JavaScript loop it took about a
 * quarter of a whole search of the 3-vCPU scaled scenario; here it takes a few percent, and it is
 * still exact, so what the store finds does not depend on any declaration of what a step writes
 * (docs/decisions/0250-state-diff-in-wasm.md).
 */
import { readFileSync } from 'node:fs';
import { Wasm, type WasmMemory, type WasmModule } from '../runtime/wasm-api.ts';

/** The compiled state-diff.wasm (once per thread, on first use). */
let compiled: WasmModule | undefined;

function diffModule(): WasmModule {
  compiled ??= new Wasm.Module(readFileSync(new URL('./state-diff.wasm', import.meta.url)));
  return compiled;
}

const PAGE = 65536;

export class StateRows {
  /** The state loaded last. */
  readonly cur: Uint32Array;
  /** The row the model steps. */
  readonly next: Uint32Array;
  /** After `diff`: the indices of the words where `next` differs from `cur`, increasing. */
  readonly dirty: Int32Array;
  private readonly run: (a: number, b: number, words: number, out: number) => number;
  private readonly nextAt: number;
  private readonly dirtyAt: number;
  private readonly padded: number;

  constructor(words: number) {
    // Each row is padded with zeros to a multiple of 8 words (the kernel's group); the model sees
    // views of `words` words only, so the padding stays equal in both rows.
    const padded = Math.max(8, (words + 7) & ~7);
    this.padded = padded;
    this.nextAt = padded * 4;
    this.dirtyAt = 2 * padded * 4;
    const inst = new Wasm.Instance(diffModule(), {});
    const memory = inst.exports.memory as WasmMemory;
    const bytes = 3 * padded * 4;
    const pages = Math.ceil(bytes / PAGE);
    if (pages > 1) memory.grow(pages - 1);
    // Views are made after the growth, which would detach them.
    this.cur = new Uint32Array(memory.buffer, 0, words);
    this.next = new Uint32Array(memory.buffer, this.nextAt, words);
    this.dirty = new Int32Array(memory.buffer, this.dirtyAt, words);
    this.run = inst.exports.diff as (a: number, b: number, words: number, out: number) => number;
  }

  /** Lists in `dirty` the words where `next` differs from `cur`; returns how many. */
  diff(): number {
    return this.run(this.nextAt, 0, this.padded, this.dirtyAt);
  }
}
