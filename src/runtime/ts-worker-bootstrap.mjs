// Worker entry for TypeScript worker files: `node --import tsx` does not reach into workers on
// Node 20 (new Worker('w.ts') fails with "Unknown file extension"), so register tsx's ESM hooks
// in this thread first, then import the real entry named in workerData. From the build in dist/,
// the entry is compiled JavaScript and needs no hooks (ts-worker.ts).
import { workerData } from 'node:worker_threads';

if (workerData.tsEntry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.tsEntry);
