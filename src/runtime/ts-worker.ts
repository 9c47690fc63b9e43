/**
 * Starting worker threads whose entry is a TypeScript file, for code that runs from source under
 * tsx (tests, examples) and from the build in dist/ (the CLI's benchmarks). In the build, this
 * module is ts-worker.js and the entry `x.ts` is compiled to `x.js` beside it: the worker runs that,
 * or the bundle `x.bundle.js` where the build made one (docs/decisions/0110-compiled-cli.md,
 * 0260-bundled-entries.md).
 */
import { existsSync } from 'node:fs';
import { Worker, type WorkerOptions, workerData } from 'node:worker_threads';

/** The shape of `workerData` inside a worker started by {@link startTsWorker}. */
interface TsWorkerData<T> {
  readonly tsEntry: string;
  readonly data: T;
  readonly exitFlag?: ExitFlag;
}

/** A word in shared memory that the worker sets to 1 when it exits or its entry fails to load. */
export interface ExitFlag {
  readonly buffer: SharedArrayBuffer;
  readonly index: number;
}

/**
 * Starts a worker running the TypeScript module `entry`, which reads `data` with
 * {@link tsWorkerData}. `data` must be structured-clonable (a SharedArrayBuffer, a shared
 * WebAssembly.Memory and a {@link PiChannelHandle} all are).
 */
export function startTsWorker<T>(
  entry: URL,
  data: T,
  options: Omit<WorkerOptions, 'workerData'> & { exitFlag?: ExitFlag } = {},
): Worker {
  const compiled = import.meta.url.endsWith('.js') && entry.pathname.endsWith('.ts');
  const href = compiled ? compiledEntry(entry) : entry.href;
  const { exitFlag, ...rest } = options;
  const wd: TsWorkerData<T> = { tsEntry: href, data, exitFlag };
  return new Worker(new URL('./ts-worker-bootstrap.mjs', import.meta.url), { ...rest, workerData: wd });
}

/**
 * The compiled module of a `x.ts` entry in dist/: its bundle `x.bundle.js` where the build made
 * one (the search threads and the comparison's search process: scripts/build.mjs, decision 0260),
 * else `x.js`.
 */
export function compiledEntry(entry: URL): string {
  const bundle = new URL(entry.href.replace(/\.ts$/, '.bundle.js'));
  return existsSync(bundle) ? bundle.href : entry.href.replace(/\.ts$/, '.js');
}

/** Inside a worker started by {@link startTsWorker}: the `data` it was given. */
export function tsWorkerData<T>(): T {
  return (workerData as TsWorkerData<T>).data;
}
