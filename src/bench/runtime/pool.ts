/** A fixed pool of benchmark workers (started once per benchmark run; tsx start-up is ~0.2 s). */
import type { TransferListItem, Worker } from 'node:worker_threads';
import { startTsWorker } from '../../runtime/index.ts';
import type { Task, TaskReply, TaskResult } from './tasks.ts';

export class WorkerPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, { resolve: (r: TaskResult) => void; reject: (e: Error) => void }>();
  #nextId = 1;

  constructor(size: number) {
    this.#workers = [];
    for (let i = 0; i < size; i++) {
      const w = startTsWorker(new URL('./worker.ts', import.meta.url), null);
      w.on('message', (reply: TaskReply) => {
        const p = this.#pending.get(reply.id);
        if (p === undefined) return;
        this.#pending.delete(reply.id);
        if (reply.ok) p.resolve(reply.result);
        else p.reject(new Error(`benchmark worker ${i}: ${reply.error}`));
      });
      w.on('error', (e) => this.#failAll(e));
      this.#workers.push(w);
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Runs `task` on worker `index`; resolves with its result. */
  run<R extends TaskResult>(
    index: number,
    task: Task,
    transfer: readonly TransferListItem[] = [],
  ): Promise<R> {
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: TaskResult) => void, reject });
      this.#workers[index].postMessage({ id, task }, transfer as TransferListItem[]);
    });
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
