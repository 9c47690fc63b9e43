import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { runScenario } from '../run/run.ts';
import { builtinNames, loadAllBuiltins, loadScenario } from '../scenarios/files.ts';
import { traceToSvg } from '../trace/svg.ts';
import { renderEntries } from '../trace/text.ts';
import { EXIT } from './exit.ts';
import { paintFor } from './paint.ts';
import { writeSvg } from './svg-file.ts';

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
    .argument('[scenario]', 'a scenario file (.json/.yaml) or the name of a built-in scenario')
    .option('--all', 'run every built-in scenario and print a table of results')
    .option('--json', 'print one JSON document instead of text')
    .option('--svg <file>', 'also draw the trace as an SVG sequence diagram')
    .action((arg: string | undefined, opts: { json?: boolean; all?: boolean; svg?: string }) => {
      if (opts.all) {
        if (arg !== undefined) throw new UserError('give either a scenario or --all, not both');
        runAll(Boolean(opts.json));
        return;
      }
      if (arg === undefined) throw new UserError('run needs a scenario (a file or a built-in name) or --all');
      const { scenario, builtin } = loadScenario(arg);
      if (scenario.steps.length === 0) {
        throw new UserError(`${arg} has no steps: it is a concurrent scenario, use 'irqlab check ${arg}'`);
      }
      const r = runScenario(scenario, builtin ? `builtin:${arg}` : arg);
      if (opts.svg)
        writeSvg(opts.svg, traceToSvg(r.entries, { title: `${scenario.name}: ${scenario.description}` }));
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

/**
 * Runs every built-in scenario that has steps and prints one row each: name, steps, expectations
 * held, verdict. Those without steps describe concurrent actors for the checker and are skipped.
 */
function runAll(json: boolean): void {
  const all = loadAllBuiltins();
  const skipped = all
    .filter(({ scenario }) => scenario.steps.length === 0)
    .map(({ scenario }) => scenario.name);
  const rows = all
    .filter(({ scenario }) => scenario.steps.length > 0)
    .map(({ scenario }) => {
      const r = runScenario(scenario, `builtin:${scenario.name}`);
      const held = r.expectations.filter((e) => e.ok).length;
      const failed = r.expectations.filter((e) => !e.ok).map((e) => e.what);
      return {
        name: scenario.name,
        steps: r.entries.length,
        held,
        total: r.expectations.length,
        ok: r.ok,
        failed,
      };
    });
  const ok = rows.every((r) => r.ok);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ schemaVersion: 1, tool: 'irqlab', version: VERSION, command: 'run --all', ok, rows, skipped }, null, 2)}\n`,
    );
  } else {
    const paint = paintFor(process.stdout, false);
    const w = Math.max(8, ...rows.map((r) => r.name.length));
    const out = [`${'scenario'.padEnd(w)}  steps  expectations  result`];
    for (const r of rows) {
      const res = r.ok ? paint.green('ok') : paint.red(`FAILED (${r.failed.join('; ')})`);
      out.push(
        `${r.name.padEnd(w)}  ${String(r.steps).padStart(5)}  ${`${r.held}/${r.total}`.padStart(12)}  ${res}`,
      );
    }
    const nOk = rows.filter((r) => r.ok).length;
    out.push(`${nOk}/${rows.length} scenarios hold their expectations`);
    if (skipped.length > 0) {
      out.push(
        `${skipped.length} scenario${skipped.length === 1 ? '' : 's'} without steps skipped (${skipped.join(', ')}): they describe concurrent actors, check them with 'irqlab check --all'`,
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (!ok) process.exitCode = EXIT.expectationFailed;
}
