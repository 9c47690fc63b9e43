/**
 * Checker throughput: `node --import tsx bench/check/main.ts`. Prints figures, asserts nothing.
 *
 * For every built-in scenario with actors and every preset (as `irqlab check --all` runs them):
 * verdict, distinct and generated states, depth, the median time to verdict over a few runs after
 * warm-up runs, and generated and distinct states per second. Then a scaled scenario generated
 * here (not a built-in), seed 004 on three vCPUs: each of three preempted vCPUs (SN=1) is scheduled
 * back in and enters the guest while a device posts one vector to each and a software sender
 * posts a fourth through vmx_deliver_posted_interrupt; with 2 vCPUs as warm-up and a smaller
 * data point. The checker is single-threaded; the core count is printed for context.
 *
 * Time to verdict is explore() alone: building the model (a few milliseconds) is not included.
 * The whole run takes 25-30 s on a 2-core machine, most of it the 3-vCPU scenario (several hundred
 * thousand distinct states of ~1.5 KB each; the process peaks at about 2 GB resident).
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { buildModel } from '../../src/check/build.ts';
import { type ExploreResult, explore } from '../../src/check/explorer.ts';
import { builtinNames, loadScenario } from '../../src/cli/files.ts';
import { DEFAULT_VARIANT, type Variant, withKnobs } from '../../src/model/kvm/variants.ts';
import { PROP_INFO } from '../../src/model/system/system.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';

const BUILTIN_WARMUP = 3;
const BUILTIN_REPS = 7;
const SCALED_REPS = 2;
const BOUNDS = { maxStates: 5_000_000, maxDepth: 10_000, maxTimeMs: 600_000 };

interface Row {
  scenario: string;
  preset: string;
  verdict: string;
  distinct: number;
  generated: number;
  depth: number;
  medianMs: number;
  reps: number;
}

function run(sc: Scenario, v: Variant): { res: ExploreResult; ms: number } {
  const model = buildModel(sc, v);
  const t0 = performance.now();
  const res = explore(model, { strategy: 'bfs', bounds: BOUNDS, now: () => performance.now() });
  return { res, ms: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function verdictOf(r: ExploreResult): string {
  const o = r.outcome;
  if (o.kind === 'violated') return `violated: ${PROP_INFO[o.code].name}`;
  if (o.kind === 'incomplete') return `incomplete: ${o.reason}`;
  return 'holds';
}

function measure(sc: Scenario, preset: string, v: Variant, warmup: number, reps: number): Row {
  for (let i = 0; i < warmup; i++) run(sc, v);
  const times: number[] = [];
  let last: ExploreResult | undefined;
  for (let i = 0; i < reps; i++) {
    const { res, ms } = run(sc, v);
    times.push(ms);
    last = res;
  }
  const r = last!;
  return {
    scenario: sc.name,
    preset,
    verdict: verdictOf(r),
    distinct: r.distinct,
    generated: r.generated,
    depth: r.depth,
    medianMs: median(times),
    reps,
  };
}

/** Seed 004 scaled to n vCPUs on n pCPUs, n device vectors and one software posting. */
function scaledScenario(n: number): Scenario {
  const doc = {
    name: `bench-scaled-${n}vcpu`,
    description: `${n} preempted vCPUs scheduled back in while a device posts ${n} vectors and a sender posts one more`,
    source: 'bench/check/main.ts (generated); seed 004 scaled up',
    machine: {
      pcpus: n,
      vcpus: Array.from({ length: n }, (_, i) => ({
        pcpu: i,
        running: false,
        autoEoi: true,
        pid: { sn: true },
      })),
    },
    actors: [
      ...Array.from({ length: n }, (_, i) => ({
        name: `vcpu${i}`,
        vcpu: i,
        steps: [{ do: 'kvm.load', pcpu: i }, { do: 'kvm.enter' }],
      })),
      {
        name: 'iommu',
        steps: Array.from({ length: n }, (_, i) => ({ do: 'device.post', vcpu: i, vector: 0x41 + i })),
      },
      { name: 'sender', steps: [{ do: 'kvm.deliver', vcpu: 0, vector: 0x51 }] },
    ],
  };
  return parseScenarioText(JSON.stringify(doc), `${doc.name}.json`);
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');

function table(rows: Row[]): string {
  const head = [
    'scenario',
    'preset',
    'verdict',
    'distinct',
    'generated',
    'depth',
    'median ms',
    'generated/s',
    'distinct/s',
    'runs',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.preset,
    r.verdict,
    int(r.distinct),
    int(r.generated),
    String(r.depth),
    r.medianMs < 10 ? r.medianMs.toFixed(2) : int(r.medianMs),
    int(r.generated / (r.medianMs / 1000)),
    int(r.distinct / (r.medianMs / 1000)),
    String(r.reps),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const left = new Set([0, 1, 2]);
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (left.has(i) ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (left.has(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

const started = performance.now();
console.log(
  `irqlab bench check · node ${process.version} · ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}) · ${Math.round(totalmem() / 2 ** 30)} GiB · checker single-threaded, BFS`,
);
console.log(
  `built-ins: median of ${BUILTIN_REPS} runs after ${BUILTIN_WARMUP} warm-up runs; scaled: median of ${SCALED_REPS} runs after the 2-vCPU warm-up`,
);

const builtins: Row[] = [];
for (const name of builtinNames()) {
  const sc = loadScenario(name).scenario;
  if ((sc.actors?.length ?? 0) === 0) continue;
  const presets = Object.entries(sc.presets ?? { current: {} });
  for (const [p, knobs] of presets) {
    const v = withKnobs(DEFAULT_VARIANT, knobs, `${name}: preset ${p}`);
    builtins.push(measure(sc, p, v, BUILTIN_WARMUP, BUILTIN_REPS));
  }
}

const scaled2 = scaledScenario(2);
const scaled3 = scaledScenario(3);
const scaled: Row[] = [
  measure(scaled2, 'current', DEFAULT_VARIANT, 2, 3),
  measure(scaled3, 'current', DEFAULT_VARIANT, 0, SCALED_REPS),
];

console.log();
console.log(table([...builtins, ...scaled]));
const all = [...builtins, ...scaled];
const gen = all.reduce((a, r) => a + r.generated, 0);
const ms = all.reduce((a, r) => a + r.medianMs, 0);
console.log();
console.log(
  `all rows: ${int(gen)} generated states in ${int(ms)} ms of median time to verdict (${int(gen / (ms / 1000))} generated/s); bench wall time ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
