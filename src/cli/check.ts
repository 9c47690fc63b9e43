import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { SearchOptions } from '../check/background.ts';
import { type BackgroundCheck, runCheck, type SearchProgress } from '../check/background.ts';
import type { LockEdge } from '../check/lock-order.ts';
import { MAX_WORKERS } from '../check/parallel.ts';
import type { ReductionReport } from '../check/reduced.ts';
import { REDUCTIONS, type ReductionName } from '../check/reduction.ts';
import {
  type CheckResult,
  combinedVerdict,
  isConcurrent,
  presetsOf,
  resolveVariant,
  type SimulateResult,
  simulateScenario,
  traceFileOf,
  variantsOf,
} from '../check/session.ts';
import { UserError } from '../errors.ts';
import { MEMORY_MODELS, type MemoryModel } from '../model/kvm/program.ts';
import { DEFAULT_VARIANT, describeVariant, withKnobs } from '../model/kvm/variants.ts';
import { PROP_INFO } from '../model/system/properties.ts';
import { builtinNames, loadScenario } from '../scenarios/files.ts';
import manifest from '../scenarios/manifest.json' with { type: 'json' };
import { PROPERTIES, type Scenario } from '../scenarios/schema.ts';
import type { TraceEntry } from '../trace/record.ts';
import { traceToSvg } from '../trace/svg.ts';
import { renderEntries } from '../trace/text.ts';
import { EXIT } from './exit.ts';
import { paintFor } from './paint.ts';
import { VERSION } from './run.ts';
import { writeSvg } from './svg-file.ts';
import { reproducedTrace } from './trace-input.ts';

interface CheckOpts {
  variant?: string;
  allVariants?: boolean;
  all?: boolean;
  json?: boolean;
  strategy: string;
  maxStates: string;
  maxDepth: string;
  maxTime: string;
  properties?: string;
  svg?: string;
  memory?: string;
  reduce?: string;
  againstManifest?: boolean;
  simulate?: boolean;
  seed?: string;
  runs: string;
  depth: string;
  progress?: boolean;
  workers?: string;
}

/** --memory sc|tso, checked; undefined when not given. */
function memoryOf(m: string | undefined, where = '--memory'): MemoryModel | undefined {
  if (m === undefined) return undefined;
  if (!(MEMORY_MODELS as readonly string[]).includes(m))
    throw new UserError(`${where}: expected ${MEMORY_MODELS.join(' or ')}, got "${m}"`);
  return m as MemoryModel;
}

/** --properties a,b narrows the scenario's properties (default: the scenario's, or all). */
function propertiesOf(opts: CheckOpts): readonly string[] | undefined {
  if (opts.properties === undefined) return undefined;
  const names = opts.properties.split(',');
  for (const n of names) {
    if (!(PROPERTIES as readonly string[]).includes(n)) {
      throw new UserError(`--properties: unknown property "${n}" (properties: ${PROPERTIES.join(', ')})`);
    }
  }
  return names;
}

