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
import { runSimJobInWorker } from './sim.ts';

interface ReportOpts {
  all?: boolean;
  sim?: boolean;
  simResults?: string;
  simReplications: string;
  simSeed: string;
  out: string;
  maxStates: string;
  maxTime: string;
}

/**
 * Writes the report of `targets` to `out` and returns its size in bytes.
 *
 * `simResults` is what the simulator computes (`irqlab sim --all --json`, src/sim/result.ts):
 * `--sim` runs it, `--sim-results <file>` reads a suite or a result the simulator wrote.
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
    .option('--sim', 'also run the built-in simulations (irqlab sim --all) and plot them')
    .option('--sim-replications <n>', 'replications per variant with --sim', '10')
    .option('--sim-seed <s>', 'the seed of the simulations with --sim', '1')
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
    .action(async (args: string[], opts: ReportOpts) => {
      if (opts.sim && opts.simResults !== undefined)
        throw new UserError('give either --sim or --sim-results, not both');
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
      // --sim: the built-in simulations, as `irqlab sim --all --json` runs them (in a worker, so
      // that Ctrl-C is heard).
      let simResults = opts.simResults !== undefined ? readSimResults(opts.simResults) : undefined;
      if (opts.sim) {
        const run = await runSimJobInWorker(
          [],
          { all: true, json: true, replications: opts.simReplications, seed: opts.simSeed },
          process.stderr.isTTY === true,
        );
        if (run.interrupted) {
          process.stderr.write('irqlab: report: interrupted during the simulations; no report written\n');
          process.exitCode = EXIT.interrupted;
          return;
        }
        simResults = JSON.parse(run.stdout) as SimSuite;
      }
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
