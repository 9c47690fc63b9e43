/**
 * Rebuilding a readable trace from a list of actions: the same schedule driven again through the
 * model with a replay chooser, recording each step (src/trace/record.ts). Replay fails loudly when
 * a recorded action is not enabled where the trace says it ran, or when a lasso's loop does not
 * close; a trace file (src/trace/file.ts) is replayed with every claim it makes checked.
 */

import { type Chooser, PathDiverged, replayChooser } from '../drive/chooser.ts';
import { type DriveResult, drive, stepOf } from '../drive/drive.ts';
import { UserError } from '../errors.ts';
import { DEFAULT_VARIANT, KNOBS, type Variant, withKnobs } from '../model/kvm/variants.ts';
import { PROP_INFO, PROPERTY_NAMES } from '../model/system/properties.ts';
import type { SystemModel } from '../model/system/system.ts';
import { buildModel } from '../scenarios/compile.ts';
import type { Scenario } from '../scenarios/schema.ts';
import type { TraceFile } from '../trace/file.ts';
import { recordStep, type TraceEntry } from '../trace/record.ts';
import { lassoViolation } from './liveness.ts';

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
      record: recordStep,
      stepOf: stepOf(model),
    });
    if (loopStart !== undefined && r.path.length === path.length) {
      const open = loopOpen(model, path, loopStart, r.final);
      if (open !== null) throw new UserError(`replay: ${open}`);
    }
    return { entries: r.entries, stepViolation: r.violation, ran: r.path.length, final: r.final };
  } catch (e) {
    if (e instanceof PathDiverged) throw new UserError(`replay: ${e.message}`);
    throw e;
  }
}

/**
 * Why a lasso's loop does not close (the state `final` after the whole path differs from the state
 * after its first `loopStart` actions), or null when it closes.
 */
function loopOpen(
  model: SystemModel,
  path: readonly number[],
  loopStart: number,
  final: Uint32Array,
): string | null {
  const head = drive(model, replayChooser(path.slice(0, loopStart)), { maxSteps: loopStart }).final;
  const k = final.findIndex((w, j) => w !== head[j]);
  if (k < 0) return null;
  return `the loop does not close: the state after step ${path.length} differs from the state after step ${loopStart} (word ${k}: ${final[k]} vs ${head[k]})`;
}

/** What replaying a trace file found: the claimed violation, or why it did not reproduce. */
export type ReplayVerdict =
  | { reproduced: true; property: string; kind: 'invariant' | 'liveness'; entries: TraceEntry[] }
  | { reproduced: false; why: string; entries: TraceEntry[] };

/**
 * Replays a trace file honestly: the model is built from the trace's own knobs (every knob must be
 * given), properties and memory model; each step must be enabled where the trace has it and be the
 * step the trace names (actor, function, label); the claimed property must be violated at the end,
 * and not before: at the last step for an invariant, at the final state for a liveness property
 * with no loop, over the loop for a lasso, which must close.
 */
export function replayTraceFile(t: TraceFile, sc: Scenario): ReplayVerdict {
  const none = (why: string, entries: TraceEntry[] = []): ReplayVerdict => ({
    reproduced: false,
    why,
    entries,
  });
  const missing = Object.keys(KNOBS).filter((k) => !Object.hasOwn(t.variant, k));
  if (missing.length > 0)
    return none(`the trace does not give knob ${missing.join(', ')} (a trace records every knob)`);
  let variant: Variant;
  try {
    variant = withKnobs(DEFAULT_VARIANT, t.variant, 'variant');
  } catch (e) {
    return none((e as Error).message);
  }
  for (const p of t.properties)
    if (!(PROPERTY_NAMES as readonly string[]).includes(p))
      return none(`unknown property "${p}" in the trace`);
  if (t.steps.length === 0) return none('the trace has no steps');
  const model = buildModel(sc, variant, t.properties, t.memory);
  const path = t.steps.map((s) => s.action);
  const { loopStart } = t;
  if (loopStart !== undefined && !(loopStart >= 0 && loopStart < path.length))
    return none(`loopStart ${loopStart} is not a step index of the trace (0..${path.length - 1})`);
  // A chooser that follows the path and checks that each step is the one the trace names.
  const follow = replayChooser(path);
  let mismatch = '';
  const chooser: Chooser = {
    choose(s, acts, n, depth) {
      const k = follow.choose(s, acts, n, depth);
      if (k >= 0) {
        const d = model.describe(s, acts[k]);
        const want = t.steps[depth];
        if (d.actor !== want.actor || d.fn !== want.fn || d.label !== want.label) {
          mismatch = `step ${depth + 1} is "${d.actor}: ${d.fn}: ${d.label}" here, but the trace says "${want.actor}: ${want.fn}: ${want.label}"`;
          return -1;
        }
      }
      return k;
    },
  };
  let r: DriveResult<TraceEntry>;
  try {
    r = drive(model, chooser, { maxSteps: path.length, record: recordStep, stepOf: stepOf(model) });
  } catch (e) {
    if (e instanceof PathDiverged) return none(e.message);
    throw e;
  }
  if (mismatch !== '') return none(mismatch, r.entries);
  if (r.path.length < path.length) {
    const at = PROP_INFO[r.violation]?.name ?? 'a property';
    return none(
      `${at} is violated after step ${r.path.length}, before the trace's last step ${path.length}`,
      r.entries,
    );
  }
  let code = r.violation;
  if (loopStart !== undefined) {
    const open = loopOpen(model, path, loopStart, r.final);
    if (open !== null) return none(open, r.entries);
    if (code === 0) code = lassoViolation(model, path, loopStart);
  } else if (code === 0) {
    const acts = new Int32Array(model.maxActions);
    code = model.enabled(r.final, acts) === 0 ? model.terminal(r.final) : 0;
  }
  if (code === 0)
    return none(
      loopStart !== undefined
        ? 'the loop closes, but it is not a fair cycle that leaves an obligation unmet'
        : 'no property is violated at the end of the trace',
      r.entries,
    );
  const info = PROP_INFO[code];
  if (info.name !== t.claim.property)
    return none(`it violates ${info.name}, but the trace claims ${t.claim.property}`, r.entries);
  return { reproduced: true, property: info.name, kind: info.kind, entries: r.entries };
}
