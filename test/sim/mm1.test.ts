/**
 * The parts together against queueing theory: an M/M/1 queue simulated with EventQueue, two
 * streams (arrivals, services), replications, Welford, Student t and the latency histogram. For
 * arrival rate lambda and service rate mu the sojourn time is exponential with rate mu - lambda
 * (Kleinrock, Queueing Systems vol. 1, 3.2), so its mean is 1 / (mu - lambda) and its median
 * ln 2 / (mu - lambda). Two service rates run on common random numbers give a paired difference.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventQueue } from '../../src/sim/event-queue.ts';
import { Stream } from '../../src/sim/random.ts';
import { confidenceInterval, LogHistogram, pairedDifference, Welford } from '../../src/sim/stats.ts';

const ARRIVAL = 0;
const DEPARTURE = 1;

/** One replication: the mean sojourn time of customers warmup..n-1, and their histogram. */
function mm1(
  lambda: number,
  mu: number,
  seed: number,
  rep: number,
  n: number,
  warmup: number,
  h?: LogHistogram,
) {
  const arrivals = new Stream(seed, rep, 0);
  const services = new Stream(seed, rep, 1);
  const q = new EventQueue(4);
  const waiting: number[] = [];
  let busy = false;
  let served = 0;
  let arrived = 0;
  const w = new Welford();
  q.push(arrivals.exponential(1 / lambda), 0, ARRIVAL, 0);
  while (served < n && q.pop()) {
    const now = q.outTime;
    if (q.outA === ARRIVAL) {
      waiting.push(now);
      arrived++;
      if (arrived < n) q.push(now + arrivals.exponential(1 / lambda), 0, ARRIVAL, 0);
      if (!busy) {
        busy = true;
        q.push(now + services.exponential(1 / mu), 1, DEPARTURE, 0);
      }
    } else {
      const came = waiting.shift()!;
      if (served >= warmup) {
        w.add(now - came);
        h?.record((now - came) * 1000);
      }
      served++;
      if (waiting.length > 0) q.push(now + services.exponential(1 / mu), 1, DEPARTURE, 0);
      else busy = false;
    }
  }
  return w.mean;
}

test('M/M/1 mean and median sojourn time within the confidence interval and tolerance', () => {
  const lambda = 0.5;
  const mu = 1;
  const h = new LogHistogram();
  const w = new Welford();
  for (let r = 0; r < 12; r++) w.add(mm1(lambda, mu, 2026, r, 40000, 4000, h));
  const ci = confidenceInterval(w);
  assert.ok(ci.lo <= 2 && 2 <= ci.hi, `mean sojourn ${ci.mean} ± ${ci.halfWidth}, theory 2`);
  assert.ok(ci.halfWidth < 0.2);
  // Median of an exponential with rate 0.5: 2 ln 2 (histogram in thousandths).
  const p50 = h.percentile(0.5) / 1000;
  assert.ok(Math.abs(p50 / (2 * Math.LN2) - 1) < 0.05, `p50 ${p50}`);
  const p99 = h.percentile(0.99) / 1000;
  assert.ok(Math.abs(p99 / (2 * Math.log(100)) - 1) < 0.1, `p99 ${p99}`);
});

test('same seed, same result; common random numbers narrow the before/after difference', () => {
  assert.equal(mm1(0.5, 1, 7, 3, 5000, 500), mm1(0.5, 1, 7, 3, 5000, 500));
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 10; r++) {
    a.push(mm1(0.5, 1, 99, r, 20000, 2000));
    b.push(mm1(0.5, 1.25, 99, r, 20000, 2000));
  }
  // Theory: 1/(1 - 0.5) - 1/(1.25 - 0.5) = 2/3.
  const d = pairedDifference(a, b);
  assert.ok(d.lo <= 2 / 3 && 2 / 3 <= d.hi, `difference ${d.mean} ± ${d.halfWidth}`);
  // Unpaired, the same data: the half-widths of the two means add up to much more.
  const wa = new Welford();
  const wb = new Welford();
  for (const x of a) wa.add(x);
  for (const x of b) wb.add(x);
  assert.ok(
    d.halfWidth < 0.7 * (confidenceInterval(wa).halfWidth + confidenceInterval(wb).halfWidth),
    `paired ${d.halfWidth} vs separate ${confidenceInterval(wa).halfWidth} + ${confidenceInterval(wb).halfWidth}`,
  );
});
