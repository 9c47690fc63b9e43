import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { MAX_WORKERS } from '../check/parallel.ts';
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
  readonly spin?: boolean;
  readonly n?: string;
  readonly runs?: string;
  readonly workers?: string;
  readonly scenario?: string;
}

/** The most vCPUs `--scenario` scales seed 004 to (4 already holds 68.6 million states). */
const MAX_SCALED = 8;

/**
 * `irqlab bench check [--quick] [--json] [--scaled4]`: checker throughput on every built-in
 * scenario with actors and every preset, then seed 004 scaled to 2 and 3 (and 4) vCPUs.
 * `irqlab bench check --spin [--n 2,3] [--runs k] [--workers w] [--json]`: the scaled scenarios
 * against Spin instead (src/bench/spin.ts).
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
    .option(
      '--spin',
      "instead: the scaled scenarios against Spin's run of bench/spin/scaled.pml (without spin installed, irqlab's figures alone)",
    )
    .option('--n <list>', 'with --spin: the vCPU counts, comma-separated (default 2,3)')
    .option(
      '--runs <k>',
      'with --spin: rounds, each tool once per round; medians and ratios by round (default 1)',
    )
    .option(
      '--workers <w>',
      'with --spin: also irqlab with w threads, unreduced and with --reduce ample (default: every core; 1: no such rows)',
    )
    .option(
      '--scenario <n>',
      `instead: print seed 004 scaled to n vCPUs (1..${MAX_SCALED}) as a scenario file for irqlab check, and run nothing`,
    )
    .action(async (flags: CheckBenchFlags, cmd: Command) => {
      if (flags.scenario !== undefined) return printScaled(flags);
      if (flags.spin === true) return spinBench(flags, cmd);
      for (const f of ['n', 'runs', 'workers'] as const)
        if (flags[f] !== undefined) throw new UserError(`--${f}: only with --spin`);
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

/** `irqlab bench check --scenario n`: the scaled scenario's file on stdout. */
async function printScaled(flags: CheckBenchFlags): Promise<void> {
  const others = Object.keys(flags).filter((f) => f !== 'scenario');
  if (others.length > 0) throw new UserError(`--scenario: prints a scenario file, not with --${others[0]}`);
  const n = flags.scenario ?? '';
  if (!/^[1-9]\d*$/.test(n) || Number(n) > MAX_SCALED)
    throw new UserError(`--scenario: expected a vCPU count 1..${MAX_SCALED}, got "${n}"`);
  const { scaledDoc, scaledScenario } = await import('../bench/scaled.ts');
  // Parsed first, so that what is printed is a scenario irqlab check reads.
  scaledScenario(Number(n));
  process.stdout.write(`${JSON.stringify(scaledDoc(Number(n)), null, 2)}\n`);
}

/** `irqlab bench check --spin`. */
async function spinBench(flags: CheckBenchFlags, cmd: Command): Promise<void> {
  if (flags.quick === true || flags.scaled4 === true)
    throw new UserError(
      `--spin: not with --${flags.quick === true ? 'quick' : 'scaled4'} (use --n to choose the scenarios)`,
    );
  const n = flags.n ?? '2,3';
  if (!/^[2-4](,[2-4])*$/.test(n))
    throw new UserError(`--n: expected vCPU counts 2..4 separated by commas, got "${n}"`);
  const runs = flags.runs ?? '1';
  if (!/^[1-9]\d*$/.test(runs)) throw new UserError(`--runs: expected a positive integer, got "${runs}"`);
  // As `irqlab check --workers`: every core unless told (src/cli/check.ts).
  const workers = flags.workers ?? String(Math.min(MAX_WORKERS, availableParallelism()));
  if (!/^[1-9]\d*$/.test(workers))
    throw new UserError(`--workers: expected a positive integer, got "${workers}"`);
  const { formatSpinBench, runSpinBench, spinBenchJson } = await import('../bench/spin.ts');
  const json = flags.json === true;
  const result = runSpinBench({
    ns: n.split(',').map(Number),
    runs: Number(runs),
    workers: Number(workers),
    progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  let root: Command = cmd;
  while (root.parent !== null) root = root.parent;
  process.stdout.write(
    json
      ? `${JSON.stringify(spinBenchJson(result, root.version() ?? 'unknown'), null, 2)}\n`
      : formatSpinBench(result),
  );
  // A Promela model whose counts drifted from the scenario's is a failed comparison.
  if (result.cases.some((c) => c.sameStateSpace === false)) process.exitCode = 1;
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
