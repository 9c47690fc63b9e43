import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  buildModel,
  type HarvestCosts,
  harvestCosts,
  type PostingPathCost,
  postingPathCosts,
} from '../check/build.ts';
import { replay } from '../check/counterexample.ts';
import type { Progress } from '../check/explorer.ts';
import { type IrqWindowCost, irqWindowCost } from '../check/irq-window-cost.ts';
import { lassoViolation } from '../check/liveness.ts';
import { exploreReduced, type ReductionReport } from '../check/reduced.ts';
import { REDUCTIONS, type ReductionName } from '../check/reduction.ts';
import { UserError } from '../errors.ts';
import { MEMORY_MODELS, type MemoryModel } from '../model/kvm/program.ts';
import {
  DEFAULT_VARIANT,
  describeVariant,
  parseKnobList,
  type Variant,
  withKnobs,
} from '../model/kvm/variants.ts';
import { PROP_INFO } from '../model/system/system.ts';
import type { TraceEntry } from '../run/runner.ts';
import { PROPERTIES, type Scenario } from '../scenarios/schema.ts';
import { traceToSvg } from '../trace/svg.ts';
import { renderEntries } from '../trace/text.ts';
import { EXIT } from './exit.ts';
import { builtinNames, loadScenario } from './files.ts';
import { paintFor } from './paint.ts';
import { VERSION } from './run.ts';
import { writeSvg } from './svg-file.ts';

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
}

interface NamedVariant {
  name: string;
  variant: Variant;
}

/** A preset name of the scenario, "current", or a knob list "k=v,k=v". */
function resolveVariant(sc: Scenario, spec: string): NamedVariant {
  if (spec === 'current') return { name: 'current', variant: DEFAULT_VARIANT };
  const preset = sc.presets?.[spec];
  if (preset)
    return { name: spec, variant: withKnobs(DEFAULT_VARIANT, preset, `${sc.name}: preset ${spec}`) };
  if (spec.trim() === '')
    throw new UserError(
      '--variant: empty value (give a preset of the scenario, "current", or knob=value pairs)',
    );
  if (spec.includes('='))
    return { name: spec, variant: withKnobs(DEFAULT_VARIANT, parseKnobList(spec, '--variant'), '--variant') };
  const names = ['current', ...Object.keys(sc.presets ?? {})];
  throw new UserError(
    `--variant: ${sc.name} has no preset "${spec}" (presets: ${names.join(', ')}; or give knob=value pairs)`,
  );
}

function variantsFor(sc: Scenario, opts: CheckOpts): NamedVariant[] {
  if (opts.variant !== undefined) return [resolveVariant(sc, opts.variant)];
  const presets = Object.keys(sc.presets ?? {});
  if ((opts.allVariants || opts.all) && presets.length > 0) return presets.map((p) => resolveVariant(sc, p));
  return [{ name: 'current', variant: DEFAULT_VARIANT }];
}

/** --memory sc|tso (or a trace's memory), checked; undefined when not given. */
function memoryOf(m: string | undefined, where = '--memory'): MemoryModel | undefined {
  if (m === undefined) return undefined;
  if (!(MEMORY_MODELS as readonly string[]).includes(m))
    throw new UserError(`${where}: expected ${MEMORY_MODELS.join(' or ')}, got "${m}"`);
  return m as MemoryModel;
}

/** --properties a,b narrows the scenario's properties (default: the scenario's, or all). */
function propertiesOf(sc: Scenario, opts: CheckOpts): readonly string[] | undefined {
  if (!opts.properties) return undefined;
  const names = opts.properties.split(',');
  for (const n of names) {
    if (!(PROPERTIES as readonly string[]).includes(n)) {
      throw new UserError(`--properties: unknown property "${n}" (properties: ${PROPERTIES.join(', ')})`);
    }
  }
  void sc;
  return names;
}

