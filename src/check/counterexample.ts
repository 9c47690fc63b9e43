/**
 * Rebuilding a readable trace from a list of actions: the same schedule driven again through the
 * model with a replay chooser, recording each step (src/trace/record.ts). Replay fails loudly when
 * a recorded action is not enabled where the trace says it ran, or when a lasso's loop does not
 * close.
 */

import { PathDiverged, replayChooser } from '../drive/chooser.ts';
import { drive, stepOf } from '../drive/drive.ts';
import { UserError } from '../errors.ts';
import type { SystemModel } from '../model/system/system.ts';
import type { TraceEntry } from '../trace/record.ts';

export interface Replayed {
  entries: TraceEntry[];
  /** Violation code reported by the last step's monitors or invariants (0: none). */
  stepViolation: number;
  /** How many of the path's actions ran (fewer than the path when a violation showed earlier). */
  ran: number;
  final: Uint32Array;
}

/**
 * Replays `path`. With `loopStart` (a lasso: path[loopStart..] repeats forever), also checks that
 * the final state equals, word for word, the state reached after the first `loopStart` actions.
 */
export function replay(model: SystemModel, path: readonly number[], loopStart?: number): Replayed {
  if (loopStart !== undefined && !(Number.isInteger(loopStart) && loopStart >= 0 && loopStart < path.length))
    throw new UserError(
      `replay: loopStart ${loopStart} is not a step index of the trace (0..${path.length - 1}): the loop would be empty`,
    );
  try {
    const r = drive(model, replayChooser(path), {
      maxSteps: path.length,
      record: true,
      stepOf: stepOf(model),
    });
    if (loopStart !== undefined && r.path.length === path.length) {
      const head = drive(model, replayChooser(path.slice(0, loopStart)), { maxSteps: loopStart }).final;
      const k = r.final.findIndex((w, j) => w !== head[j]);
      if (k >= 0)
        throw new UserError(
          `replay: the loop does not close: the state after step ${path.length} differs from the state after step ${loopStart} (word ${k}: ${r.final[k]} vs ${head[k]})`,
        );
    }
    return { entries: r.entries, stepViolation: r.violation, ran: r.path.length, final: r.final };
  } catch (e) {
    if (e instanceof PathDiverged) throw new UserError(`replay: ${e.message}`);
    throw e;
  }
}
