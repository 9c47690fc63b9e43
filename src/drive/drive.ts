/**
 * The one interpreter loop of every driver of one schedule (run, replay, random simulation, the
 * simulator): one schedule through the compiled model: at each state, the chooser picks one enabled action and
 * the model steps it. The monitors are the checker's (step monitors, invariants, and the
 * end-state check at a state where nothing is enabled), so a violation found on one schedule is
 * the same verdict the checker would give, and its path replays like any other trace.
 */
import type { Sink } from '../model/platform/events.ts';
import type { SystemModel } from '../model/system/system.ts';
import type { Chooser } from './chooser.ts';

/**
 * Applies `action` to `s` in place and returns the step's trace entry (numbered `n`) and the step
 * monitors' violation code: src/trace/record.ts recordStep. The driver passes it in, so that the
 * interpreter stays below the trace module (imports only go down).
 */
export type StepRecorder<E> = (
  model: SystemModel,
  s: Uint32Array,
  action: number,
  n: number,
  step: number | null,
  note?: string,
) => { entry: E; violation: number };

export interface DriveOptions<E = never> {
  /** Stop after this many steps (the schedule is then `bound`). */
  maxSteps: number;
  /** Record a trace entry per step with this recorder (slow: reads and changes per step). */
  record?: StepRecorder<E>;
  /**
   * The scenario step (and its note) each actor step belongs to, for trace entries: called before
   * the step runs, with the actor's index and pc.
   */
  stepOf?: (actor: number, pc: number) => { step: number | null; note?: string };
  /** Called between steps; returning true stops the schedule (`interrupted`). */
  interrupted?: () => boolean;
  /** Receives the trace events of every step (the simulator's measurements and prices). */
  sink?: Sink;
  /** Called once with the initial state, before the first step (the simulator's set-up). */
  start?: (s: Uint32Array) => void;
  /** Called after each step with the action taken (the simulator's clock). */
  stepped?: (action: number) => void;
  /**
   * Keep the path of action ids (default true). The simulator's schedules run to millions of steps
   * and need no path: without it the loop allocates nothing per step.
   */
  keepPath?: boolean;
}

export type DriveEnd =
  /** Nothing is enabled any more. */
  | 'quiescent'
  /** The chooser ended the schedule (a replayed path is done, a script is stuck). */
  | 'stopped'
  | 'bound'
  | 'violation'
  | 'interrupted';

export interface DriveResult<E = never> {
  end: DriveEnd;
  /** The action ids taken, in order (empty when keepPath is false). */
  path: number[];
  /** How many steps were taken. */
  steps: number;
  /** The violation code (0: none) and the step after which it showed (its index in `path`). */
  violation: number;
  entries: E[];
  final: Uint32Array;
}

export function drive<E = never>(
  model: SystemModel,
  chooser: Chooser,
  opts: DriveOptions<E>,
): DriveResult<E> {
  const s = new Uint32Array(model.words);
  model.init(s);
  opts.start?.(s);
  const acts = new Int32Array(model.maxActions);
  const path: number[] = [];
  const keepPath = opts.keepPath !== false;
  const sink = opts.sink ?? null;
  let steps = 0;
  const entries: E[] = [];
  let violation = model.invariant(s);
  let end: DriveEnd = violation !== 0 ? 'violation' : 'bound';
  while (violation === 0) {
    if (steps >= opts.maxSteps) {
      end = 'bound';
      break;
    }
    if (opts.interrupted?.() === true) {
      end = 'interrupted';
      break;
    }
    const n = model.enabled(s, acts);
    const k = chooser.choose(s, acts, n, steps);
    if (k < 0) {
      if (n === 0) {
        violation = model.terminal(s);
        end = violation !== 0 ? 'violation' : 'quiescent';
      } else end = 'stopped';
      break;
    }
    const action = acts[k];
    if (opts.record !== undefined) {
      const at =
        action < model.actors.length && opts.stepOf !== undefined
          ? opts.stepOf(action, s[model.actorBase[action]])
          : { step: null };
      const r = opts.record(model, s, action, entries.length + 1, at.step, at.note);
      entries.push(r.entry);
      violation = r.violation;
    } else violation = model.step(s, action, sink);
    if (keepPath) path.push(action);
    steps++;
    opts.stepped?.(action);
    if (violation === 0) violation = model.invariant(s);
    if (violation !== 0) end = 'violation';
  }
  return { end, path, steps, violation, entries, final: s };
}

/** Trace metadata of an actor's step: the scenario step it belongs to, and its note at its first pc. */
export function stepOf(
  model: SystemModel,
): (actor: number, pc: number) => { step: number | null; note?: string } {
  return (actor, pc) => {
    const p = model.actors[actor];
    const i = p.stepOfPc?.[pc] ?? -1;
    if (i < 0) return { step: null };
    const first = pc === 0 || p.stepOfPc?.[pc - 1] !== i;
    const note = first ? p.notes?.[i] : undefined;
    return note === undefined ? { step: i } : { step: i, note };
  };
}
