/**
 * One irqlab search of the scaled seed-004 scenario (scaledScenario(n)), as a process of its own,
 * so that its CPU time and peak RSS are those of the search and nothing else, as Spin's are of pan
 * (src/bench/spin.ts starts it; `irqlab bench check --spin`). Prints one JSON line: verdict,
 * distinct and generated states, BFS depth, the CPU and wall seconds of the search alone (all
 * threads), the bytes the state store holds at the end, and the whole process's CPU seconds and
 * peak RSS from getrusage (process.resourceUsage(): the same counters GNU time reads from wait4).
 *
 *   node dist/src/bench/spin-run.js <n vCPUs> [sc|tso] [--workers N] [--reduce ample]
 *   node --import tsx src/bench/spin-run.ts ...   (from source)
 */

import { explore } from '../check/explorer.ts';
import { exploreReduced, type Search } from '../check/reduced.ts';
import { DEFAULT_VARIANT } from '../model/kvm/variants.ts';
import { PROPERTY_NAMES } from '../model/system/properties.ts';
import { buildModel } from '../scenarios/compile.ts';
import { scaledScenario } from './scaled.ts';

function fail(msg: string): never {
  process.stderr.write(`spin-run: ${msg}\n`);
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
const sc = scaledScenario(n);
const model = buildModel(sc, DEFAULT_VARIANT, undefined, memory);
const opts = {
  strategy: 'bfs' as const,
  bounds: { maxStates: 2_000_000_000, maxDepth: 100_000, maxTimeMs: 24 * 3600_000 },
  now: () => performance.now(),
};
// The parallel search's session module only when threads are asked for (it loads more), and
// before the search's clock starts, as the static imports.
const parallelSearch = workers > 1 ? (await import('../check/session.ts')).parallelSearch : undefined;
const c0 = process.cpuUsage();
const t0 = performance.now();
const search: Search =
  parallelSearch !== undefined
    ? parallelSearch(sc, DEFAULT_VARIANT, sc.properties ?? PROPERTY_NAMES, memory, 'ample', { workers })
    : explore;
const reduced = reduce ? exploreReduced(model, sc, 'ample', opts, search) : null;
const r = reduced ?? search(model, opts);
const wallS = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const u = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    n,
    memory,
    workers,
    reduce: reduce ? 'ample' : 'none',
    verdict: r.outcome.kind,
    // With --reduce ample: the reduced search's own states (the whole work's generated count
    // would include an unreduced re-run, which this scenario does not need).
    distinct: reduced?.reduction.reduced?.distinct ?? r.distinct,
    generated: r.generated,
    depth: r.depth,
    words: model.words,
    searchCpuS: (c.user + c.system) / 1e6,
    searchWallS: wallS,
    // Threads that took part (a search starts its helpers only at a wide level: parallel.ts).
    threads: r.threads ?? 1,
    storeBytes: r.storeBytes,
    processCpuS: (u.userCPUTime + u.systemCPUTime) / 1e6,
    peakRssBytes: u.maxRSS * 1024,
  })}\n`,
);
process.exit(0);
