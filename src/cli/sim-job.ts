/**
 * The work of one `irqlab sim` command, run in a worker thread (src/cli/sim-worker.ts) so that the
 * main thread stays free for Ctrl-C: validates the options, runs the experiments and formats the
 * output. Bad input throws a one-line UserError.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { loadScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { presetsOf, resolveVariant, variantsOf } from '../scenarios/variants.ts';
import { time } from '../scenarios/workload.ts';
import type { CostTable } from '../sim/costs.ts';
import { type ExperimentOptions, type NamedVariant, runExperiment } from '../sim/experiment.ts';
import { formatCsv, formatResult, formatSuiteTable } from '../sim/report-text.ts';
import type { SimResult, SimSuite } from '../sim/result.ts';
import { SIM_FORMAT_VERSION } from '../sim/result.ts';
import { runSuite, SUITE } from '../sim/suite.ts';
import { Timeline } from '../sim/timeline.ts';
import { defaultCostTable, loadCostTable } from './costs.ts';
import { VERSION } from './run.ts';

/** What every --json document of the CLI starts with (docs/cli.md). */
const HEAD = { schemaVersion: 1, tool: 'irqlab', version: VERSION };

export interface SimOpts {
  all?: boolean;
  variant?: string;
  allVariants?: boolean;
  duration?: string;
  warmup?: string;
  stranded?: string;
  replications: string;
  seed: string;
  costs?: string;
  json?: boolean;
  csv?: boolean;
  timeline?: string;
  timelineEvents?: string;
  progress?: boolean;
}

export interface SimIo {
  /** True once the user pressed Ctrl-C. */
  stop: () => boolean;
  /** A line for stderr (progress, files written). */
  note: (line: string) => void;
  showProgress: boolean;
}

export interface SimOutput {
  stdout: string;
  interrupted: boolean;
}

function timeOf(flag: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const r = time.safeParse(s);
  if (!r.success)
    throw new UserError(`${flag}: expected a time with a unit: ns, us, ms or s (e.g. "10ms"), got "${s}"`);
  if (!(r.data > 0) && flag !== '--warmup') throw new UserError(`${flag}: must be positive, got "${s}"`);
  return r.data;
}

function intOf(flag: string, s: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > 2 ** 31 - 1)
    throw new UserError(`${flag}: expected an integer ${min} or more, got "${s}"`);
  return n;
}

/** The variants a simulation compares: --variant, else every preset (before and after). */
function simVariants(sc: Scenario, o: SimOpts): NamedVariant[] {
  if (o.variant !== undefined || o.allVariants === true) return variantsOf(sc, o);
  return presetsOf(sc).map((p) => resolveVariant(sc, p));
}

/** A timeline file per variant: F itself for one variant, else F with the variant before .json. */
function timelinePath(base: string, variant: string, several: boolean): string {
  if (!several) return base;
  const safe = variant.replace(/[^a-zA-Z0-9._-]+/g, '_');
  return base.endsWith('.json') ? `${base.slice(0, -5)}.${safe}.json` : `${base}.${safe}`;
}

const builtins = () => SUITE.map((e) => e.scenario).filter((n, i, a) => a.indexOf(n) === i);

