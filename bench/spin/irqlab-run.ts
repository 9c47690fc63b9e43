/**
 * One irqlab search of the scaled seed-004 scenario, as a process of its own so that its CPU time
 * and peak RSS can be measured from outside like Spin's (bench/spin/compare.ts runs it under GNU
 * time). Prints one JSON line: verdict, distinct and generated states, BFS depth, the CPU and wall
 * seconds of explore() alone, and the bytes the state store holds at the end.
 *
 *   node --import tsx bench/spin/irqlab-run.ts <n vCPUs> [sc|tso]
 */

import { explore } from '../../src/check/explorer.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { scaledScenario } from '../check/index.ts';

const n = Number(process.argv[2]);
const memory = process.argv[3] === 'tso' ? 'tso' : 'sc';
if (!Number.isInteger(n) || n < 1 || n > 8) {
  process.stderr.write(
    `bench/spin/irqlab-run.ts: argument 1: expected a vCPU count 1..8, got ${process.argv[2]}\n`,
  );
  process.exit(2);
}
const model = buildModel(scaledScenario(n), DEFAULT_VARIANT, undefined, memory);
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = explore(model, {
  strategy: 'bfs',
  bounds: { maxStates: 2_000_000_000, maxDepth: 100_000, maxTimeMs: 24 * 3600_000 },
  now: () => performance.now(),
});
const wallS = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
process.stdout.write(
  `${JSON.stringify({
    n,
    memory,
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
