/**
 * `irqlab bench sim`: the simulator's throughput on one core (docs/sim.md, "Performance"). For each
 * built-in simulation scenario (its first preset), one replication at three simulated durations
 * T, 2T and 4T (T = 200 ms), each run three times (the median CPU time): model steps and trace events executed, CPU time, steps and events per CPU second,
 * and CPU time per simulated millisecond, which stays flat when the cost grows linearly with
 * simulated time. The goal (issue 11) is 1,000,000 model steps per second per core; the ratio to
 * it is printed. Figures only: nothing passes or fails on time.
 */
import { loadScenario, simNames } from '../scenarios/files.ts';
import { presetsOf, resolveVariant } from '../scenarios/variants.ts';
import type { CostTable } from '../sim/costs.ts';
import { compileSimCosts, runReplication } from '../sim/experiment.ts';
import { buildSimModel } from '../sim/sim-model.ts';

export const STEPS_GOAL = 1_000_000;

export interface SimBenchRow {
  scenario: string;
  variant: string;
  simulatedMs: number;
  steps: number;
  events: number;
  cpuSeconds: number;
}

export interface SimBenchResult {
  rows: SimBenchRow[];
}

function cpuSeconds(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / 1e6;
}

export function runSimBench(o: {
  quick: boolean;
  progress?: (line: string) => void;
  /** The default cost table of a machine (the CLI reads the built-in tables from disk). */
  costsFor: (avic: boolean) => CostTable;
}): SimBenchResult {
  const rows: SimBenchRow[] = [];
  const base = o.quick ? 2e6 : 200e6; // ns of simulated time
  for (const name of simNames()) {
    const { scenario: sc } = loadScenario(name);
    const variant = presetsOf(sc)[0];
    const sm = buildSimModel(sc, resolveVariant(sc, variant).variant, `builtin:${name}`);
    const costs = o.costsFor(sc.machine.features.avic);
    const compiled = compileSimCosts(sm, costs);
    const opts = { costs, seed: 1, replications: 1, warmupNs: 0, scenarioHash: () => '' };
    // A warm-up replication, not timed, so that the timed ones run compiled code.
    runReplication(sm, compiled, { ...opts, durationNs: base / 4 }, 99);
    for (const k of [1, 2, 4]) {
      // The median CPU time of three runs of the same replication (same steps each time).
      let steps = 0;
      let events = 0;
      const times = [0, 1, 2].map(() =>
        cpuSeconds(() => {
          const f = runReplication(sm, compiled, { ...opts, durationNs: base * k }, 0);
          steps = f.steps;
          events = f.events;
        }),
      );
      const cpu = times.sort((a, b) => a - b)[1];
      rows.push({ scenario: name, variant, simulatedMs: (base * k) / 1e6, steps, events, cpuSeconds: cpu });
      o.progress?.(
        `bench sim: ${name} ${variant} ${(base * k) / 1e6} ms: ${steps} steps in ${cpu.toFixed(2)} CPU s`,
      );
    }
  }
  return { rows };
}

export function formatSimBench(r: SimBenchResult): string {
  const out: string[] = [
    'irqlab bench sim: one replication per row, one core; CPU time of the replication alone (model built and warmed up first)',
    `goal: ${STEPS_GOAL.toLocaleString('en-US')} model steps per CPU second`,
    '',
  ];
  const head = [
    'scenario',
    'variant',
    'simulated',
    'steps',
    'events',
    'CPU s',
    'M steps/s',
    'x goal',
    'M events/s',
    'CPU ms per sim ms',
  ];
  const rows = r.rows.map((x) => [
    x.scenario,
    x.variant,
    `${x.simulatedMs} ms`,
    String(x.steps),
    String(x.events),
    x.cpuSeconds.toFixed(3),
    (x.steps / x.cpuSeconds / 1e6).toFixed(2),
    (x.steps / x.cpuSeconds / STEPS_GOAL).toFixed(2),
    (x.events / x.cpuSeconds / 1e6).toFixed(2),
    ((x.cpuSeconds * 1e3) / x.simulatedMs).toFixed(2),
  ]);
  const all = [head, ...rows];
  const w = head.map((_, j) => Math.max(...all.map((row) => row[j].length)));
  for (const row of all) out.push(row.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  '));
  const steps = r.rows.reduce((a, x) => a + x.steps, 0);
  const cpu = r.rows.reduce((a, x) => a + x.cpuSeconds, 0);
  out.push(
    '',
    `all rows: ${steps} steps in ${cpu.toFixed(2)} CPU s = ${(steps / cpu / 1e6).toFixed(2)} M steps/s (${(steps / cpu / STEPS_GOAL).toFixed(2)}x the goal)`,
  );
  return `${out.join('\n')}\n`;
}

export function simBenchJson(r: SimBenchResult, version: string) {
  return {
    schemaVersion: 1,
    tool: 'irqlab',
    version,
    bench: 'sim',
    goalStepsPerSecond: STEPS_GOAL,
    rows: r.rows,
  };
}
