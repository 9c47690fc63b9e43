import type { Command } from 'commander';
import { runScenario } from '../run/runner.ts';
import { renderEntries } from '../trace/text.ts';
import { EXIT } from './exit.ts';
import { builtinNames, loadScenario } from './files.ts';
import { paintFor } from './paint.ts';

export const VERSION = '0.1.0';

export function registerRun(program: Command): void {
  program
    .command('list')
    .description('list the built-in scenarios with a one-line description')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }) => {
      const rows = builtinNames().map((n) => {
        const s = loadScenario(n).scenario;
        return { name: n, description: s.description, source: s.source };
      });
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ schemaVersion: 1, tool: 'irqlab', version: VERSION, scenarios: rows }, null, 2)}\n`,
        );
        return;
      }
      const w = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${r.description}\n`);
    });

  program
    .command('run')
    .description('execute a scenario step by step and print the trace and its expectations')
    .argument('<scenario>', 'a scenario file (.json/.yaml) or the name of a built-in scenario')
    .option('--json', 'print one JSON document instead of text')
    .action((arg: string, opts: { json?: boolean }) => {
      const { scenario } = loadScenario(arg);
      const r = runScenario(scenario);
      if (opts.json) {
        const doc = {
          schemaVersion: 1,
          tool: 'irqlab',
          version: VERSION,
          command: 'run',
          scenario: { name: scenario.name, description: scenario.description, source: scenario.source },
          result: { ok: r.ok, expectations: r.expectations },
          trace: r.entries,
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        const paint = paintFor(process.stdout, false);
        const out: string[] = [];
        out.push(paint.bold(`${scenario.name}: ${scenario.description}`));
        out.push(paint.dim(`source: ${scenario.source}`));
        out.push(renderEntries(r.entries, paint));
        if (r.expectations.length > 0) {
          out.push('expectations:');
          for (const e of r.expectations) {
            const mark = e.ok ? paint.green('✓') : paint.red('×');
            out.push(`  ${mark} ${e.what}: ${e.ok ? e.actual : `expected ${e.expected}, got ${e.actual}`}`);
          }
        }
        const held = r.expectations.filter((e) => e.ok).length;
        out.push(
          r.ok
            ? paint.green(`ok: ${held}/${r.expectations.length} expectations hold`)
            : paint.red(`FAILED: ${held}/${r.expectations.length} expectations hold`),
        );
        process.stdout.write(`${out.join('\n')}\n`);
      }
      if (!r.ok) process.exitCode = EXIT.expectationFailed;
    });
}