function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag}: expected a positive integer, got "${s}"`);
  return n;
}

let interrupted = false;
/** The check running in its thread, which Ctrl-C stops. */
let running: BackgroundCheck | undefined;

/** Seconds between two progress lines. */
const PROGRESS_EVERY_MS = 2000;

/**
 * One progress line on stderr (docs/cli.md): states generated, distinct, queue, depth, rate since
 * the start, the process's resident memory, elapsed time.
 */
function progressPrinter(label: string): (p: SearchProgress) => void {
  return (p) => {
    const secs = Math.floor(p.elapsedMs / 1000);
    const rate = Math.round(p.states / Math.max(0.001, p.elapsedMs / 1000));
    const mib = Math.round(p.rssBytes / 2 ** 20);
    const time = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
    process.stderr.write(
      `${label}: ${p.states} states, ${p.distinct} distinct, queue ${p.queue}, depth ${p.depth}, ${rate} states/s, ${mib} MiB, ${time}\n`,
    );
  };
}

/** Progress goes to stderr when it is a terminal, or always with --progress; --json too. */
function showsProgress(opts: CheckOpts): boolean {
  return opts.progress === true || Boolean(process.stderr.isTTY);
}

function checkOptions(opts: CheckOpts): SearchOptions {
  const strategy = opts.strategy === 'dfs' ? 'dfs' : opts.strategy === 'bfs' ? 'bfs' : null;
  if (!strategy) throw new UserError(`--strategy: expected bfs or dfs, got "${opts.strategy}"`);
  return {
    strategy,
    bounds: {
      maxStates: positiveInt('--max-states', opts.maxStates),
      maxDepth: positiveInt('--max-depth', opts.maxDepth),
      maxTimeMs: positiveInt('--max-time', opts.maxTime) * 1000,
    },
    properties: propertiesOf(opts),
    memory: memoryOf(opts.memory),
    reduce: reductionOf(opts.reduce),
    progressEveryMs: PROGRESS_EVERY_MS,
    workers: workersOf(opts, strategy),
  };
}

/**
 * --workers, by default every core: a search starts its helper threads only once a level is wide
 * enough to share (parallel.ts SPAWN_WIDTH), so a small one runs on one thread whatever this says.
 * The parallel search is breadth-first, reduced or not; asked for explicitly with dfs, it is an
 * error rather than a silent single thread.
 */
function workersOf(opts: CheckOpts, strategy: 'bfs' | 'dfs'): number {
  if (opts.workers === undefined) return Math.min(MAX_WORKERS, availableParallelism());
  const n = positiveInt('--workers', opts.workers);
  if (n > MAX_WORKERS) throw new UserError(`--workers: at most ${MAX_WORKERS}, got ${n}`);
  if (n > 1 && strategy === 'dfs')
    throw new UserError(
      '--workers: the search on several threads is breadth-first; give --workers 1 with --strategy dfs',
    );
  return n;
}

function reductionOf(r: string | undefined): ReductionName {
  const name = r ?? 'none';
  if (!(REDUCTIONS as readonly string[]).includes(name))
    throw new UserError(`--reduce: expected ${REDUCTIONS.join(' or ')}, got "${name}"`);
  return name as ReductionName;
}

/** The reduction line of a row: what was active and the state counts of each search. */
function reductionText(x: ReductionReport): string {
  if (x.name === 'none' || x.reduced === undefined) return 'reduction: none';
  const r = x.reduced;
  const head = `reduction: ample sets (persistent, one thread step; BFS cycle proviso) · reduced search ${r.distinct} distinct, ${r.generated} generated, ${r.ampleStates} states expanded through one step`;
  if (x.rerun === undefined) return head;
  const why =
    x.rerun.reason === 'liveness'
      ? 'fair cycles need the full graph'
      : `shortest trace, depth ≤ ${x.rerun.maxDepth}`;
  return `${head} · then unreduced (${why}): ${x.rerun.distinct} distinct, ${x.rerun.generated} generated`;
}

/** "2" or "0-2", with at most two decimals. */
function range(r: { min: number; max: number }): string {
  const f = (x: number) => String(Math.round(x * 100) / 100);
  return r.min === r.max ? f(r.min) : `${f(r.min)}-${f(r.max)}`;
}

/**
 * The exit code of one command's checks (docs/cli.md): a violation over an incomplete check over
 * holds (combinedVerdict). `--all` is a survey whose violations are findings: it exits 0 when every
 * check completed, and with --against-manifest 1 when a verdict differs from the manifest.
 */
function exitCodeFor(rows: readonly CheckResult[], all: boolean): number {
  const v = combinedVerdict(rows);
  if (v.verdict === 'incomplete') return v.reason === 'interrupted' ? EXIT.interrupted : EXIT.incomplete;
  if (all || v.verdict === 'holds') return EXIT.ok;
  return v.kind === 'invariant' ? EXIT.invariant : EXIT.liveness;
}

function renderRow(r: CheckResult, paint: ReturnType<typeof paintFor>, withTrace: boolean): string {
  const out: string[] = [];
  const verdict =
    r.verdict === 'holds'
      ? paint.green('holds')
      : r.verdict === 'violated'
        ? paint.red(`violated: ${r.property} (${r.kind})`)
        : r.reason === 'interrupted'
          ? paint.red('incomplete: interrupted')
          : paint.red(`incomplete: ${r.reason} bound hit`);
  out.push(
    `${paint.bold(r.scenario)} · ${r.variant.name} [${describeVariant(r.variant.variant)}]: ${verdict} · ${r.distinct} distinct states, ${r.generated} generated, depth ${r.depth}, ${(r.timeMs / 1000).toFixed(2)} s${(r.threads ?? 1) > 1 ? ` on ${r.threads} threads` : ''}`,
  );
  if (r.reduction !== undefined && r.reduction.name !== 'none')
    out.push(paint.dim(`  ${reductionText(r.reduction)}`));
  for (const c of r.postingPath ?? []) {
    out.push(
      paint.dim(
        `  ${c.actor}: guest ICR write → posted after ${c.steps} step${c.steps === 1 ? '' : 's'} and ${c.barriers} full barrier${c.barriers === 1 ? '' : 's'}`,
      ),
    );
  }
  const wl = r.irqWindowLocks;
  if (wl !== undefined) {
    out.push(
      paint.dim(
        `  IRQ windows: ${range(wl.windows)} opened, ${range(wl.writeLocks)} apicv_update_lock write acquisitions for them, ${range(wl.perWindow)} per window (over ${wl.endStates} end state${wl.endStates === 1 ? '' : 's'})`,
      ),
    );
  }
  if (r.gaLog !== undefined) {
    const g = r.gaLog;
    out.push(
      paint.dim(
        `  GA log: ${range(g.entries)} entries handed to KVM (GA-log interrupt work, kvm_vcpu_wake_up) over ${g.endStates} end state${g.endStates === 1 ? '' : 's'}`,
      ),
    );
  }
  if (r.harvest) {
    const h = r.harvest;
    const cost = (c: { loads: number; xchgs: number }) => `${c.loads} loads + ${c.xchgs} xchg`;
    const start = h.start.map((c) => `, vcpu${c.vcpu}'s start PIR ${cost(c)}`).join('');
    out.push(
      paint.dim(
        `  PIR harvest (${h.shape}): worst case (a vector in each 32-bit chunk) ${cost(h.worst)}${start}`,
      ),
    );
  }
  if (withTrace && r.counterexample) {
    const { entries: steps, loopStart } = r.counterexample;
    out.push(
      loopStart === undefined
        ? `  counterexample, ${steps.length} steps (shortest with BFS):`
        : `  counterexample, ${steps.length} steps, the last ${steps.length - loopStart} of them a fair cycle:`,
    );
    out.push(
      renderLasso(steps, paint, loopStart)
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    out.push(`    ${paint.red('×')} ${r.property}: ${PROP_INFO_BY_NAME[r.property!]}`);
    if (r.lockCycle !== undefined) out.push(...lockCycleLines(r.lockCycle));
  }
  return out.join('\n');
}

