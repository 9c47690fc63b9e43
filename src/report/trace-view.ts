/**
 * A schedule driven through the model once more, with the state inspector's view (trace/state-view.ts)
 * taken before the first step and after each step: what the report page steps through. The drive
 * loop is the one every driver uses (drive/drive.ts); a chooser that watches the states it is
 * handed sees, at depth d, the state after d steps, so no hook is needed in the loop.
 */
import { type Chooser, replayChooser } from '../drive/chooser.ts';
import { drive, stepOf } from '../drive/drive.ts';
import type { SystemModel } from '../model/system/system.ts';
import { recordStep, type TraceEntry } from '../trace/record.ts';
import { stateFields, stateValues } from '../trace/state-view.ts';
import type { TraceView, ViewEntry } from './data.ts';

export type TraceMeta = Omit<TraceView, 'entries' | 'fields' | 'initial' | 'deltas'>;

/** Drives `chooser` through `model` (at most `maxSteps` steps) and returns the trace with its states. */
export function viewSchedule(
  model: SystemModel,
  chooser: Chooser,
  maxSteps: number,
  meta: TraceMeta,
): { view: TraceView; violation: number; path: number[] } {
  const L = model.w.L;
  const before: string[][] = [];
  const watching: Chooser = {
    choose(s, acts, n, depth) {
      before[depth] = stateValues(L, s);
      return chooser.choose(s, acts, n, depth);
    },
  };
  const r = drive(model, watching, { maxSteps, record: recordStep, stepOf: stepOf(model) });
  // The state after step k is the one the chooser saw at depth k, and the final one after the last.
  const after = (k: number) => (k < r.entries.length ? before[k] : stateValues(L, r.final));
  const initial = before[0] ?? stateValues(L, r.final);
  const deltas: [number, string][][] = [];
  let prev = initial;
  for (let k = 1; k <= r.entries.length; k++) {
    const cur = after(k);
    const d: [number, string][] = [];
    cur.forEach((v, i) => {
      if (v !== prev[i]) d.push([i, v]);
    });
    deltas.push(d);
    prev = cur;
  }
  return {
    view: { ...meta, entries: r.entries.map(viewEntry), fields: stateFields(L), initial, deltas },
    violation: r.violation,
    path: r.path,
  };
}

/** A recorded path (a counterexample) with its states. */
export function viewPath(model: SystemModel, path: readonly number[], meta: TraceMeta): TraceView {
  return viewSchedule(model, replayChooser(path), path.length, meta).view;
}

function viewEntry(e: TraceEntry): ViewEntry {
  const { step: _step, ...rest } = e;
  return rest;
}
