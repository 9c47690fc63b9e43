/**
 * `node --import tsx bench/sim/parts.ts`: the throughput of the simulator's parts that exist before
 * it is wired to the model (docs/sim.md): the event heap (a push and a pop per event, with a
 * standing population of pending events), stream draws (exponential gaps) and latency recording.
 * Prints figures; never passes or fails on time. The simulator's own benchmark (model steps and
 * events per second, `irqlab bench sim`) comes with the wiring.
 */
import { EventQueue } from '../../src/sim/event-queue.ts';
import { PoissonArrivals, Stream } from '../../src/sim/random.ts';
import { LogHistogram, Welford } from '../../src/sim/stats.ts';

function rate(label: string, n: number, f: () => void): void {
  f(); // warm-up run, not timed
  const t0 = performance.now();
  f();
  const ms = performance.now() - t0;
  process.stdout.write(
    `${label.padEnd(52)} ${(((n / ms) * 1e3) / 1e6).toFixed(2).padStart(7)} M/s  (${n} in ${ms.toFixed(1)} ms)\n`,
  );
}

const N = 2_000_000;
for (const pending of [16, 1024]) {
  const q = new EventQueue(pending * 2);
  const rng = new Stream(1, 0, 0);
  rate(`event queue: pop + push, ${pending} pending`, N, () => {
    q.clear();
    for (let i = 0; i < pending; i++) q.push(rng.exponential(1000), i & 3, i, 0);
    for (let i = 0; i < N; i++) {
      q.pop();
      q.push(q.outTime + rng.exponential(1000), q.outPriority, q.outA, q.outB);
    }
  });
}
const p = new PoissonArrivals(new Stream(2, 0, 0), 250_000);
rate('Poisson arrivals: next()', N, () => {
  let t = 0;
  for (let i = 0; i < N; i++) t = p.next(t);
});
const h = new LogHistogram();
const w = new Welford();
const r = new Stream(3, 0, 0);
rate('latency: histogram record + Welford add', N, () => {
  for (let i = 0; i < N; i++) {
    const x = r.exponential(4000);
    h.record(x);
    w.add(x);
  }
});
