// Worker entry for TypeScript worker files: `node --import tsx` does not reach into workers on
// Node 20 (new Worker('w.ts') fails with "Unknown file extension"), so register tsx's ESM hooks
// in this thread first, then import the real entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsEntry);
