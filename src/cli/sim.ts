/**
 * `irqlab sim`: what a policy costs, in simulated time, on the model the checker explores
 * (docs/sim.md). Parses the options, runs the experiment (src/sim/experiment.ts) and prints it as
 * a table, JSON (src/sim/result.ts) or CSV; `--all` runs the built-in simulation scenarios and
 * prints each seed's figures (src/sim/suite.ts). The work runs in a worker thread (sim-job.ts),
 * so that Ctrl-C reaches this thread at once: it raises a shared flag the simulation polls, and
 * the figures measured so far are printed with exit 130. Bad input is one line, exit 2.
 */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { startTsWorker } from '../runtime/ts-worker.ts';
import { EXIT } from './exit.ts';
import type { SimOpts } from './sim-job.ts';
import type { SimWorkerData, SimWorkerMessage } from './sim-worker.ts';

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
    .option('--timeline-events <n>', 'the most events the timeline holds (the run goes on after)', '200000')
    .option('--progress', 'a line on stderr after each replication (default: when stderr is a terminal)')
    .action(async (args: string[], o: SimOpts) => {
      const end = await runSimJobInWorker(args, o, o.progress === true || process.stderr.isTTY === true);
      process.stdout.write(end.stdout);
      if (end.interrupted) {
        process.stderr.write('irqlab: sim: interrupted; the figures above are what was measured so far\n');
        process.exitCode = EXIT.interrupted;
      }
    });
}

/**
 * Runs one sim job (sim-job.ts) in a worker thread while this thread listens for Ctrl-C, which
 * raises the shared flag the simulation polls. Used by `irqlab sim` and `irqlab report --sim`.
 */
export async function runSimJobInWorker(
  args: string[],
  o: SimOpts,
  showProgress: boolean,
): Promise<{ stdout: string; interrupted: boolean }> {
  const stop = new SharedArrayBuffer(4);
  const data: SimWorkerData = { args, opts: o, showProgress, stop };
  const worker = startTsWorker(new URL('./sim-worker.ts', import.meta.url), data);
  const onSigint = () => Atomics.store(new Int32Array(stop), 0, 1);
  process.on('SIGINT', onSigint);
  try {
    const end = await new Promise<Exclude<SimWorkerMessage, { kind: 'note' }>>((resolve, reject) => {
      worker.on('message', (m: SimWorkerMessage) => {
        if (m.kind === 'note') process.stderr.write(`${m.line}\n`);
        else resolve(m);
      });
      worker.on('error', reject);
      worker.on('exit', (c) => reject(new Error(`the simulation worker exited with ${c}`)));
    });
    if (end.kind === 'error') {
      if (end.user) throw new UserError(end.message);
      throw new Error(end.message);
    }
    return end;
  } finally {
    process.off('SIGINT', onSigint);
    await worker.terminate();
  }
}
