// Worker entry for TypeScript worker files: `node --import tsx` does not reach into workers on
// Node 20 (new Worker('w.ts') fails with "Unknown file extension"), so register tsx's ESM hooks
// in this thread first, then import the real entry named in workerData. From the build in dist/,
// the entry is compiled JavaScript and needs no hooks (ts-worker.ts).
//
// With `exitFlag` (startTsWorker's option), the worker raises a word in shared memory when it
// exits or fails to load, so that a thread blocked in Atomics.wait for it (which never sees the
// Worker's 'error' or 'exit' events: those need its event loop) learns it at once.
import { workerData } from 'node:worker_threads';

const flag = workerData.exitFlag;
const raise = () => {
  if (flag) {
    const w = new Int32Array(flag.buffer);
    Atomics.store(w, flag.index, 1);
    Atomics.notify(w, flag.index);
  }
};
process.on('exit', raise);
try {
  if (workerData.tsEntry.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  await import(workerData.tsEntry);
} catch (e) {
  raise();
  throw e;
}
