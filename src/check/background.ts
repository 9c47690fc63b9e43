/**
 * One check in a thread of its own (search-worker.ts), so that the thread that asked for it stays
 * free: the CLI takes Ctrl-C and prints progress while the search runs (decision 0170). Stopping
 * sets a flag in shared memory that the search polls every 256 states (explorer.ts, liveness.ts);
 * the search then returns its partial counts as `incomplete: interrupted`. A search that does not
 * answer within `graceMs` of the stop (it is in a phase that does not poll) is terminated and its
 * result is made from the last progress it posted.
 *
 * Starting a thread costs little from the build in dist/ but about 2 s under tsx (every module is
 * transformed again for the new thread), which would slow every short check, so `runCheck` first
 * gives the search a slice of `FOREGROUND_MS` on the calling thread and moves it to a thread only
 * when it needs longer, from the start again: at most that slice is done twice, and a Ctrl-C in it
 * waits at most for its end. From the build, a check still running `SPECULATE_MS` into its slice
 * starts that thread at once, and the thread starts the search as soon as it is up, while the
 * slice goes on: a check that ends within its slice drops the thread, a longer one has it under
 * way when the slice ends (decision 0257).
 */

import { UserError } from '../errors.ts';
import { PROPERTY_NAMES } from '../model/system/properties.ts';
import { startTsWorker } from '../runtime/ts-worker.ts';
import type { Scenario } from '../scenarios/schema.ts';
import type { Progress } from './explorer.ts';
import {
  type CheckOptions,
  type CheckResult,
  checkScenario,
  DEFAULT_BOUNDS,
  type NamedVariant,
} from './session.ts';

/** Milliseconds a check may run on the calling thread before it moves to a thread of its own. */
export const FOREGROUND_MS = 400;

/**
 * Milliseconds into the slice after which a check that is still running starts its thread (from
 * the build only: under tsx a thread costs about 2 s, more than the slice). The built-ins end
 * well before it, so they start none.
 */
export const SPECULATE_MS = 100;

/** Whether this module runs from the build in dist/ (a thread starts in about 0.15 s). */
const COMPILED = import.meta.url.endsWith('.js');

/** Progress as the search thread posts it: the explorer's counters and the process's RSS. */
export interface SearchProgress extends Progress {
  rssBytes: number;
}

/** The options of a check that cross to the search thread (no functions). */
export type SearchOptions = Omit<CheckOptions, 'onProgress' | 'shouldStop'>;

/** What search-worker.ts is given. */
export interface SearchJob {
  scenario: Scenario;
  variant: NamedVariant;
  options: SearchOptions;
  /** One Int32: 0 to run, 1 to stop. */
  stop: SharedArrayBuffer;
}

export type SearchMessage =
  | { kind: 'progress'; progress: SearchProgress }
  | { kind: 'result'; result: CheckResult }
  | { kind: 'user-error'; message: string }
  | { kind: 'error'; message: string; stack?: string };

export interface BackgroundCheck {
  /** The check's result; rejects with a UserError for bad input, an Error for a crash. */
  readonly result: Promise<CheckResult>;
  /** Asks the search to stop; it resolves `result` as incomplete: interrupted. */
  stop(): void;
  /** Ends the thread at once and drops its result (a check that finished elsewhere). */
  cancel(): void;
}

/**
 * Starts `checkScenario(sc, nv, options)` in a worker thread. `onProgress` gets the search's
 * progress every `options.progressEveryMs` (default 2 s).
 */
