/**
 * Every reachable end state of a model (a state where nothing is enabled), for the cost reports that
 * read the model's instrumentation there (irq-window-cost.ts, ga-log-cost.ts): depth-first over all
 * states, kept in one arena, deduplicated by fingerprint. A figure read this way covers every
 * interleaving, not one schedule.
 */
import type { SystemModel } from '../model/system/system.ts';
import { FingerprintSet, fingerprint, fpHi, fpLo } from './fingerprint.ts';

/**
 * Calls `visit` with each end state (the buffer is reused: read it, do not keep it). Returns false
 * when the search went beyond `maxStates` distinct states and stopped.
 */
export function forEachEndState(
  model: SystemModel,
  maxStates: number,
  visit: (s: Uint32Array) => void,
): boolean {
  const n = model.words;
  const seen = new FingerprintSet();
  let arena = new Uint32Array(n * 1024);
  let top = 0;
  const s = new Uint32Array(n);
  const t = new Uint32Array(n);
  const out = new Int32Array(model.maxActions);
  const push = (x: Uint32Array) => {
    fingerprint(x, 0, n);
    if (seen.findOrInsert(fpHi, fpLo, 0) !== -1) return;
    if ((top + 1) * n > arena.length) {
      const bigger = new Uint32Array(arena.length * 2);
      bigger.set(arena);
      arena = bigger;
    }
    arena.set(x, top * n);
    top++;
  };
  model.init(s);
  push(s);
  while (top > 0) {
    if (seen.size > maxStates) return false;
    top--;
    s.set(arena.subarray(top * n, (top + 1) * n));
    const count = model.enabled(s, out);
    if (count === 0) {
      visit(s);
      continue;
    }
    // `step` leaves `out` alone: the ids stay valid through the loop.
    for (let i = 0; i < count; i++) {
      t.set(s);
      model.step(t, out[i]);
      push(t);
    }
  }
  return true;
}
