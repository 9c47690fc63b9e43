/**
 * The report's data (data.ts) from a run of checks: one summary row per check, each counterexample
 * replayed with its per-step state, and for each seed (a scenario with `before` and `after` presets
 * whose `before` is violated) the counterexample beside the same schedule on `after`.
 */
import {
  type CheckOptions,
  type CheckResult,
  checkScenario,
  modelFor,
  presetsOf,
  resolveVariant,
} from '../check/session.ts';
import { describeVariant } from '../model/kvm/variants.ts';
import { PROP_INFO } from '../model/system/properties.ts';
import type { LoadedScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import type { SimSuite } from '../sim/result.ts';
import type { TraceFile } from '../trace/file.ts';
import {
  type BeforeAfter,
  type CheckRow,
  REPORT_FORMAT_VERSION,
  type ReportData,
  type TraceView,
} from './data.ts';
import { followSchedule } from './same-schedule.ts';
import { type TraceMeta, viewPath, viewSchedule } from './trace-view.ts';
import { knobInfo } from './variant-sources.ts';

export interface ReportOptions {
  command: string;
  version: string;
  check?: Omit<CheckOptions, 'properties' | 'memory'>;
  /** Called after each check (progress on stderr). */
  onCheck?: (r: CheckResult) => void;
  /** The simulator's results (`irqlab sim --json`), drawn as plots when given. */
  simResults?: SimSuite;
}

const WHAT = Object.fromEntries(Object.values(PROP_INFO).map((i) => [i.name, i.meaning]));

/** Named actor → its vCPU, as the scenario declares it (the lane the actor shares). */
export function actorVcpus(sc: Scenario): Record<string, number> {
  return Object.fromEntries(
    (sc.actors ?? []).filter((a) => a.vcpu !== undefined).map((a) => [a.name, a.vcpu!]),
  );
}

export function buildReport(targets: readonly LoadedScenario[], o: ReportOptions): ReportData {
  const checks: CheckRow[] = [];
  const traces: TraceView[] = [];
  const pairs: BeforeAfter[] = [];
  for (const { scenario: sc } of targets) {
    const results = new Map<string, CheckResult>();
    for (const preset of presetsOf(sc)) {
      const r = checkScenario(sc, resolveVariant(sc, preset), o.check ?? {});
      o.onCheck?.(r);
      results.set(preset, r);
      const row: CheckRow = {
        scenario: sc.name,
        variant: preset,
        knobs: knobInfo(r.variant.variant),
        memory: r.memory,
        verdict: r.verdict,
        states: r.distinct,
        depth: r.depth,
        timeMs: r.timeMs,
      };
      if (r.property !== undefined) row.property = r.property;
      if (r.kind !== undefined) row.kind = r.kind;
      if (r.reason !== undefined) row.reason = r.reason;
      if (r.counterexample !== undefined) {
        const id = `${sc.name}/${preset}`;
        const model = modelFor(sc, r.variant.variant, { properties: r.properties, memory: r.memory });
        traces.push(viewPath(model, r.counterexample.path, { ...metaOf(sc, r), id }));
        row.trace = id;
      }
      checks.push(row);
    }
    const before = results.get('before');
    const after = results.get('after');
    if (before?.counterexample !== undefined && after !== undefined)
      pairs.push(beforeAfter(sc, before, after, traces));
  }
  const data: ReportData = {
    kind: 'irqlab-report',
    formatVersion: REPORT_FORMAT_VERSION,
    command: o.command,
    generated: new Date().toISOString(),
    version: o.version,
    checks,
    traces,
    pairs,
  };
  if (o.simResults !== undefined) data.sim = o.simResults;
  return data;
}

function metaOf(sc: Scenario, r: CheckResult): Omit<TraceMeta, 'id'> {
  const knobs = describeVariant(r.variant.variant);
  const m: Omit<TraceMeta, 'id'> = {
    title: `${sc.name} · ${r.variant.name} [${knobs}]`,
    scenario: sc.name,
    variant: r.variant.name,
    knobs,
    actorVcpus: actorVcpus(sc),
  };
  if (r.property !== undefined) {
    m.property = r.property;
    m.kind = r.kind;
    m.what = WHAT[r.property];
  }
  if (r.counterexample?.loopStart !== undefined) m.loopStart = r.counterexample.loopStart;
  return m;
}

function verdictText(r: CheckResult): string {
  if (r.verdict === 'holds') return `holds over every interleaving (${r.distinct} states)`;
  if (r.verdict === 'violated') return `violated: ${r.property} (${r.kind})`;
  return `incomplete: ${r.reason} bound hit`;
}

/** The `before` counterexample's schedule followed on `after` (same-schedule.ts), with the states. */
function beforeAfter(
  sc: Scenario,
  before: CheckResult,
  after: CheckResult,
  traces: TraceView[],
): BeforeAfter {
  const entries = before.counterexample!.entries;
  const model = modelFor(sc, after.variant.variant, { properties: after.properties, memory: after.memory });
  const follower = followSchedule(model, entries);
  const id = `${sc.name}/after (the before schedule)`;
  const knobs = describeVariant(after.variant.variant);
  const { view, violation } = viewSchedule(model, follower, entries.length * 4 + 64, {
    id,
    title: `${sc.name} · after [${knobs}]: the schedule of before's counterexample`,
    scenario: sc.name,
    variant: after.variant.name,
    knobs,
    actorVcpus: actorVcpus(sc),
  });
  const parts: string[] = [];
  parts.push(
    `${follower.taken} of ${entries.length} recorded steps taken` +
      (follower.added > 0 ? `, ${follower.added} step(s) of the fixed code added` : '') +
      (follower.skipped.length > 0 ? `, skipped: ${follower.skipped.join('; ')}` : ''),
  );
  if (follower.stopped !== null) parts.push(`the schedule no longer applies: ${follower.stopped}`);
  if (violation !== 0) {
    const info = PROP_INFO[violation];
    parts.push(`violated along it: ${info.name}`);
    view.property = info.name;
    view.kind = info.kind;
    view.what = info.meaning;
  } else parts.push(`no property is violated along it (${before.property} held at every step)`);
  const pair: BeforeAfter = {
    scenario: sc.name,
    before: { variant: before.variant.name, trace: `${sc.name}/${before.variant.name}` },
    after: { variant: after.variant.name, verdict: verdictText(after), outcome: parts.join('; ') },
  };
  if (view.entries.length > 0) {
    traces.push(view);
    pair.after.trace = id;
  }
  return pair;
}

/** The data of `irqlab view`: one trace file, replayed (its verdict checked by the caller). */
export function viewReport(
  t: TraceFile,
  sc: Scenario,
  model: ReturnType<typeof modelFor>,
  o: { command: string; version: string; file: string; knobs: string },
): ReportData {
  const meta: TraceMeta = {
    id: o.file,
    title: `${t.scenario} [${o.knobs}] · ${o.file}`,
    scenario: t.scenario,
    variant: o.file,
    knobs: o.knobs,
    property: t.claim.property,
    kind: t.claim.kind,
    what: WHAT[t.claim.property],
    actorVcpus: actorVcpus(sc),
  };
  if (t.loopStart !== undefined) meta.loopStart = t.loopStart;
  return {
    kind: 'irqlab-report',
    formatVersion: REPORT_FORMAT_VERSION,
    command: o.command,
    generated: new Date().toISOString(),
    version: o.version,
    checks: [],
    traces: [
      viewPath(
        model,
        t.steps.map((s) => s.action),
        meta,
      ),
    ],
    pairs: [],
  };
}