export function checkInBackground(
  sc: Scenario,
  nv: NamedVariant,
  options: SearchOptions,
  onProgress?: (p: SearchProgress) => void,
  graceMs = 800,
): BackgroundCheck {
  const stopBuf = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(stopBuf);
  const job: SearchJob = { scenario: sc, variant: nv, options, stop: stopBuf };
  const w = startTsWorker(new URL('./search-worker.ts', import.meta.url), job);
  let last: SearchProgress | undefined;
  let settle: (r: CheckResult) => void = () => {};
  let fail: (e: Error) => void = () => {};
  let done = false;
  const result = new Promise<CheckResult>((res, rej) => {
    settle = (r) => {
      if (!done) res(r);
      done = true;
    };
    fail = (e) => {
      if (!done) rej(e);
      done = true;
    };
  });
  let cancelled = false;
  w.on('message', (m: SearchMessage) => {
    if (cancelled) return;
    if (m.kind === 'progress') {
      last = m.progress;
      onProgress?.(m.progress);
    } else if (m.kind === 'result') settle(m.result);
    else if (m.kind === 'user-error') fail(new UserError(m.message));
    else {
      const e = new Error(m.message);
      if (m.stack !== undefined) e.stack = m.stack;
      fail(e);
    }
    if (m.kind !== 'progress') void w.terminate();
  });
  w.on('error', (e) => fail(e));
  w.on('exit', (code) => {
    if (!done) fail(new Error(`the search thread ended (exit ${code}) without a result`));
  });
  const stop = () => {
    Atomics.store(stopFlag, 0, 1);
    const t = setTimeout(() => {
      if (done) return;
      settle(interruptedResult(sc, nv, options, last));
      void w.terminate();
    }, graceMs);
    t.unref();
  };
  const cancel = () => {
    cancelled = true;
    done = true;
    void w.terminate();
  };
  return { result, stop, cancel };
}

/** The result of a search that did not answer a stop in time: its last progress, incomplete. */
function interruptedResult(
  sc: Scenario,
  nv: NamedVariant,
  o: SearchOptions,
  p: SearchProgress | undefined,
): CheckResult {
  return {
    scenario: sc.name,
    variant: nv,
    verdict: 'incomplete',
    reason: 'interrupted',
    generated: p?.states ?? 0,
    distinct: p?.distinct ?? 0,
    depth: p?.depth ?? 0,
    timeMs: Math.round(p?.elapsedMs ?? 0),
    collisionProbability: 0,
    properties: o.properties ?? sc.properties ?? PROPERTY_NAMES,
    memory: o.memory ?? sc.memory ?? 'sc',
    reduction: { name: o.reduce ?? 'none' },
  };
}

/**
 * Runs a check: on the calling thread for at most FOREGROUND_MS, then, if it needs longer, in a
 * thread of its own (checkInBackground). `stopped` is polled by the slice on this thread; `stop()`
 * of the returned handle stops either.
 */
export function runCheck(
  sc: Scenario,
  nv: NamedVariant,
  options: SearchOptions,
  onProgress?: (p: SearchProgress) => void,
  stopped: () => boolean = () => false,
  speculateMs = COMPILED ? SPECULATE_MS : Number.POSITIVE_INFINITY,
): BackgroundCheck {
  const bounds = options.bounds ?? DEFAULT_BOUNDS;
  let bg: BackgroundCheck | undefined;
  let stopAsked = false;
  const result = (async () => {
    if (bounds.maxTimeMs > FOREGROUND_MS) {
      // The slice polls `shouldStop` every 256 states: past speculateMs, it starts the thread.
      const t0 = performance.now();
      const speculate = () => {
        if (bg === undefined && performance.now() - t0 >= speculateMs)
          bg = checkInBackground(sc, nv, options, onProgress);
        return stopped();
      };
      // One thread: helpers would not have started before the slice ends.
      const quick = checkScenario(sc, nv, {
        ...options,
        workers: 1,
        bounds: { ...bounds, maxTimeMs: FOREGROUND_MS },
        shouldStop: speculate,
      });
      if (quick.verdict !== 'incomplete' || quick.reason !== 'time') {
        bg?.cancel();
        return quick;
      }
    } else return checkScenario(sc, nv, { ...options, workers: 1, shouldStop: stopped });
    bg ??= checkInBackground(sc, nv, options, onProgress);
    if (stopAsked || stopped()) bg.stop();
    return bg.result;
  })();
  return {
    result,
    stop: () => {
      stopAsked = true;
      bg?.stop();
    },
    cancel: () => bg?.cancel(),
  };
}
