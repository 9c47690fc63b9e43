/**
 * Rebuilding a readable trace from a list of actions: replay each from the initial state, with a
 * recording sink, and list the fields each step changed. Replay fails loudly when a recorded
 * action is not enabled where the trace says it ran.
 */
import { UserError } from '../errors.ts';
import { diffWorlds } from '../model/system/fields.ts';
import type { SystemModel } from '../model/system/system.ts';
import { describeReaction, RecordingSink, type TraceEntry } from '../run/runner.ts';

export interface Replayed {
  entries: TraceEntry[];
  /** Violation code reported by the last step's monitors (0: none). */
  stepViolation: number;
  final: Uint32Array;
}

export function replay(model: SystemModel, path: readonly number[]): Replayed {
  const s = new Uint32Array(model.words);
  model.init(s);
  const acts = new Int32Array(model.maxActions);
  const entries: TraceEntry[] = [];
  let stepViolation = 0;
  path.forEach((action, i) => {
    const n = model.enabled(s, acts);
    let ok = false;
    for (let k = 0; k < n; k++) if (acts[k] === action) ok = true;
    if (!ok)
      throw new UserError(
        `replay: step ${i + 1} (action ${action}) is not enabled in the state the trace reaches`,
      );
    const d = model.describe(s, action);
    const before = s.slice();
    const rec = new RecordingSink();
    stepViolation = model.step(s, action, rec);
    entries.push({
      n: i + 1,
      actor: d.actor,
      action:
        action < model.actors.length
          ? `${d.fn}: ${d.label}`
          : describeReaction(rec.events) || `${d.fn}: ${d.label}`,
      // Actor steps are numbered like scenario steps; hardware reactions show as (hw).
      step: action < model.actors.length ? i : null,
      events: rec.events,
      changes: diffWorlds(model.w.L, before, s),
    });
  });
  return { entries, stepViolation, final: s };
}
