/**
 * Rebuilding a readable trace from a list of actions: replay each from the initial state, with a
 * recording sink, and list the fields each step changed. Replay fails loudly when a recorded
 * action is not enabled where the trace says it ran, or when a lasso's loop does not close.
 */
import { UserError } from '../errors.ts';
import { ACTOR } from '../model/kvm/program.ts';
import { type Change, describeStore, diffWorlds } from '../model/system/fields.ts';
import type { SystemModel } from '../model/system/system.ts';
import { describeReaction, RecordingSink, type TraceEntry } from '../run/runner.ts';

export interface Replayed {
  entries: TraceEntry[];
  /** Violation code reported by the last step's monitors (0: none). */
  stepViolation: number;
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
  let loopState: Uint32Array | null = null;
  const s = new Uint32Array(model.words);
  model.init(s);
  const acts = new Int32Array(model.maxActions);
  const entries: TraceEntry[] = [];
  let stepViolation = 0;
  path.forEach((action, i) => {
    if (i === loopStart) loopState = s.slice();
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
      changes: [...diffWorlds(model.w.L, before, s), ...bufferedStores(model, action, before, s)],
    });
  });
  if (loopState !== null) {
    const k = s.findIndex((w, j) => w !== loopState![j]);
    if (k >= 0)
      throw new UserError(
        `replay: the loop does not close: the state after step ${path.length} differs from the state after step ${loopStart} (word ${k}: ${s[k]} vs ${loopState![k]})`,
      );
  }
  return { entries, stepViolation, final: s };
}

/**
 * The stores an actor's step put in its store buffer (x86-TSO): not yet visible, so diffWorlds
 * does not see them; listed as "(buffered)" changes, which the drain step later shows as real ones.
 */
function bufferedStores(
  model: SystemModel,
  action: number,
  before: Uint32Array,
  after: Uint32Array,
): Change[] {
  if (!model.tso || action >= model.actors.length) return [];
  const sb = model.actorBase[action] + ACTOR.SB;
  const out: Change[] = [];
  for (let i = before[sb]; i < after[sb]; i++) {
    const c = describeStore(model.w.L, after, after[sb + 1 + 2 * i] - 1, after[sb + 2 + 2 * i]);
    if (c !== undefined) out.push({ ...c, to: `${c.to} (buffered)` });
  }
  return out;
}