function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag}: expected a positive integer, got "${s}"`);
  return n;
}

export interface CheckRow {
  scenario: string;
  variant: string;
  knobs: string;
  verdict: 'holds' | 'violated' | 'incomplete';
  property?: string;
  kind?: 'invariant' | 'liveness';
  reason?: string;
  generated: number;
  distinct: number;
  depth: number;
  timeMs: number;
  collisionProbability: number;
  /** With loopStart: a lasso, whose steps loopStart+1.. repeat forever (a fair-cycle violation). */
  counterexample?: { path: number[]; steps: TraceEntry[]; loopStart?: number };
  /** Per guest ICR write: steps and full barriers from the VM exit to setting the PIR bit. */
  postingPath?: PostingPathCost[];
  /**
   * For a scenario that opens SVM IRQ windows: apicv_update_lock write acquisitions per window,
   * least and most over every end state (seed 002).
   */
  irqWindowLocks?: IrqWindowCost;
  /** PIR loads and xchgs per harvest in this variant (scenarios about harvesting; seed 000). */
  harvest?: HarvestCosts;
  fullVariant: Variant;
  /** The properties this check looked at (recorded in traces so replay checks the same ones). */
  properties: readonly string[];
  /** The memory model explored (recorded in traces so replay uses the same one). */
  memory: MemoryModel;
  /** The partial-order reduction that was active, and the state counts of each search. */
  reduction?: ReductionReport;
}

let interrupted = false;

function progressPrinter(label: string): (p: Progress) => void {
  const tty = Boolean(process.stderr.isTTY);
  return (p) => {
    const secs = Math.floor(p.elapsedMs / 1000);
    const rate = Math.round(p.states / Math.max(0.001, p.elapsedMs / 1000));
    const line = `${label}: depth ${p.depth} · ${p.distinct} distinct · ${p.states} generated (${rate}/s) · queue ${p.queue} · ${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
  };
}

