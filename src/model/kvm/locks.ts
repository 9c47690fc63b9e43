/**
 * Spinlocks as steps, and what lockdep records about them (kernel/locking/lockdep.c): each
 * acquisition while other locks are held adds "held -> acquired" edges to one lock-order graph; a
 * cycle in that graph is a possible deadlock even if no schedule has deadlocked yet (lockdep's
 * "possible circular locking dependency detected"). The checker keeps the graph in the World, so
 * along every explored execution it holds the edges of all acquisitions so far, and the
 * `lock-order` property is a cycle in it; `deadlock` is a state where every actor that is not done
 * waits for a lock someone holds.
 *
 * A lock is one word: the holder's actor index + 1, or 0 when free. Taking it is a
 * step enabled only while it is free, so a waiter is a thread with no enabled step, as for
 * apicv_update_lock (apicv.ts). Locks are instances named by the scenario or the KVM path
 * ("ir_list_lock(vcpu0)"); lockdep's graph is over classes, which with one instance of each, as in
 * the scenarios here, is the same graph.
 *
 * The graph is one word of N*N bits, so a model has at most MAX_LOCKS locks.
 */
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { NEXT, type ProgramBuilder } from './program.ts';

export const MAX_LOCKS = 5;

export const LOCKS_BLOCK = 'locks';

/** The block `locks`: the lock-order graph, then one holder word per lock. */
export const LOCKS = {
  /** Bit i*N+j: some actor acquired lock j while holding lock i (lockdep's dependency i -> j). */
  ORDER: 0,
  /** First holder word: lock k's is HOLDER + k. */
  HOLDER: 1,
} as const;

/**
 * The locks of one model, indexed in order of first use. One table is shared by every actor's
 * builder (build.ts), so a name means the same lock in every program.
 */
export class LockTable {
  readonly names: string[] = [];
  index(name: string): number {
    let k = this.names.indexOf(name);
    if (k >= 0) return k;
    if (this.names.length === MAX_LOCKS)
      throw new Error(`more than ${MAX_LOCKS} locks in one model (the lock-order graph is one word)`);
    k = this.names.push(name) - 1;
    return k;
  }
}

/** The World block for a model's locks (SystemOptions.extras), or none without locks. */
export function locksExtra(t: LockTable, actors: readonly string[]): ExtraBlock[] {
  if (t.names.length === 0) return [];
  const fields: FieldDesc[] = t.names.map((n, k) => ({
    name: `holder(${n})`,
    offset: LOCKS.HOLDER + k,
    kind: 'enum',
    names: ['free', ...actors],
  }));
  return [{ name: LOCKS_BLOCK, prefix: 'lock', size: LOCKS.HOLDER + t.names.length, fields }];
}

function tableOf(b: ProgramBuilder): LockTable {
  if (b.locks === undefined) throw new Error('a program that takes locks needs ProgramBuilder.locks');
  return b.locks;
}

function base(w: World): number {
  return w.L.extra.get(LOCKS_BLOCK)!;
}

/**
 * spin_lock(name) by the actor running this program, in kernel function `fn`: waits while the lock
 * is held; on acquisition adds the edge held -> name for every lock the actor holds.
 */
export function emitLock(b: ProgramBuilder, fn: string, name: string): void {
  const table = tableOf(b);
  const k = table.index(name);
  if (b.actor < 0) throw new Error('a program that takes locks needs ProgramBuilder.actor');
  const me = b.actor + 1;
  b.step(
    fn,
    `lock ${name}`,
    (w) => {
      const o = base(w);
      const n = table.names.length;
      let edges = w.m[o + LOCKS.ORDER];
      for (let i = 0; i < n; i++) if (w.m[o + LOCKS.HOLDER + i] === me) edges |= 1 << (i * n + k);
      w.m[o + LOCKS.ORDER] = edges >>> 0;
      w.m[o + LOCKS.HOLDER + k] = me;
      return NEXT;
    },
    (w) => w.m[base(w) + LOCKS.HOLDER + k] === 0,
  );
  b.code[b.code.length - 1].acquires = k;
  b.barriers(1);
}

/** spin_unlock(name). */
export function emitUnlock(b: ProgramBuilder, fn: string, name: string): void {
  const k = tableOf(b).index(name);
  b.step(fn, `unlock ${name}`, (w) => {
    w.m[base(w) + LOCKS.HOLDER + k] = 0;
    return NEXT;
  });
}

/** The lock-order graph of state m (block at o, n locks) has a cycle. Allocation-free. */
export function lockOrderCycle(m: Uint32Array, o: number, n: number): boolean {
  return cycleIn(m[o + LOCKS.ORDER], n) >= 0;
}

/**
 * A lock on a cycle of the graph `edges` over n locks, or -1: repeatedly removes locks without an
 * incoming edge from the remaining ones (Kahn); what is left lies on or behind a cycle, and
 * following edges inside it from any of its locks reaches one on a cycle.
 */
export function cycleIn(edges: number, n: number): number {
  let left = (1 << n) - 1;
  for (let changed = true; changed; ) {
    changed = false;
    for (let j = 0; j < n; j++) {
      if (((left >>> j) & 1) === 0) continue;
      let incoming = false;
      for (let i = 0; i < n && !incoming; i++)
        if (((left >>> i) & 1) !== 0 && ((edges >>> (i * n + j)) & 1) !== 0) incoming = true;
      if (!incoming) {
        left &= ~(1 << j);
        changed = true;
      }
    }
  }
  if (left === 0) return -1;
  // Every remaining lock has a predecessor among the remaining ones: walk predecessors n times.
  let x = 31 - Math.clz32(left);
  for (let step = 0; step < n; step++) {
    for (let i = 0; i < n; i++) {
      if (((left >>> i) & 1) !== 0 && ((edges >>> (i * n + x)) & 1) !== 0) {
        x = i;
        break;
      }
    }
  }
  return x;
}

/** The cycle through lock x in `edges` (x must lie on one), as lock indices starting at x. */
export function cycleThrough(edges: number, n: number, x: number): number[] {
  // Breadth-first from x back to x along edges: the shortest cycle through x.
  const prev = new Array<number>(n).fill(-1);
  const queue = [x];
  for (let q = 0; q < queue.length; q++) {
    const u = queue[q];
    for (let j = 0; j < n; j++) {
      if (((edges >>> (u * n + j)) & 1) === 0) continue;
      if (j === x) {
        const path = [u];
        for (let p = u; p !== x; ) {
          p = prev[p];
          path.push(p);
        }
        return path.reverse();
      }
      if (prev[j] === -1) {
        prev[j] = u;
        queue.push(j);
      }
    }
  }
  return [];
}
