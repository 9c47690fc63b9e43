/**
 * `irqlab report`: one self-contained HTML file (docs/report.md) for a run of checks: the summary
 * table, every counterexample stepped with its state, each seed's before and after, and with
 * simulation results their plots. The page is built into the package (dist/viewer); this command
 * only runs the checks and inlines their data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_BOUNDS, isConcurrent } from '../check/session.ts';
import { UserError } from '../errors.ts';
import { buildReport } from '../report/build.ts';
import { reportHtml } from '../report/html.ts';
import { builtinNames, type LoadedScenario, loadScenario } from '../scenarios/files.ts';
import { SIM_FORMAT_VERSION, type SimSuite } from '../sim/result.ts';
import { EXIT } from './exit.ts';
import { VERSION } from './run.ts';

interface ReportOpts {
  all?: boolean;
  sim?: boolean;
  simResults?: string;
  out: string;
  maxStates: string;
  maxTime: string;
}

/**
 * Writes the report of `targets` to `out` and returns its size in bytes.
 *
 * MERGE HOOK (issue 15, --sim): `simResults` is what the simulator computes (`irqlab sim --all
 * --json`, src/sim/result.ts). When the simulator lands, the `--sim` action below calls it and
 * passes its SimSuite here; until then `--sim` says so and exits 2, and `--sim-results <file>`
 * reads a suite the simulator wrote.
 */
export function writeReport(
  targets: readonly LoadedScenario[],
  out: string,
  o: { command: string; maxStates?: number; maxTimeMs?: number; simResults?: SimSuite },
): number {
  const data = buildReport(targets, {
    command: o.command,
    version: VERSION,
    check: {
      bounds: {
        ...DEFAULT_BOUNDS,
        maxStates: o.maxStates ?? DEFAULT_BOUNDS.maxStates,
        maxTimeMs: o.maxTimeMs ?? DEFAULT_BOUNDS.maxTimeMs,
      },
    },
    onCheck: (r) =>
      process.stderr.write(
        `${r.scenario} · ${r.variant.name}: ${r.verdict}${r.property ? ` ${r.property}` : ''}\n`,
      ),
    simResults: o.simResults,
  });
  const html = reportHtml(data);
  try {
    writeFileSync(out, html);
  } catch (e) {
    throw new UserError(`--out ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return Buffer.byteLength(html);
}

/** A simulation suite (or one result) as `irqlab sim --json` writes it; anything else is a UserError. */
export function readSimResults(file: string): SimSuite {
  let doc: { kind?: unknown; formatVersion?: unknown; results?: unknown; seed?: unknown };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: cannot read simulation results: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc?.formatVersion !== SIM_FORMAT_VERSION)
    throw new UserError(
      `${file}: formatVersion: expected ${SIM_FORMAT_VERSION} (an irqlab sim --json result)`,
    );
  if (doc.kind === 'irqlab-sim-suite' && Array.isArray(doc.results)) return doc as unknown as SimSuite;
  if (doc.kind === 'irqlab-sim')
    return {
      formatVersion: SIM_FORMAT_VERSION,
      kind: 'irqlab-sim-suite',
      seed: Number(doc.seed),
      results: [doc as unknown as SimSuite['results'][number]],
    };
  throw new UserError(`${file}: kind: expected "irqlab-sim-suite" or "irqlab-sim"`);
}

function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag}: expected a positive integer, got "${s}"`);
  return n;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'check scenarios and write one self-contained HTML report (summary, counterexamples, before/after)',
    )
    .argument('[scenarios...]', 'scenario files or built-in names')
    .option('--all', 'every built-in scenario with actors, in every preset')
    .option('--sim', 'also run the simulations and plot them')
    .option('--sim-results <file>', 'plot simulation results written by irqlab sim --json')
    .option('--out <file>', 'the HTML file to write', 'report.html')
    .option(
      '--max-states <n>',
      'per check: stop after this many distinct states',
      String(DEFAULT_BOUNDS.maxStates),
    )
    .option(
      '--max-time <seconds>',
      'per check: stop after this many seconds',
      String(DEFAULT_BOUNDS.maxTimeMs / 1000),
    )
    .action((args: string[], opts: ReportOpts) => {
      if (opts.sim) {
        process.stderr.write('irqlab report: --sim needs the simulator (irqlab sim)\n');
        process.exitCode = EXIT.usage;
        return;
      }
      if (opts.all && args.length > 0) throw new UserError('give either scenarios or --all, not both');
      const targets = opts.all
        ? builtinNames()
            .map((n) => loadScenario(n))
            .filter((l) => isConcurrent(l.scenario))
        : args.map((a) => loadScenario(a));
      if (targets.length === 0)
        throw new UserError('report needs scenarios (files or built-in names) or --all');
      for (const t of targets)
        if (!isConcurrent(t.scenario))
          throw new UserError(
            `${t.scenario.name}: has no actors to interleave (irqlab run executes its steps instead)`,
          );
      const simResults = opts.simResults !== undefined ? readSimResults(opts.simResults) : undefined;
      const command = `irqlab report ${process.argv.slice(3).join(' ')}`.trim();
      const bytes = writeReport(targets, opts.out, {
        command,
        maxStates: positiveInt('--max-states', opts.maxStates),
        maxTimeMs: positiveInt('--max-time', opts.maxTime) * 1000,
        simResults,
      });
      process.stdout.write(`${resolve(opts.out)} (${(bytes / 1024).toFixed(0)} KiB)\n`);
    });
}