/** A lock-order cycle as lockdep's "Chain exists of" line, then one line per edge. */
function lockCycleLines(c: LockEdge[]): string[] {
  const chain = [...c.map((e) => e.held), c[0]?.held].join(' → ');
  return [
    `    lock-order cycle: ${chain}`,
    ...c.map(
      (e) =>
        `      ${e.held} → ${e.taken}: ${e.actor} took ${e.held} at step ${e.heldAt} and ${e.taken} at step ${e.takenAt} (${e.fn})`,
    ),
  ];
}

/**
 * The trace as renderEntries prints it, with a marker line before the step where a lasso's loop
 * starts. Steps are numbered from 1, so the loop is steps loopStart+1..n.
 */
export function renderLasso(
  steps: TraceEntry[],
  paint: ReturnType<typeof paintFor>,
  loopStart?: number,
): string {
  const text = renderEntries(steps, paint);
  if (loopStart === undefined) return text;
  const lines = text.split('\n');
  // How many lines the steps before the loop take (wrapping does not depend on the number width).
  const before = loopStart === 0 ? 0 : renderEntries(steps.slice(0, loopStart)).split('\n').length;
  const marker = paint.dim(`── loop: steps ${loopStart + 1}..${steps.length} repeat forever ──`);
  lines.splice(before, 0, marker);
  return lines.join('\n');
}

const PROP_INFO_BY_NAME: Record<string, string> = Object.fromEntries(
  Object.values(PROP_INFO).map((i) => [i.name, i.meaning]),
);

