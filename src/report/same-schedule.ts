/**
 * A counterexample's schedule replayed on another variant (a seed's fixed kernel). Action ids are
 * positions in a variant's actor list and the fix changes the programs, so the schedule is followed
 * by who does what: each recorded step (actor, function, label) is taken when that actor can take
 * it; a step of the fixed code that the recorded schedule does not have (the fix's added barrier
 * and re-check) runs in that actor's turn just before its next recorded step; a recorded step the
 * fixed code no longer has, or a hardware reaction that is not pending on the fixed kernel, is
 * skipped. The schedule stops applying when a recorded program step's actor cannot move at all
 * (it waits for a lock, it halted), and the report then shows the fixed kernel's own verdict.
 */
import type { Chooser } from '../drive/chooser.ts';
import type { SystemModel } from '../model/system/system.ts';
import type { TraceEntry } from '../trace/record.ts';

/** Extra steps of the fixed code taken in a row before the schedule is said not to apply. */
const MAX_EXTRA = 32;

export interface ScheduleFollower extends Chooser {
  /** Why the schedule stopped applying, or null when every recorded step was taken or skipped. */
  readonly stopped: string | null;
  /** Recorded steps taken, skipped, and steps of the fixed code added. */
  readonly taken: number;
  readonly skipped: string[];
  readonly added: number;
}

export function followSchedule(model: SystemModel, recorded: readonly TraceEntry[]): ScheduleFollower {
  let i = 0;
  let extraInRow = 0;
  const f = {
    stopped: null as string | null,
    taken: 0,
    skipped: [] as string[],
    added: 0,
    choose(s: Uint32Array, acts: Int32Array, n: number): number {
      for (;;) {
        if (i >= recorded.length) return -1;
        const want = recorded[i];
        const name = `${i + 1}. ${want.actor}: ${want.fn}: ${want.label}`;
        let same = -1;
        for (let k = 0; k < n; k++) {
          const d = model.describe(s, acts[k]);
          if (d.actor !== want.actor) continue;
          if (d.fn === want.fn && d.label === want.label) {
            i++;
            f.taken++;
            extraInRow = 0;
            return k;
          }
          if (same < 0) same = k;
        }
        if (same < 0) {
          if (want.hardware) {
            f.skipped.push(name);
            i++;
            continue;
          }
          f.stopped = `recorded step ${name} cannot run here: ${want.actor} has no enabled step`;
          return -1;
        }
        const d = model.describe(s, acts[same]);
        const later = recorded
          .slice(i + 1)
          .some((e) => e.actor === d.actor && e.fn === d.fn && e.label === d.label);
        if (later || want.hardware) {
          // The recorded step is gone from the fixed code (its actor is already at a later step).
          f.skipped.push(name);
          i++;
          continue;
        }
        if (++extraInRow > MAX_EXTRA) {
          f.stopped = `${want.actor} ran ${MAX_EXTRA} steps of the fixed code without reaching recorded step ${name}`;
          return -1;
        }
        f.added++;
        return same;
      }
    },
  };
  return f;
}
