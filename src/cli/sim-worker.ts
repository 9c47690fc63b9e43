/**
 * The worker thread of `irqlab sim` (src/cli/sim.ts): runs the job while the main thread waits for
 * Ctrl-C, which it passes on through a shared flag that the simulation polls between steps.
 */
import { parentPort } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { tsWorkerData } from '../runtime/ts-worker.ts';
import { runSimJob, type SimOpts } from './sim-job.ts';

export interface SimWorkerData {
  args: string[];
  opts: SimOpts;
  showProgress: boolean;
  /** Int32 word 0: set to 1 by the main thread on Ctrl-C. */
  stop: SharedArrayBuffer;
}

export type SimWorkerMessage =
  | { kind: 'note'; line: string }
  | { kind: 'done'; stdout: string; interrupted: boolean }
  | { kind: 'error'; message: string; user: boolean };

const d = tsWorkerData<SimWorkerData>();
const flag = new Int32Array(d.stop);
const post = (m: SimWorkerMessage) => parentPort!.postMessage(m);
try {
  const out = runSimJob(d.args, d.opts, {
    stop: () => Atomics.load(flag, 0) === 1,
    note: (line) => post({ kind: 'note', line }),
    showProgress: d.showProgress,
  });
  post({ kind: 'done', ...out });
} catch (e) {
  post({ kind: 'error', message: (e as Error).message ?? String(e), user: e instanceof UserError });
}
