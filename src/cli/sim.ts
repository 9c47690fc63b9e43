/**
 * `irqlab sim`: what a policy costs, in simulated time, on the model the checker explores
 * (docs/sim.md). Parses the options, runs the experiment (src/sim/experiment.ts) and prints it as
 * a table, JSON (src/sim/result.ts) or CSV; `--all` runs the built-in simulation scenarios and
 * prints each seed's figures (src/sim/suite.ts). Bad input is one line, exit 2.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { presetsOf, resolveVariant, variantsOf } from '../check/session.ts';
import { UserError } from '../errors.ts';
import { loadScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { time } from '../scenarios/workload.ts';
import type { CostTable } from '../sim/costs.ts';
import { type ExperimentOptions, type NamedVariant, runExperiment } from '../sim/experiment.ts';
import { formatCsv, formatResult, formatSuiteTable } from '../sim/report-text.ts';
import type { SimResult, SimSuite } from '../sim/result.ts';
import { SIM_FORMAT_VERSION } from '../sim/result.ts';
import { runSuite, SUITE } from '../sim/suite.ts';
import { Timeline } from '../sim/timeline.ts';
import { defaultCostTable, loadCostTable } from './costs.ts';
import { EXIT } from './exit.ts';

interface SimOpts {
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
  progress?: boolean;
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

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'simulate a scenario with a workload in simulated time: what each variant costs, with 95% confidence intervals',
    )
    .argument('[scenarios...]', 'simulation scenarios (built-in names or files with a workload)')
    .option('--all', 'run the built-in simulation scenarios and print each seed’s figures')
    .option('--variant <v>', 'one variant: a preset, "current", or knob=value pairs (default: every preset)')
    .option('--all-variants', 'every preset of the scenario (the default)')
    .option('--duration <t>', 'simulated time measured per replication (default: the workload’s)')
    .option('--warmup <t>', 'simulated time run first and not measured (default: the workload’s)')
    .option('--stranded <t>', 'a vector waiting longer than this is stranded (default: the workload’s)')
    .option('--replications <n>', 'independent replications per variant', '10')
    .option('--seed <s>', 'the seed of every random stream', '1')
    .option(
      '--costs <file>',
      'a cost table: a YAML file or a built-in name (default: intel-skylake-sp, amd-epyc on AVIC)',
    )
    .option('--json', 'print the result as JSON (src/sim/result.ts)')
    .option('--csv', 'print one row per variant and metric, and per difference')
    .option(
      '--timeline <file>',
      'write replication 0 as Chrome Trace Event JSON (Perfetto, chrome://tracing)',
    )
    .option('--progress', 'a line on stderr after each replication (default: when stderr is a terminal)')
    .action((args: string[], o: SimOpts) => {
      if (o.json && o.csv) throw new UserError('give either --json or --csv, not both');
      if (o.all && args.length > 0) throw new UserError('give either --all or scenarios, not both');
      if (!o.all && args.length === 0)
        throw new UserError(
          `give a simulation scenario or --all (built-in: ${SUITE.map((e) => e.scenario).join(', ')})`,
        );
      if (o.all && (o.variant !== undefined || o.timeline !== undefined))
        throw new UserError(
          '--all runs each scenario’s presets; --variant and --timeline are for one scenario',
        );
      const replications = intOf('--replications', o.replications, 2);
      const seed = intOf('--seed', o.seed, 0);
      const durationNs = timeOf('--duration', o.duration);
      const warmupNs = timeOf('--warmup', o.warmup);
      const strandedNs = timeOf('--stranded', o.stranded);
      const loaded = args.map((a) => loadScenario(a));
      for (const l of loaded)
        if (l.scenario.workload === undefined)
          throw new UserError(
            `${l.file}: the scenario has no workload: irqlab sim needs one (docs/sim.md, "Workloads"; built-in: ${SUITE.map((e) => e.scenario).join(', ')})`,
          );
      const several = loaded.length > 1;
      if (o.timeline !== undefined && several) throw new UserError('--timeline is for one scenario');
      let stop = false;
      const onSigint = () => {
        stop = true;
      };
      process.on('SIGINT', onSigint);
      const showProgress = o.progress === true || process.stderr.isTTY === true;
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
        interrupted: () => stop,
        onReplication: showProgress
          ? (v, r, steps) =>
              process.stderr.write(
                `sim: ${sc.name} ${v}: replication ${r + 1}/${replications} (${steps} steps)\n`,
              )
          : undefined,
      });
      try {
        if (o.all) {
          const suite = runSuite(base, () => stop);
          const doc: SimSuite = {
            formatVersion: SIM_FORMAT_VERSION,
            kind: 'irqlab-sim-suite',
            seed,
            results: suite.results,
          };
          if (o.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
          else if (o.csv) process.stdout.write(suite.results.map((r, i) => formatCsv(r, i === 0)).join(''));
          else process.stdout.write(formatSuiteTable(suite));
          if (suite.interrupted) {
            process.stderr.write(
              'irqlab: sim: interrupted; the figures above are what was measured so far\n',
            );
            process.exit(EXIT.interrupted);
          }
          return;
        }
        const results: SimResult[] = [];
        let interrupted = false;
        for (const l of loaded) {
          const sc = l.scenario;
          const variants = simVariants(sc, o);
          const timelines = new Map<string, Timeline>();
          const opts = base(sc);
          if (o.timeline !== undefined) {
            opts.timelineFor = (v) => {
              const t = new Timeline(opts.costs.clockGHz.value);
              timelines.set(v, t);
              return t;
            };
          }
          const run = runExperiment(
            sc,
            variants,
            opts,
            `${l.file}: at workload`,
            l.builtin ? undefined : l.file,
          );
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
            process.stderr.write(`irqlab: timeline of ${v} written to ${path}\n`);
          }
          if (run.interrupted) {
            interrupted = true;
            break;
          }
        }
        if (o.json)
          process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
        else if (o.csv) process.stdout.write(results.map((r, i) => formatCsv(r, i === 0)).join(''));
        else process.stdout.write(results.map((r) => formatResult(r)).join('\n'));
        if (interrupted) {
          process.stderr.write('irqlab: sim: interrupted; the figures above are what was measured so far\n');
          process.exit(EXIT.interrupted);
        }
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
