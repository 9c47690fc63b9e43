import type { Command } from 'commander';

/** `irqlab bench ...`: benchmarks that print figures. Subcommands are added by their owners. */
export function registerBench(program: Command): void {
  program.command('bench').description('run a benchmark and print its figures');
}
