/**
 * One irqlab search of the scaled seed-004 scenario, as a process of its own so that its CPU time
 * and peak RSS can be measured from outside like Spin's (bench/spin/compare.ts runs it under GNU
 * time). Prints one JSON line: verdict, distinct and generated states, BFS depth, the CPU and wall
 * seconds of the search alone (all threads), and the bytes the state store holds at the end.
 *
 *   node --import tsx bench/spin/irqlab-run.ts <n vCPUs> [sc|tso] [--workers N] [--reduce ample]
 *
 * --workers N (N > 1): the parallel search (src/check/parallel.ts), its helper threads started
 * the way `irqlab check` starts them; --reduce ample: partial-order reduction (one thread).
 */

import { scaledScenario } from '../../src/bench/check.ts';
import { explore } from '../../src/check/explorer.ts';
import { exploreParallel } from '../../src/check/parallel.ts';
import { exploreReduced } from '../../src/check/reduced.ts';
import { helperSpawner } from '../../src/check/session.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { PROPERTIES } from '../../src/scenarios/schema.ts';

function fail(msg: string): never {
  process.stderr.write(`bench/spin/irqlab-run.ts: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const n = Number(args[0]);
if (!Number.isInteger(n) || n < 1 || n > 8) fail(`argument 1: expected a vCPU count 1..8, got ${args[0]}`);
let memory: 'sc' | 'tso' = 'sc';
let workers = 1;
let reduce = false;
for (let i = 1; i < args.length; i++) {
  const a = args[i];
  if (a === 'sc' || a === 'tso') memory = a;
  else if (a === '--workers' && /^[1-9]\d*$/.test(args[i + 1] ?? '')) workers = Number(args[++i]);
  else if (a === '--reduce' && args[i + 1] === 'ample') {
    reduce = true;
    i++;
  } else
    fail(`argument ${i + 1}: unknown or malformed '${a}' (expected sc, tso, --workers N, --reduce ample)`);
}
if (reduce && workers > 1) fail('--reduce ample runs on one thread: give no --workers with it');
const sc = scaledScenario(n);
const model = buildModel(sc, DEFAULT_VARIANT, undefined, memory);
const opts = {
  strategy: 'bfs' as const,
  bounds: { maxStates: 2_000_000_000, maxDepth: 100_000, maxTimeMs: 24 * 3600_000 },
  now: () => performance.now(),
};
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = reduce
  ? exploreReduced(model, sc, 'ample', opts)
  : workers > 1
    ? exploreParallel(model, {
        ...opts,
        workers,
        spawn: helperSpawner(sc, DEFAULT_VARIANT, sc.properties ?? PROPERTIES, memory),
      })
    : explore(model, opts);
const wallS = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
process.stdout.write(
  `${JSON.stringify({
    n,
    memory,
    workers,
    reduce: reduce ? 'ample' : 'none',
    verdict: r.outcome.kind,
    distinct: r.distinct,
    generated: r.generated,
    depth: r.depth,
    words: model.words,
    exploreCpuS: (c.user + c.system) / 1e6,
    exploreWallS: wallS,
    storeBytes: r.storeBytes,
  })}\n`,
);
process.exit(0);