function jsonRow(r: CheckResult, file: string | undefined) {
  const { variant, counterexample, ...rest } = r;
  return {
    ...rest,
    variant: variant.name,
    knobs: describeVariant(variant.variant),
    counterexample: counterexample && {
      ...counterexample,
      steps: counterexample.entries,
      entries: undefined,
    },
    trace: traceFileOf(r, file),
  };
}

/** Draws the first counterexample; says on stderr when there is none or the file cannot be written. */
function drawFirst(rows: readonly CheckResult[], file: string): void {
  const r = rows.find((x) => x.counterexample);
  if (!r) {
    process.stderr.write(`irqlab: --svg ${file}: nothing to draw: no check found a counterexample\n`);
    return;
  }
  const info = Object.values(PROP_INFO).find((i) => i.name === r.property)!;
  try {
    writeSvg(
      file,
      traceToSvg(r.counterexample!.entries, {
        title: `${r.scenario} · ${r.variant.name} [${describeVariant(r.variant.variant)}]`,
        violation: { property: info.name, what: info.meaning },
        loopStart: r.counterexample!.loopStart,
      }),
    );
  } catch (e) {
    process.stderr.write(`irqlab: ${(e as Error).message}\n`);
  }
}

interface ManifestRow {
  name: string;
  presets: { preset: string; verdict: string; property?: string }[];
}

