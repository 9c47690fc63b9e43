/**
 * The cost seed 002 is about: how often opening and closing IRQ windows takes apicv_update_lock
 * for write. Read from the model's instrumentation (kvm.irqwinWriteLocks, kvm.windows) at every
 * reachable end state, so the figure covers every interleaving, not one schedule.
 */
import { KVM_APICV } from '../model/kvm/apicv.ts';
import type { SystemModel } from '../model/system/system.ts';
import { forEachEndState } from './end-states.ts';

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

/** The counters at every reachable end state (end-states.ts); undefined beyond `maxStates`. */
export function irqWindowCost(model: SystemModel, maxStates = 2_000_000): IrqWindowCost | undefined {
  const cost: IrqWindowCost = {
    endStates: 0,
    windows: { min: Infinity, max: 0 },
    writeLocks: { min: Infinity, max: 0 },
    perWindow: { min: Infinity, max: 0 },
  };
  const k = model.apicv;
  const complete = forEachEndState(model, maxStates, (s) => {
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
  });
  return complete ? cost : undefined;
}
