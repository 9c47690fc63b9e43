/**
 * The report of a lock-order violation, as lockdep prints one ("Chain exists of: A --> B --> C"
 * with the stack of each acquisition): the counterexample is replayed, the step that first added
 * each dependency edge is noted together with the earlier step where the same actor took the lock
 * it still held, and the cycle of the final graph is listed edge by edge with those two steps.
 */
import { cycleIn, cycleThrough, LOCKS } from '../model/kvm/locks.ts';
import type { SystemModel } from '../model/system/system.ts';

/** One edge "held -> taken" of a lock-order cycle and the steps (1-based) that made it. */
export interface LockEdge {
  held: string;
  taken: string;
  actor: string;
  /** The step that took `held`, and the step that took `taken` while `held` was still held. */
  heldAt: number;
  takenAt: number;
  /** The kernel function of the step that took `taken`. */
  fn: string;
}

/**
 * The lock-order cycle at the end of `path`, edge by edge, or [] when the final graph has none.
 * Each edge is attributed to the first step that added it.
 */
export function lockOrderCycle(model: SystemModel, path: readonly number[]): LockEdge[] {
  if (model.locks < 0) return [];
  const n = model.lockNames.length;
  const o = model.locks;
  const s = new Uint32Array(model.words);
  model.init(s);
  const firstEdge = new Map<number, LockEdge>();
  // Per lock: the step that took it, while it is held.
  const takenAt = new Array<number>(n).fill(0);
  path.forEach((action, i) => {
    const before = s[o + LOCKS.ORDER];
    const held = Array.from({ length: n }, (_, k) => s[o + LOCKS.HOLDER + k]);
    const d = action < model.actors.length ? model.describe(s, action) : undefined;
    model.step(s, action);
    const added = (s[o + LOCKS.ORDER] & ~before) >>> 0;
    for (let k = 0; k < n; k++) if (held[k] === 0 && s[o + LOCKS.HOLDER + k] !== 0) takenAt[k] = i + 1;
    for (let bit = 0; bit < n * n; bit++) {
      if (((added >>> bit) & 1) === 0 || d === undefined) continue;
      const from = Math.floor(bit / n);
      firstEdge.set(bit, {
        held: model.lockNames[from],
        taken: model.lockNames[bit % n],
        actor: d.actor,
        heldAt: takenAt[from],
        takenAt: i + 1,
        fn: d.fn,
      });
    }
  });
  const edges = s[o + LOCKS.ORDER];
  const x = cycleIn(edges, n);
  if (x < 0) return [];
  const cycle = cycleThrough(edges, n, x);
  return cycle.map((from, j) => firstEdge.get(from * n + cycle[(j + 1) % cycle.length])!);
}
