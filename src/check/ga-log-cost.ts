/**
 * The cost case 5 of issue 14 is about: GA-log entries the host hands to KVM (each a GA-log
 * interrupt's work, and a kvm_vcpu_wake_up), read from the model's instrumentation
 * (kvm.gaLogEntriesHandled, model/kvm/ga-log-cost.ts) at every reachable end state, so the
 * figure covers every interleaving. Depth-first over all states, as irq-window-cost.ts.
 */
import { GA_LOG_COST_BLOCK } from '../model/kvm/ga-log-cost.ts';
import type { SystemModel } from '../model/system/system.ts';
import { FingerprintSet, fingerprint, fpHi, fpLo } from './fingerprint.ts';

export interface GaLogCost {
  endStates: number;
  /** GA-log entries handled, least and most over the end states. */
  entries: { min: number; max: number };
}

/** Undefined without the instrumentation block, or beyond `maxStates`. */
export function gaLogCost(model: SystemModel, maxStates = 2_000_000): GaLogCost | undefined {
  const o = model.w.L.extra.get(GA_LOG_COST_BLOCK);
  if (o === undefined) return undefined;
  const n = model.words;
  const seen = new FingerprintSet();
  let arena = new Uint32Array(n * 1024);
  let top = 0;
  const s = new Uint32Array(n);
  const t = new Uint32Array(n);
  const out = new Int32Array(model.maxActions);
  const cost: GaLogCost = { endStates: 0, entries: { min: Infinity, max: 0 } };
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
    if (seen.size > maxStates) return undefined;
    top--;
    s.set(arena.subarray(top * n, (top + 1) * n));
    const count = model.enabled(s, out);
    if (count === 0) {
      cost.endStates++;
      cost.entries.min = Math.min(cost.entries.min, s[o]);
      cost.entries.max = Math.max(cost.entries.max, s[o]);
      continue;
    }
    for (let i = 0; i < count; i++) {
      t.set(s);
      model.step(t, out[i]);
      push(t);
    }
  }
  return cost;
}
