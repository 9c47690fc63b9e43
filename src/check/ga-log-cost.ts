/**
 * The cost case 5 of issue 14 is about: GA-log entries the host hands to KVM (each a GA-log
 * interrupt's work, and a kvm_vcpu_wake_up), read from the model's instrumentation
 * (kvm.gaLogEntriesHandled, model/kvm/ga-log-cost.ts) at every reachable end state, so the
 * figure covers every interleaving (end-states.ts).
 */
import { GA_LOG_COST_BLOCK } from '../model/kvm/ga-log-cost.ts';
import type { SystemModel } from '../model/system/system.ts';
import { forEachEndState } from './end-states.ts';

export interface GaLogCost {
  endStates: number;
  /** GA-log entries handled, least and most over the end states. */
  entries: { min: number; max: number };
}

/** Undefined without the instrumentation block, or beyond `maxStates`. */
export function gaLogCost(model: SystemModel, maxStates = 2_000_000): GaLogCost | undefined {
  const o = model.w.L.extra.get(GA_LOG_COST_BLOCK);
  if (o === undefined) return undefined;
  const cost: GaLogCost = { endStates: 0, entries: { min: Infinity, max: 0 } };
  const complete = forEachEndState(model, maxStates, (s) => {
    cost.endStates++;
    cost.entries.min = Math.min(cost.entries.min, s[o]);
    cost.entries.max = Math.max(cost.entries.max, s[o]);
  });
  return complete ? cost : undefined;
}
