/**
 * `irqlab bench runtime`: the posted-interrupt channel measured against MessagePort and against a
 * notify-per-event doorbell, plus nanoseconds per PIR harvest for each algorithm and kernel.
 * Figures are printed, never asserted (test/runtime/bench-smoke.test.ts checks the headings only).
 */
import { availableParallelism, cpus } from 'node:os';
import {
  checkHarvestAlgorithm,
  checkHarvestKernel,
  DEFAULT_HARVEST_ALGORITHM,
  type HarvestAlgorithm,
  type HarvestKernel,
} from '../../runtime/index.ts';
import {
  type DeliverySizes,
  HALT_POLL_NS,
  type LatencyFigures,
  measureLatency,
  measureThroughput,
  type ThroughputFigures,
  TRANSPORTS,
} from './delivery.ts';
import { type HarvestFigures, measureHarvests } from './harvest.ts';
import { WorkerPool } from './pool.ts';

export type { LatencyFigures, ThroughputFigures, Transport } from './delivery.ts';
export type { HarvestFigures } from './harvest.ts';

export interface RuntimeBenchOptions {
  /** A smoke run of a few hundred milliseconds (figures are not meaningful). */
  readonly quick?: boolean;
  /** The channel's harvest algorithm and kernel in the delivery runs (default: u64-loads-then-xchg, js). */
  readonly algorithm?: HarvestAlgorithm;
  readonly kernel?: HarvestKernel;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

export interface RuntimeBenchResult {
  readonly mode: 'full' | 'quick';
  readonly machine: {
    readonly cores: number;
    readonly cpu: string;
    readonly node: string;
    readonly platform: string;
  };
  /** The channel's harvest configuration in the delivery runs. */
  readonly channel: { readonly algorithm: HarvestAlgorithm; readonly kernel: HarvestKernel };
  readonly throughput: readonly ThroughputFigures[];
  readonly latency: readonly LatencyFigures[];
  /** pi-channel events/s divided by the other transports', per producer count. */
  readonly ratios: readonly {
    readonly producers: number;
    /** pi-channel / MessagePort. */
    readonly vsMessagePort: number;
    /** pi-channel+poll / MessagePort. */
    readonly polledVsMessagePort: number;
    /** pi-channel / notify-per-event. */
    readonly vsNotifyPerEvent: number;
  }[];
  readonly goal: { readonly text: string; readonly ratio: number; readonly met: boolean };
  readonly harvest: readonly HarvestFigures[];
  readonly elapsedMs: number;
}

const FULL: DeliverySizes & { harvestIterations: number; harvestSamples: number } = {
  events: {
    'pi-channel': 4_000_000,
    'pi-channel+poll': 4_000_000,
    'notify-per-event': 1_000_000,
    MessagePort: 300_000,
  },
  latencyEvents: 5_000,
  warmup: 500,
  repeats: 5,
  harvestIterations: 200_000,
  harvestSamples: 15,
};

const QUICK: typeof FULL = {
  events: { 'pi-channel': 20_000, 'pi-channel+poll': 20_000, 'notify-per-event': 5_000, MessagePort: 2_000 },
  latencyEvents: 100,
  warmup: 10,
  repeats: 1,
  harvestIterations: 2_000,
  harvestSamples: 1,
};

export const PRODUCER_COUNTS: readonly number[] = [1, 2];

/** Runs the whole benchmark. */
export async function runRuntimeBench(options: RuntimeBenchOptions = {}): Promise<RuntimeBenchResult> {
  const t0 = performance.now();
  const quick = options.quick === true;
  const sizes = quick ? QUICK : FULL;
  const progress = options.progress ?? (() => {});
  const channel = {
    algorithm: checkHarvestAlgorithm(options.algorithm ?? DEFAULT_HARVEST_ALGORITHM),
    kernel: checkHarvestKernel(options.kernel ?? 'js'),
  };

  // Harvest first, on an otherwise idle process (no workers yet).
  progress('harvest: ns per harvest');
  const harvest = measureHarvests(sizes.harvestIterations, sizes.harvestSamples);

  const pool = new WorkerPool(1 + Math.max(...PRODUCER_COUNTS));
  const throughput: ThroughputFigures[] = [];
  const latency: LatencyFigures[] = [];
  try {
    for (const producers of PRODUCER_COUNTS) {
      for (const transport of TRANSPORTS) {
        progress(`delivery: ${transport}, ${producers} producer(s): throughput`);
        throughput.push(await measureThroughput(pool, transport, producers, sizes, channel));
        progress(`delivery: ${transport}, ${producers} producer(s): latency`);
        latency.push(await measureLatency(pool, transport, producers, sizes, channel));
      }
    }
  } finally {
    await pool.close();
  }

  const rate = (t: string, p: number) =>
    throughput.find((f) => f.transport === t && f.producers === p)?.eventsPerSec ?? Number.NaN;
  const ratios = PRODUCER_COUNTS.map((producers) => ({
    producers,
    vsMessagePort: rate('pi-channel', producers) / rate('MessagePort', producers),
    polledVsMessagePort: rate('pi-channel+poll', producers) / rate('MessagePort', producers),
    vsNotifyPerEvent: rate('pi-channel', producers) / rate('notify-per-event', producers),
  }));
  const goalRatio = ratios[0].vsMessagePort;
  const cpu = cpus()[0]?.model ?? 'unknown';
  return {
    mode: quick ? 'quick' : 'full',
    machine: {
      cores: availableParallelism(),
      cpu: cpu.trim(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    channel,
    throughput,
    latency,
    ratios,
    goal: {
      text: 'pi-channel >= 10x MessagePort delivered events/s with one producer',
      ratio: goalRatio,
      met: goalRatio >= 10,
    },
    harvest,
    elapsedMs: performance.now() - t0,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

type Align = 'l' | 'r';

/** An aligned text table: a header row, a rule, the rows. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

function millions(n: number): string {
  return Number.isFinite(n) ? (n / 1e6).toFixed(2) : '-';
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** Section headings of the human output (the smoke test looks for these). */
export const HEADINGS = {
  delivery: 'Delivery: events/s and wake-ups',
  latency: 'Post-to-handler latency (one event in flight per producer)',
  ratio: 'Ratio against MessagePort',
  harvest: 'Harvest: ns per harvest (single thread) and atomic operations per harvest',
} as const;

/** The human-readable report. */
export function formatRuntimeBench(r: RuntimeBenchResult): string {
  const out: string[] = [];
  out.push(
    `irqlab bench runtime (${r.mode}${r.mode === 'quick' ? ': smoke run, figures not meaningful' : ''})`,
    `machine: ${r.machine.cores} cores (os.availableParallelism), ${r.machine.cpu}, node ${r.machine.node}, ${r.machine.platform}`,
    `pi-channel harvest: ${r.channel.algorithm} on the ${r.channel.kernel} kernel, per-vector counters on; ` +
      `+poll: consumer halt-polls ${HALT_POLL_NS / 1000} us before sleeping`,
    '',
    HEADINGS.delivery,
    table(
      [
        'transport',
        'producers',
        'events/s (median)',
        'runs min-max',
        'handler calls',
        'notifications',
        'posts/notification',
        'consumer wake-ups',
      ],
      r.throughput.map((t) => [
        t.transport,
        String(t.producers),
        int(t.eventsPerSec),
        `${millions(Math.min(...t.runs))}-${millions(Math.max(...t.runs))}M`,
        int(t.handlerCalls),
        int(t.notifications),
        fixed(t.postsPerWakeup, 1),
        t.consumerWakeups < 0 ? '-' : int(t.consumerWakeups),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    HEADINGS.latency,
    table(
      ['transport', 'producers', 'samples', 'p50 us', 'p99 us'],
      r.latency.map((l) => [
        l.transport,
        String(l.producers),
        int(l.samples),
        fixed(l.p50Us, 1),
        fixed(l.p99Us, 1),
      ]),
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
    HEADINGS.ratio,
    table(
      [
        'producers',
        'pi-channel / MessagePort',
        'pi-channel+poll / MessagePort',
        'pi-channel / notify-per-event',
      ],
      r.ratios.map((x) => [
        String(x.producers),
        `${fixed(x.vsMessagePort, 1)}x`,
        `${fixed(x.polledVsMessagePort, 1)}x`,
        `${fixed(x.vsNotifyPerEvent, 1)}x`,
      ]),
      ['r', 'r', 'r', 'r'],
    ),
    `goal: ${r.goal.text}: ${fixed(r.goal.ratio, 1)}x (${r.goal.met ? 'met' : 'not met'})`,
    '',
    HEADINGS.harvest,
    table(
      ['algorithm', 'kernel', 'non-empty u32 words', 'ns/harvest', 'loads', 'xchgs'],
      r.harvest.map((h) => [
        h.algorithm,
        h.kernel,
        h.fill,
        fixed(h.nsPerHarvest, 1),
        String(h.loads),
        String(h.xchgs),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `elapsed: ${fixed(r.elapsedMs / 1000, 1)} s`,
  );
  return `${out.join('\n')}\n`;
}

/** The --json document (one JSON value; no colour, no progress). */
export function runtimeBenchJson(r: RuntimeBenchResult, version: string): object {
  return {
    schemaVersion: 1,
    tool: 'irqlab',
    version,
    seed: null,
    command: 'bench runtime',
    result: r,
    stats: { elapsedMs: r.elapsedMs },
    counterexample: null,
  };
}
