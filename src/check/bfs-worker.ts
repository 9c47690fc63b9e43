/**
 * The entry of a helper thread of the parallel search (parallel.ts): builds the same model as the
 * thread that started it, from the same scenario and options, and the same reduction, and takes
 * part in its levels.
 */
import { tsWorkerData } from '../runtime/ts-worker.ts';
import { helperMain } from './parallel.ts';
import { AmpleReducer } from './reduction.ts';
import { type BfsHelperJob, modelFor } from './session.ts';

const job = tsWorkerData<BfsHelperJob>();
helperMain(
  job.shared,
  () => {
    const model = modelFor(job.scenario, job.variant, job);
    return { model, reducer: job.reduce === 'ample' ? new AmpleReducer(model, job.scenario) : undefined };
  },
  job.id,
);