/** The checks whose verdict or property differs from src/scenarios/manifest.json. */
function manifestDiffs(rows: readonly CheckResult[]): string[] {
  const m = manifest as { scenarios: ManifestRow[] };
  const out: string[] = [];
  for (const r of rows) {
    const want = m.scenarios
      .find((s) => s.name === r.scenario)
      ?.presets.find((p) => p.preset === r.variant.name);
    const got = r.property ? `${r.verdict} ${r.property}` : r.verdict;
    if (want === undefined) out.push(`${r.scenario} · ${r.variant.name}: ${got}, not in the manifest`);
    else {
      const expected = want.property ? `${want.verdict} ${want.property}` : want.verdict;
      if (expected !== got)
        out.push(`${r.scenario} · ${r.variant.name}: ${got}, the manifest says ${expected}`);
    }
  }
  return out;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'explore every interleaving of a scenario and prove its properties or print the shortest counterexample',
    )
    .argument('[scenario]', 'a scenario file or the name of a built-in scenario')
    .option(
      '--variant <name>',
      'a preset of the scenario, "current", or knob=value pairs separated by commas',
    )
    .option('--all-variants', 'check every preset of the scenario')
    .option('--all', 'check every built-in scenario with actors, in every preset, and print a table')
    .option(
      '--against-manifest',
      'with --all: exit 1 when a verdict differs from src/scenarios/manifest.json',
    )
    .option('--json', 'print one JSON document')
    .option('--svg <file>', 'draw the (first) counterexample as an SVG sequence diagram')
    .option('--properties <list>', `properties to check, separated by commas (${PROPERTIES.join(', ')})`)
    .option('--memory <model>', "sc or tso (x86 store buffers); default: the scenario's memory, else sc")
    .option(
      '--reduce <r>',
      'partial-order reduction: none, or ample (persistent sets; same verdicts and shortest traces, see docs/reductions.md)',
      'none',
    )
    .option(
      '--workers <n>',
      'threads for the search (default: every core; helpers start only at a level of 4096 states or more); the same answer for every n (breadth-first, reduced or not)',
    )
    .option('--strategy <s>', 'bfs (shortest counterexample) or dfs', 'bfs')
    .option('--max-states <n>', 'stop after this many distinct states', '2000000')
    .option('--max-depth <n>', 'do not explore deeper than this', '10000')
    .option('--max-time <seconds>', 'stop after this many seconds', '600')
    .option('--simulate', 'walk random interleavings instead of all of them (no proof: see docs/cli.md)')
    .option('--seed <n>', 'with --simulate: the seed of the first run (default: from the clock, and printed)')
    .option('--runs <n>', 'with --simulate: how many runs', '1000')
    .option('--depth <n>', 'with --simulate: steps per run at most', '1000')
    .option('--progress', 'print a progress line on stderr every 2 s even when stderr is not a terminal')
    .action(async (arg: string | undefined, opts: CheckOpts, cmd: Command) => {
      // The search runs in a thread of its own (src/check/background.ts): this one takes Ctrl-C.
      // A second Ctrl-C ends the process at once.
      process.on('SIGINT', () => {
        if (interrupted) process.exit(EXIT.interrupted);
        interrupted = true;
        running?.stop();
      });
      if (opts.all && arg !== undefined) throw new UserError('give either a scenario or --all, not both');
      if (opts.againstManifest && !opts.all) throw new UserError('--against-manifest goes with --all');
      if (opts.all && (opts.variant !== undefined || opts.allVariants))
        throw new UserError('--all checks every preset: give no --variant or --all-variants with it');
      const targets = opts.all
        ? builtinNames()
            .map((n) => loadScenario(n))
            .filter((l) => isConcurrent(l.scenario))
        : arg !== undefined
          ? [loadScenario(arg)]
          : null;
      if (!targets) throw new UserError('check needs a scenario (a file or a built-in name) or --all');
      refuseUnused(opts, cmd);
      if (opts.simulate) {
        simulateCommand(targets[0].scenario, opts, targets.length > 1);
        return;
      }
      const rows: CheckResult[] = [];
      const files = new Map<string, string | undefined>();
      for (const t of targets) {
        files.set(t.scenario.name, t.builtin ? undefined : t.file);
        const variants = opts.all
          ? presetsOf(t.scenario).map((p) => resolveVariant(t.scenario, p))
          : variantsOf(t.scenario, opts);
        for (const nv of variants) {
          const label = `${t.scenario.name} · ${nv.name}`;
          running = runCheck(
            t.scenario,
            nv,
            checkOptions(opts),
            showsProgress(opts) ? progressPrinter(label) : undefined,
            () => interrupted,
          );
          if (interrupted) running.stop();
          rows.push(await running.result);
          running = undefined;
          if (interrupted) break;
        }
        if (interrupted) break;
      }
      if (opts.json) {
        const doc = {
          schemaVersion: 2,
          tool: 'irqlab',
          version: VERSION,
          command: 'check',
          results: rows.map((r) => jsonRow(r, files.get(r.scenario))),
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        const paint = paintFor(process.stdout, false);
        const text = rows.map((r) => renderRow(r, paint, !opts.all)).join('\n');
        process.stdout.write(`${text}\n`);
        const total = rows.reduce((a, r) => a + r.distinct, 0);
        const p = rows.reduce((a, r) => a + r.collisionProbability, 0);
        process.stdout.write(
          paint.dim(
            `${rows.length} check(s), ${total} distinct states in all; fingerprint collision probability ≤ ${p.toExponential(1)}\n`,
          ),
        );
      }
      if (opts.svg) drawFirst(rows, opts.svg);
      process.exitCode = exitCodeFor(rows, Boolean(opts.all));
      if (opts.againstManifest && process.exitCode === EXIT.ok) {
        const diffs = manifestDiffs(rows);
        for (const d of diffs) process.stderr.write(`irqlab: ${d}\n`);
        if (diffs.length > 0) process.exitCode = EXIT.expectationFailed;
      }
    });

  program
    .command('replay')
    .description('re-execute a counterexample trace file (from check --json) and say whether it reproduces')
    .argument('<trace>', 'a JSON file: a check --json document or one of its results[].trace')
    .action((file: string) => {
      const { trace, scenario, replay: r } = reproducedTrace(file);
      const paint = paintFor(process.stdout, false);
      process.stdout.write(
        `${paint.bold(scenario.name)} [${describeVariant(withKnobs(DEFAULT_VARIANT, trace.variant, file))}]: replayed ${r.entries.length} of ${trace.steps.length} steps\n`,
      );
      process.stdout.write(`${renderLasso(r.entries, paint, trace.loopStart)}\n`);
      process.stdout.write(`${paint.red('×')} reproduced: ${r.property}: ${PROP_INFO_BY_NAME[r.property]}\n`);
      process.exitCode = r.kind === 'invariant' ? EXIT.invariant : EXIT.liveness;
    });
}

