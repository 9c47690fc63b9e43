/**
 * What `irqlab sim --json` writes (docs/sim.md, "Output"): one experiment, a scenario run under each
 * variant for the same replications on common random numbers. The report (issue 15) reads the same
 * shape. Every figure is computed by a simulation; none is stored.
 */
import type { Interval } from './stats.ts';

export const SIM_FORMAT_VERSION = 1;

/** A measured quantity across replications: its 95% Student t interval and the per-replication values. */
export interface Metric {
  /** A name as `perf kvm stat` and KVM's tracepoints name it (docs/sim.md, "Measurements"). */
  name: string;
  /** "1/s", "cycles", "ns", "share", "count", ... */
  unit: string;
  ci: Interval;
  /** One value per replication, replication order. */
  values: number[];
}

export interface LatencySummary {
  unit: 'ns';
  /** Pooled over replications: each replication's histogram merged. */
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  /** Log-linear buckets: counts[i] latencies in [edges[i], edges[i+1]). */
  histogram: { edges: number[]; counts: number[] };
}

export interface VariantResult {
  /** The variant's name: a preset (`before`, `after`) or a knob list. */
  name: string;
  /** Every knob of the model, in full. */
  knobs: Record<string, string>;
  metrics: Metric[];
  /** VM exits per second by basic exit reason, each with its interval. */
  exitsByReason: Metric[];
  latency: LatencySummary;
}

/** The paired difference `to - from` of one metric (common random numbers), with its own interval. */
export interface Difference {
  metric: string;
  unit: string;
  from: string;
  to: string;
  ci: Interval;
}

export interface SimResult {
  formatVersion: typeof SIM_FORMAT_VERSION;
  kind: 'irqlab-sim';
  scenario: string;
  file?: string;
  /** A point of a sweep (`irqlab sim --all`): what was changed, e.g. "vCPUs 8". */
  point?: string;
  /** sha256 of the scenario's canonical JSON, so a result names exactly what ran. */
  scenarioHash: string;
  seed: number;
  replications: number;
  /** Simulated time measured per replication, and warm-up before it, in ns. */
  durationNs: number;
  warmupNs: number;
  /** The cost table: its name, part, clock and every primitive's cycles. */
  costs: { name: string; cpu: string; clockGHz: number; primitives?: Record<string, number> };
  variants: VariantResult[];
  differences: Difference[];
}

/** `irqlab sim --all --json`: the built-in sim scenarios, one result each. */
export interface SimSuite {
  formatVersion: typeof SIM_FORMAT_VERSION;
  kind: 'irqlab-sim-suite';
  seed: number;
  results: SimResult[];
}
