import { Command, CommanderError } from 'commander';
import { escapeControl, UserError } from '../errors.ts';
import { registerBench } from './bench.ts';
import { registerCheck } from './check.ts';
import { registerCosts } from './costs.ts';
import { EXIT } from './exit.ts';
import { registerLitmus } from './litmus.ts';
import { registerReport } from './report.ts';
import { registerRun } from './run.ts';
import { registerSim } from './sim.ts';
import { registerView } from './view.ts';

// A reader that stops early (irqlab ... | head) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program
  .name('irqlab')
  .description('x86 interrupt virtualization: model, checker, simulator')
  .version('0.1.0')
  .exitOverride()
  // Commander's errors quote the arguments: escape control characters in them (lines kept).
  .configureOutput({ writeErr: (s) => process.stderr.write(s.split('\n').map(escapeControl).join('\n')) });

registerRun(program);
registerCheck(program);
registerBench(program);
registerLitmus(program);
registerCosts(program);
registerSim(program);
registerReport(program);
registerView(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end through exitOverride with code 0.
    process.exit(e.exitCode === 0 ? 0 : EXIT.usage);
  }
  if (e instanceof UserError) {
    process.stderr.write(`irqlab: ${e.message}\n`);
    process.exit(EXIT.usage);
  }
  const err = e as Error;
  process.stderr.write(`irqlab: internal error: ${escapeControl(err?.message ?? String(e))}\n`);
  if (process.env.IRQLAB_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  process.exit(EXIT.internal);
}