export function runSimJob(args: string[], o: SimOpts, io: SimIo): SimOutput {
  if (o.json && o.csv) throw new UserError('give either --json or --csv, not both');
  if (o.all && args.length > 0) throw new UserError('give either --all or scenarios, not both');
  if (!o.all && args.length === 0)
    throw new UserError(`give a simulation scenario or --all (built-in: ${builtins().join(', ')})`);
  if (o.all && (o.variant !== undefined || o.timeline !== undefined))
    throw new UserError('--all runs each scenario’s presets; --variant and --timeline are for one scenario');
  if (o.timeline !== undefined && args.length > 1) throw new UserError('--timeline is for one scenario');
  const timelineEvents = intOf('--timeline-events', o.timelineEvents ?? '200000', 1);
  const replications = intOf('--replications', o.replications, 2);
  const seed = intOf('--seed', o.seed, 0);
  const durationNs = timeOf('--duration', o.duration);
  const warmupNs = timeOf('--warmup', o.warmup);
  const strandedNs = timeOf('--stranded', o.stranded);
  const loaded = args.map((a) => loadScenario(a));
  for (const l of loaded)
    if (l.scenario.workload === undefined)
      throw new UserError(
        `${l.file}: the scenario has no workload: irqlab sim needs one (docs/sim.md, "Workloads"; built-in: ${builtins().join(', ')})`,
      );
  const costsFor = (sc: Scenario): CostTable =>
    loadCostTable(o.costs ?? defaultCostTable(sc.machine.features.avic));
  const base = (sc: Scenario): ExperimentOptions => ({
    costs: costsFor(sc),
    scenarioHash: (x) => `sha256:${createHash('sha256').update(JSON.stringify(x)).digest('hex')}`,
    seed,
    replications,
    durationNs,
    warmupNs,
    strandedNs,
    interrupted: io.stop,
    onReplication: io.showProgress
      ? (v, r, steps) =>
          io.note(`sim: ${sc.name} ${v}: replication ${r + 1}/${replications} (${steps} steps)`)
      : undefined,
  });
  if (o.all) {
    const suite = runSuite(base, io.stop);
    const doc: SimSuite = {
      formatVersion: SIM_FORMAT_VERSION,
      kind: 'irqlab-sim-suite',
      seed,
      results: suite.results,
    };
    const stdout = o.json
      ? `${JSON.stringify({ ...HEAD, ...doc }, null, 2)}\n`
      : o.csv
        ? suite.results.map((r, i) => formatCsv(r, i === 0)).join('')
        : formatSuiteTable(suite);
    return { stdout, interrupted: suite.interrupted };
  }
  const results: SimResult[] = [];
  let interrupted = false;
  for (const l of loaded) {
    const sc = l.scenario;
    const variants = simVariants(sc, o);
    const timelines = new Map<string, Timeline>();
    const opts = base(sc);
    // A first progress line before the first replication, which can take a while.
    if (io.showProgress)
      io.note(
        `sim: ${sc.name}: ${variants.map((v) => v.name).join(', ')}, ${replications} replications each (Ctrl-C prints what was measured so far)`,
      );
    if (o.timeline !== undefined) {
      opts.timelineFor = (v) => {
        const t = new Timeline(opts.costs.clockGHz.value, timelineEvents);
        timelines.set(v, t);
        return t;
      };
    }
    const run = runExperiment(sc, variants, opts, `${l.file}: at workload`, l.builtin ? undefined : l.file);
    results.push(run.result);
    for (const [v, t] of timelines) {
      const path = timelinePath(o.timeline!, v, variants.length > 1);
      try {
        writeFileSync(
          path,
          `${JSON.stringify(t.toJSON({ scenario: sc.name, variant: v, seed, costs: opts.costs.name }))}\n`,
        );
      } catch (e) {
        throw new UserError(
          `${path}: cannot write the timeline: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      io.note(
        t.stoppedAtUs === undefined
          ? `irqlab: timeline of ${v} written to ${path}`
          : `irqlab: timeline of ${v} written to ${path}; it stops at ${t.maxEvents} events, ${t.stoppedAtUs.toFixed(1)} us into the run (--timeline-events raises it; the figures cover the whole run)`,
      );
    }
    if (run.interrupted) {
      interrupted = true;
      break;
    }
  }
  const stdout = o.json
    ? `${JSON.stringify(
        results.length === 1
          ? { ...HEAD, ...results[0] }
          : { ...HEAD, formatVersion: SIM_FORMAT_VERSION, kind: 'irqlab-sim-suite', seed, results },
        null,
        2,
      )}\n`
    : o.csv
      ? results.map((r, i) => formatCsv(r, i === 0)).join('')
      : results.map((r) => formatResult(r)).join('\n');
  return { stdout, interrupted };
}