export function checkOne(sc: Scenario, nv: NamedVariant, opts: CheckOpts): CheckRow {
  if (!sc.actors || sc.actors.length === 0) {
    throw new UserError(`${sc.name}: has no actors to interleave (irqlab run executes its steps instead)`);
  }
  const strategy = opts.strategy === 'dfs' ? 'dfs' : opts.strategy === 'bfs' ? 'bfs' : null;
  if (!strategy) throw new UserError(`--strategy: expected bfs or dfs, got "${opts.strategy}"`);
  const properties = propertiesOf(sc, opts) ?? sc.properties ?? PROPERTIES;
  const memory = memoryOf(opts.memory) ?? sc.memory ?? 'sc';
  const model = buildModel(sc, nv.variant, properties, memory);
  const label = `${sc.name} · ${nv.name}`;
  const reduce = reductionOf(opts.reduce);
  const res = exploreReduced(model, sc, reduce, {
    strategy,
    bounds: {
      maxStates: positiveInt('--max-states', opts.maxStates),
      maxDepth: positiveInt('--max-depth', opts.maxDepth),
      maxTimeMs: positiveInt('--max-time', opts.maxTime) * 1000,
    },
    now: () => performance.now(),
    onProgress: opts.json ? undefined : progressPrinter(label),
    progressEveryMs: process.stderr.isTTY ? 1000 : 10_000,
    shouldStop: () => interrupted,
  });
  if (res.elapsedMs > 1000 && process.stderr.isTTY && !opts.json) process.stderr.write('\n');
  const row: CheckRow = {
    scenario: sc.name,
    variant: nv.name,
    knobs: describeVariant(nv.variant),
    verdict: res.outcome.kind,
    generated: res.generated,
    distinct: res.distinct,
    depth: res.depth,
    timeMs: Math.round(res.elapsedMs),
    collisionProbability: res.collisionProbability,
    fullVariant: nv.variant,
    properties,
    memory,
    reduction: res.reduction,
  };
  if (res.outcome.kind === 'violated') {
    const info = PROP_INFO[res.outcome.code];
    row.property = info.name;
    row.kind = info.kind;
    const { path, loopStart } = res.outcome;
    row.counterexample = { path, steps: replay(model, path, loopStart).entries };
    if (loopStart !== undefined) row.counterexample.loopStart = loopStart;
  }
  if (res.outcome.kind === 'incomplete') row.reason = res.outcome.reason;
  const costs = postingPathCosts(sc, nv.variant);
  if (costs.length > 0) row.postingPath = costs;
  if (opensIrqWindows(sc) && res.outcome.kind !== 'incomplete') {
    const c = irqWindowCost(model, positiveInt('--max-states', opts.maxStates));
    if (c !== undefined) row.irqWindowLocks = c;
  }
  const harvest = harvestCosts(sc, nv.variant);
  if (harvest) row.harvest = harvest;
  return row;
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

function opensIrqWindows(sc: Scenario): boolean {
  return (sc.actors ?? []).some((a) => a.steps.some((st) => st.do === 'svm.irqWindow.open'));
}

/** "2" or "0-2", with at most two decimals. */
function range(r: { min: number; max: number }): string {
  const f = (x: number) => String(Math.round(x * 100) / 100);
  return r.min === r.max ? f(r.min) : `${f(r.min)}-${f(r.max)}`;
}

function exitCodeFor(rows: CheckRow[], all: boolean): number {
  if (rows.some((r) => r.verdict === 'incomplete'))
    return rows.some((r) => r.reason === 'interrupted') ? EXIT.interrupted : EXIT.incomplete;
  if (all) return EXIT.ok;
  if (rows.some((r) => r.kind === 'invariant')) return EXIT.invariant;
  if (rows.some((r) => r.kind === 'liveness')) return EXIT.liveness;
  return EXIT.ok;
}

function renderRow(r: CheckRow, paint: ReturnType<typeof paintFor>, withTrace: boolean): string {
  const out: string[] = [];
  const verdict =
    r.verdict === 'holds'
      ? paint.green('holds')
      : r.verdict === 'violated'
        ? paint.red(`violated: ${r.property} (${r.kind})`)
        : paint.red(`incomplete: ${r.reason} bound hit`);
  out.push(
    `${paint.bold(r.scenario)} · ${r.variant} [${r.knobs}]: ${verdict} · ${r.distinct} distinct states, ${r.generated} generated, depth ${r.depth}, ${(r.timeMs / 1000).toFixed(2)} s`,
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
    const { steps, loopStart } = r.counterexample;
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
  }
  return out.join('\n');
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
  Object.values(PROP_INFO).map((i) => [i.name, i.what]),
);

function jsonRow(r: CheckRow, file: string | undefined) {
  const { fullVariant, ...rest } = r;
  return {
    ...rest,
    trace: r.counterexample
      ? {
          kind: 'irqlab-trace',
          scenario: r.scenario,
          file,
          variant: fullVariant,
          properties: r.properties,
          memory: r.memory,
          path: r.counterexample.path,
          loopStart: r.counterexample.loopStart,
        }
      : undefined,
  };
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
    .option('--json', 'print one JSON document')
    .option('--svg <file>', 'draw the (first) counterexample as an SVG sequence diagram')
    .option('--properties <list>', `properties to check, separated by commas (${PROPERTIES.join(', ')})`)
    .option('--memory <model>', "sc or tso (x86 store buffers); default: the scenario's memory, else sc")
    .option(
      '--reduce <r>',
      'partial-order reduction: none, or ample (persistent sets; same verdicts and shortest traces, see docs/reductions.md)',
      'none',
    )
    .option('--strategy <s>', 'bfs (shortest counterexample) or dfs', 'bfs')
    .option('--max-states <n>', 'stop after this many distinct states', '2000000')
    .option('--max-depth <n>', 'do not explore deeper than this', '10000')
    .option('--max-time <seconds>', 'stop after this many seconds', '600')
    .action((arg: string | undefined, opts: CheckOpts) => {
      process.on('SIGINT', () => {
        interrupted = true;
      });
      const targets = opts.all
        ? builtinNames()
            .map((n) => loadScenario(n))
            .filter((l) => (l.scenario.actors?.length ?? 0) > 0)
        : arg !== undefined
          ? [loadScenario(arg)]
          : null;
      if (!targets) throw new UserError('check needs a scenario (a file or a built-in name) or --all');
      if (opts.all && arg !== undefined) throw new UserError('give either a scenario or --all, not both');
      if (opts.variant !== undefined && opts.allVariants)
        throw new UserError('give either --variant or --all-variants, not both');
      const rows: CheckRow[] = [];
      const files = new Map<string, string | undefined>();
      for (const t of targets) {
        files.set(t.scenario.name, t.builtin ? undefined : t.file);
        for (const nv of variantsFor(t.scenario, opts)) {
          rows.push(checkOne(t.scenario, nv, opts));
          if (interrupted) break;
        }
        if (interrupted) break;
      }
      if (opts.svg) {
        const r = rows.find((x) => x.counterexample);
        if (!r) throw new UserError('--svg: no counterexample to draw: every check held or was incomplete');
        const sc = targets.find((t) => t.scenario.name === r.scenario)!.scenario;
        const actorVcpus = Object.fromEntries(
          (sc.actors ?? []).filter((a) => a.vcpu !== undefined).map((a) => [a.name, a.vcpu!]),
        );
        const info = Object.values(PROP_INFO).find((i) => i.name === r.property)!;
        writeSvg(
          opts.svg,
          traceToSvg(r.counterexample!.steps, {
            title: `${r.scenario} · ${r.variant} [${r.knobs}]`,
            violation: { property: info.name, what: info.what },
            actorVcpus,
            loopStart: r.counterexample!.loopStart,
          }),
        );
      }
      if (opts.json) {
        const doc = {
          schemaVersion: 1,
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
      process.exitCode = exitCodeFor(rows, Boolean(opts.all));
    });

  program
    .command('replay')
    .description('re-execute a counterexample trace file (from check --json) exactly, and print it')
    .argument('<trace>', 'a JSON file: a check --json document or one of its results[].trace')
    .action((file: string) => {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UserError(`${file}: cannot read a JSON trace: ${(e as Error).message.split('\n')[0]}`);
      }
      const d = doc as { results?: { trace?: unknown }[]; kind?: string };
      const trace = (d.kind === 'irqlab-trace' ? d : d.results?.find((r) => r.trace)?.trace) as
        | {
            scenario: string;
            file?: string;
            variant: Record<string, string>;
            properties?: string[];
            memory?: string;
            path: number[];
            loopStart?: number;
          }
        | undefined;
      if (!trace || !Array.isArray(trace.path) || typeof trace.scenario !== 'string') {
        throw new UserError(
          `${file}: no irqlab trace in it (expected kind "irqlab-trace" with scenario, variant and path)`,
        );
      }
      const { scenario } = loadScenario(trace.file ?? trace.scenario);
      const variant = withKnobs(DEFAULT_VARIANT, trace.variant ?? {}, `${file}: variant`);
      for (const p of trace.properties ?? []) {
        if (!(PROPERTIES as readonly string[]).includes(p))
          throw new UserError(`${file}: unknown property "${p}" in the trace`);
      }
      const { loopStart } = trace;
      if (loopStart !== undefined && typeof loopStart !== 'number')
        throw new UserError(`${file}: loopStart must be a step index, got ${JSON.stringify(loopStart)}`);
      const model = buildModel(
        scenario,
        variant,
        trace.properties,
        memoryOf(trace.memory, `${file}: memory`),
      );
      const r = replay(model, trace.path, loopStart);
      const paint = paintFor(process.stdout, false);
      process.stdout.write(
        `${paint.bold(scenario.name)} [${describeVariant(variant)}]: replayed ${r.entries.length} steps\n`,
      );
      process.stdout.write(`${renderLasso(r.entries, paint, loopStart)}\n`);
      // A lasso's verdict is about the loop as a whole (replay checked that it closes).
      const code =
        r.stepViolation ||
        model.invariant(r.final) ||
        (loopStart === undefined
          ? terminalCode(model, r.final)
          : lassoViolation(model, trace.path, loopStart));
      if (code) {
        process.stdout.write(`${paint.red('×')} ${PROP_INFO[code].name}: ${PROP_INFO[code].what}\n`);
        process.exitCode = PROP_INFO[code].kind === 'invariant' ? EXIT.invariant : EXIT.liveness;
      } else if (loopStart !== undefined) {
        process.stdout.write(
          'the loop closes, but it is not a fair cycle that leaves an obligation unmet in this model\n',
        );
      } else {
        process.stdout.write('no property is violated at the end of this trace\n');
      }
    });
}

function terminalCode(model: ReturnType<typeof buildModel>, s: Uint32Array): number {
  const acts = new Int32Array(model.maxActions);
  return model.enabled(s, acts) === 0 ? model.terminal(s) : 0;
}
