/**
 * `irqlab view <trace.json>`: the report page for one trace file: replayed honestly first (the
 * trace must reproduce, as for `irqlab replay`), then stepped in the browser with its state.
 * Prints the page's path; `--open` hands it to the system's opener.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { modelFor } from '../check/session.ts';
import { UserError } from '../errors.ts';
import { DEFAULT_VARIANT, describeVariant, withKnobs } from '../model/kvm/variants.ts';
import { viewReport } from '../report/build.ts';
import { reportHtml } from '../report/html.ts';
import { VERSION } from './run.ts';
import { reproducedTrace } from './trace-input.ts';

/** Writes the page of one trace file and returns the page's path. */
export function writeView(file: string, out: string): string {
  const { trace, scenario } = reproducedTrace(file);
  const variant = withKnobs(DEFAULT_VARIANT, trace.variant, file);
  const model = modelFor(scenario, variant, { properties: trace.properties, memory: trace.memory });
  const data = viewReport(trace, scenario, model, {
    command: `irqlab view ${file}`,
    version: VERSION,
    file,
    knobs: describeVariant(variant),
  });
  try {
    writeFileSync(out, reportHtml(data));
  } catch (e) {
    throw new UserError(`--out ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return resolve(out);
}

/** The system's opener for a file: open (macOS), start (Windows), xdg-open elsewhere. */
function openFile(path: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [path]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', path]]
        : ['xdg-open', [path]];
  const p = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  p.on('error', (e) =>
    process.stderr.write(`irqlab: --open: ${cmd}: ${(e as NodeJS.ErrnoException).code}\n`),
  );
  p.unref();
}

export function registerView(program: Command): void {
  program
    .command('view')
    .description('write the report page of one trace file (from check --json) and print its path')
    .argument('<trace>', 'a JSON file: a check --json document or one of its results[].trace')
    .option('--out <file>', 'the HTML file to write (default: the trace file with .html)')
    .option('--open', "open the page with the system's opener")
    .action((file: string, opts: { out?: string; open?: boolean }) => {
      const out = opts.out ?? `${file.replace(/\.json$/i, '')}.html`;
      const path = writeView(file, out);
      process.stdout.write(`${path}\n`);
      if (opts.open) openFile(path);
    });
}