/** Options of the exhaustive search that random runs do not use, and the other way round. */
const SEARCH_ONLY = [
  ['workers', '--workers'],
  ['reduce', '--reduce'],
  ['strategy', '--strategy'],
  ['maxStates', '--max-states'],
  ['maxDepth', '--max-depth'],
  ['maxTime', '--max-time'],
] as const;
const SIMULATE_ONLY = [
  ['seed', '--seed'],
  ['runs', '--runs'],
  ['depth', '--depth'],
] as const;

/** An option given on the command line that the chosen mode would ignore is an error, not a no-op. */
function refuseUnused(opts: CheckOpts, cmd: Command): void {
  const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
  if (opts.simulate) {
    for (const [k, flag] of SEARCH_ONLY)
      if (given(k)) throw new UserError(`${flag}: not with --simulate (it sets the exhaustive search)`);
  } else {
    for (const [k, flag] of SIMULATE_ONLY) if (given(k)) throw new UserError(`${flag}: only with --simulate`);
  }
}

/** `check --simulate`: random runs of one scenario in each variant asked for. */
function simulateCommand(sc: Scenario, opts: CheckOpts, all: boolean): void {
  if (all) throw new UserError('--simulate checks one scenario: give its name, not --all');
  const seed = opts.seed === undefined ? Date.now() % 2 ** 31 : Number(opts.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31)
    throw new UserError(`--seed: expected an integer 0..2147483647, got "${opts.seed}"`);
  const runs = positiveInt('--runs', opts.runs);
  const depth = positiveInt('--depth', opts.depth);
  const paint = paintFor(process.stdout, Boolean(opts.json));
  const results = variantsOf(sc, opts).map((nv) =>
    simulateScenario(sc, nv, {
      seed,
      runs,
      depth,
      properties: propertiesOf(opts),
      memory: memoryOf(opts.memory),
      shouldStop: () => interrupted,
    }),
  );
  if (opts.json) {
    const doc = {
      schemaVersion: 2,
      tool: 'irqlab',
      version: VERSION,
      command: 'check --simulate',
      results: results.map((r) => {
        const { variant, violation, ...rest } = r;
        return {
          ...rest,
          variant: variant.name,
          knobs: describeVariant(variant.variant),
          violation: violation && { ...violation, steps: violation.entries, entries: undefined },
          trace: violation && traceFileOf(asCheckResult(r), undefined),
        };
      }),
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    for (const r of results) {
      const head = `${paint.bold(r.scenario)} · ${r.variant.name} [${describeVariant(r.variant.variant)}]: seed ${r.seed}, ${r.runs} run(s), ${r.steps} steps (${r.quiescent} ended quiescent, ${r.bounded} cut at depth ${depth}), ${(r.timeMs / 1000).toFixed(2)} s`;
      process.stdout.write(`${head}\n`);
      if (r.violation) {
        const v = r.violation;
        process.stdout.write(
          `  ${paint.red(`violated: ${v.property} (${v.kind})`)} in run ${v.run} (seed ${r.seed + v.run}), ${v.path.length} steps:\n`,
        );
        process.stdout.write(
          `${renderEntries(v.entries, paint)
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n')}\n`,
        );
        process.stdout.write(`    ${paint.red('×')} ${v.property}: ${PROP_INFO_BY_NAME[v.property]}\n`);
      } else if (r.interrupted) process.stdout.write(`  ${paint.red('incomplete: interrupted')}\n`);
      else process.stdout.write(`  ${paint.green('no violation found')} (random simulation: not a proof)\n`);
    }
  }
  const rows = results.map(asCheckResult);
  process.exitCode = exitCodeFor(rows, false);
}

/** A simulation result in the shape of a check's, for the exit code and the trace file. */
function asCheckResult(r: SimulateResult): CheckResult {
  const v = r.violation;
  return {
    scenario: r.scenario,
    variant: r.variant,
    verdict: v ? 'violated' : r.interrupted ? 'incomplete' : 'holds',
    property: v?.property,
    kind: v?.kind,
    reason: r.interrupted ? 'interrupted' : undefined,
    generated: r.steps,
    distinct: 0,
    depth: 0,
    timeMs: r.timeMs,
    collisionProbability: 0,
    counterexample: v && { path: v.path, entries: v.entries },
    properties: r.properties,
    memory: r.memory,
    reduction: { name: 'none' },
  };
}
