/**
 * The cost seed 002 is about: how often opening and closing IRQ windows takes apicv_update_lock
 * for write. Read from the model's instrumentation (kvm.irqwinWriteLocks, kvm.windows) at every
 * reachable end state, so the figure covers every interleaving, not one schedule.
 */
import { KVM_APICV } from '../model/kvm/apicv.ts';
import type { SystemModel } from '../model/system/system.ts';
import { FingerprintSet, fingerprint, fpHi, fpLo } from './fingerprint.ts';

export interface IrqWindowCost {
  /** End states seen. */
  endStates: number;
  /** IRQ windows opened (svm_set_vintr), least and most over the end states. */
  windows: { min: number; max: number };
  /** Write-lock acquisitions on the IRQ-window paths, least and most over the end states. */
  writeLocks: { min: number; max: number };
  /** Write-lock acquisitions per window, least and most over the end states with a window. */
  perWindow: { min: number; max: number };
}

/**
 * Explores every state of `model` depth-first (states are kept in one arena) and reads the counters
 * at each end state. `maxStates` bounds the search: beyond it the result is undefined.
 */
export function irqWindowCost(model: SystemModel, maxStates = 2_000_000): IrqWindowCost | undefined {
  const n = model.words;
  const seen = new FingerprintSet();
  let arena = new Uint32Array(n * 1024);
  let top = 0;
  const s = new Uint32Array(n);
  const t = new Uint32Array(n);
  const out = new Int32Array(model.maxActions);
  const cost: IrqWindowCost = {
    endStates: 0,
    windows: { min: Infinity, max: 0 },
    writeLocks: { min: Infinity, max: 0 },
    perWindow: { min: Infinity, max: 0 },
  };
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
  const k = model.apicv;
  while (top > 0) {
    if (seen.size > maxStates) return undefined;
    top--;
    s.set(arena.subarray(top * n, (top + 1) * n));
    const count = model.enabled(s, out);
    if (count === 0) {
      const windows = s[k + KVM_APICV.WINDOWS];
      const locks = s[k + KVM_APICV.IRQWIN_WRITE_LOCKS];
      cost.endStates++;
      cost.windows.min = Math.min(cost.windows.min, windows);
      cost.windows.max = Math.max(cost.windows.max, windows);
      cost.writeLocks.min = Math.min(cost.writeLocks.min, locks);
      cost.writeLocks.max = Math.max(cost.writeLocks.max, locks);
      if (windows > 0) {
        cost.perWindow.min = Math.min(cost.perWindow.min, locks / windows);
        cost.perWindow.max = Math.max(cost.perWindow.max, locks / windows);
      }
      continue;
    }
    // `step` leaves `out` alone: the ids stay valid through the loop.
    for (let i = 0; i < count; i++) {
      t.set(s);
      model.step(t, out[i]);
      push(t);
    }
  }
  return cost;
}
