import { type Command, Option } from 'commander';
import { UserError } from '../errors.ts';
import { DEFAULT_HARVEST_ALGORITHM } from '../runtime/consumer.ts';
import {
  HARVEST_ALGORITHMS,
  HARVEST_KERNELS,
  type HarvestAlgorithm,
  type HarvestKernel,
} from '../runtime/harvest.ts';
import { defaultCostTable, loadCostTable } from './costs.ts';

/** `irqlab bench ...`: benchmarks that print figures. Subcommands are added by their owners. */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run a benchmark and print its figures');
  registerRuntimeBench(bench);
  registerCheckBench(bench);
  registerStartupBench(bench);
  registerSimBench(bench);
}

interface RuntimeBenchFlags {
  readonly quick?: boolean;
  readonly json?: boolean;
  readonly algorithm: HarvestAlgorithm;
  readonly kernel: HarvestKernel;
}

/**
 * `irqlab bench runtime [--quick] [--json]`: the posted-interrupt channel of src/runtime between
 * worker threads against MessagePort and notify-per-event, and ns per PIR harvest (issue 5).
 */
function registerRuntimeBench(bench: Command): void {
  bench
    .command('runtime')
    .description(
      'posted-interrupt channel between worker threads: events/s and latency vs MessagePort and ' +
        'notify-per-event, ns and atomic ops per PIR harvest',
    )
    .option('--quick', 'smoke run of about a second (figures not meaningful)')
    .option('--json', 'print one JSON document to stdout instead of the tables')
    .addOption(
      new Option('--algorithm <name>', "the channel's harvest algorithm in the delivery runs")
        .choices(HARVEST_ALGORITHMS)
        .default(DEFAULT_HARVEST_ALGORITHM),
    )
    .addOption(
      new Option('--kernel <name>', "the channel's harvest kernel in the delivery runs")
        .choices(HARVEST_KERNELS)
        .default('js'),
    )
    .action(async (flags: RuntimeBenchFlags, cmd: Command) => {
      // Loaded on use: the benchmark pulls in worker and wasm code the other commands never need.
      const { formatRuntimeBench, runRuntimeBench, runtimeBenchJson } = await import(
        '../bench/runtime/index.ts'
      );
      const json = flags.json === true;
      const result = await runRuntimeBench({
        quick: flags.quick === true,
        algorithm: flags.algorithm,
        kernel: flags.kernel,
        progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      let root: Command = cmd;
      while (root.parent !== null) root = root.parent;
      process.stdout.write(
        json
          ? `${JSON.stringify(runtimeBenchJson(result, root.version() ?? 'unknown'), null, 2)}\n`
          : formatRuntimeBench(result),
      );
    });
}

interface CheckBenchFlags {
  readonly quick?: boolean;
  readonly json?: boolean;
  readonly scaled4?: boolean;
}

/**
 * `irqlab bench check [--quick] [--json]`: checker throughput on every built-in scenario with
 * actors and every preset, then seed 004 scaled to 2 and 3 vCPUs.
 */
function registerCheckBench(bench: Command): void {
  bench
    .command('check')
    .description(
      'checker throughput: verdict, distinct and generated states, depth, median time to verdict ' +
        'and states/s for every built-in actor scenario and preset, then seed 004 scaled to 2 and 3 vCPUs',
    )
    .option('--quick', 'smoke run of a few seconds, without the 3-vCPU scenario (figures not meaningful)')
    .option('--json', 'print one JSON document to stdout instead of the table')
    .option('--scaled4', 'also seed 004 scaled to 4 vCPUs (68.6 million states: tens of minutes, several GB)')
    .action(async (flags: CheckBenchFlags, cmd: Command) => {
      // Loaded on use, like the runtime benchmark.
      const { checkBenchJson, formatCheckBench, runCheckBench } = await import('../bench/check.ts');
      const json = flags.json === true;
      const result = runCheckBench({
        quick: flags.quick === true,
        scaled4: flags.scaled4 === true,
        progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      let root: Command = cmd;
      while (root.parent !== null) root = root.parent;
      process.stdout.write(
        json
          ? `${JSON.stringify(checkBenchJson(result, root.version() ?? 'unknown'), null, 2)}\n`
          : formatCheckBench(result),
      );
    });
}

interface StartupBenchFlags {
  readonly runs: string;
  readonly json?: boolean;
}

/** `irqlab bench startup [--runs N] [--json]`: whole-process start-up time against `node -e 0`. */
function registerStartupBench(bench: Command): void {
  bench
    .command('startup')
    .description(
      'start-up: median whole-process time of irqlab --version, irqlab list and node -e 0, and the ratios',
    )
    .option('--runs <n>', 'runs of each command', '20')
    .option('--json', 'print one JSON document to stdout instead of the table')
    .action(async (flags: StartupBenchFlags, cmd: Command) => {
      if (!/^[1-9]\d*$/.test(flags.runs))
        throw new UserError(`--runs: expected a positive integer, got "${flags.runs}"`);
      const { formatStartupBench, runStartupBench, startupBenchJson } = await import('../bench/startup.ts');
      const json = flags.json === true;
      const result = runStartupBench({
        runs: Number(flags.runs),
        progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      let root: Command = cmd;
      while (root.parent !== null) root = root.parent;
      process.stdout.write(
        json
          ? `${JSON.stringify(startupBenchJson(result, root.version() ?? 'unknown'), null, 2)}\n`
          : formatStartupBench(result),
      );
    });
}

interface SimBenchFlags {
  readonly quick?: boolean;
  readonly json?: boolean;
}

/** `irqlab bench sim [--quick] [--json]`: model steps and events per CPU second, three durations. */
function registerSimBench(bench: Command): void {
  bench
    .command('sim')
    .description(
      'simulator throughput on one core: model steps and events per CPU second for each built-in simulation scenario at three simulated durations (the cost must grow linearly)',
    )
    .option('--quick', 'smoke run of a few seconds (figures not meaningful)')
    .option('--json', 'print one JSON document to stdout instead of the table')
    .action(async (flags: SimBenchFlags, cmd: Command) => {
      const { formatSimBench, runSimBench, simBenchJson } = await import('../bench/sim.ts');
      const json = flags.json === true;
      const result = runSimBench({
        quick: flags.quick === true,
        costsFor: (avic) => loadCostTable(defaultCostTable(avic)),
        progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      let root: Command = cmd;
      while (root.parent !== null) root = root.parent;
      process.stdout.write(
        json
          ? `${JSON.stringify(simBenchJson(result, root.version() ?? 'unknown'), null, 2)}\n`
          : formatSimBench(result),
      );
    });
}
