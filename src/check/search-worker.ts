/**
 * The entry of the thread that runs one check (background.ts starts it): the check session's
 * `checkScenario`, with the stop flag read from shared memory and the progress posted to the
 * thread that started it. The search holds this thread, not the main one, so the main thread stays
 * free to take Ctrl-C and print progress (decision 0170).
 */
import { parentPort } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { tsWorkerData } from '../runtime/ts-worker.ts';
import type { SearchJob, SearchMessage } from './background.ts';
import { checkScenario } from './session.ts';

const job = tsWorkerData<SearchJob>();
const stop = new Int32Array(job.stop);
const post = (m: SearchMessage) => parentPort!.postMessage(m);

try {
  const result = checkScenario(job.scenario, job.variant, {
    ...job.options,
    shouldStop: () => Atomics.load(stop, 0) !== 0,
    onProgress: (p) => post({ kind: 'progress', progress: { ...p, rssBytes: process.memoryUsage.rss() } }),
  });
  post({ kind: 'result', result });
} catch (e) {
  const err = e as Error;
  post(
    e instanceof UserError
      ? { kind: 'user-error', message: err.message }
      : { kind: 'error', message: err?.message ?? String(e), stack: err?.stack },
  );
}
