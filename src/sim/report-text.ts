/**
 * A simulation's results as text: a table per experiment (every metric of every variant, and the
 * paired differences), the `--all` table of each seed's figures, and CSV.
 */

import type { Metric, SimResult } from './result.ts';
import type { Interval } from './stats.ts';
import type { SuiteRun } from './suite.ts';

/** A number to four significant digits, without exponent for everyday magnitudes. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'n/a' : String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e7 || a < 1e-3) return x.toExponential(3);
  return Number(x.toPrecision(4)).toString();
}

/** mean ± half-width (the 95% interval). */
export function ci(i: Interval): string {
  return Number.isNaN(i.halfWidth) ? num(i.mean) : `${num(i.mean)} ± ${num(i.halfWidth)}`;
}

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, j) => (j === r.length - 1 ? c : c.padEnd(w[j])))
      .join('  ')
      .trimEnd(),
  );
}

function header(r: SimResult): string[] {
  const ms = (ns: number) => `${num(ns / 1e6)} ms`;
  return [
    `${r.scenario}${r.point ? ` (${r.point})` : ''}${r.file ? ` [${r.file}]` : ''}`,
    `seed ${r.seed}, ${r.replications} replications of ${ms(r.durationNs)} after a ${ms(r.warmupNs)} warm-up; costs ${r.costs.name} (${r.costs.cpu}, ${r.costs.clockGHz} GHz); scenario ${r.scenarioHash.slice(0, 19)}`,
    '95% confidence intervals (Student t); differences are paired by replication (common random numbers)',
  ];
}

/** Every metric of every variant, and each difference from the first variant. */
export function formatResult(r: SimResult): string {
  const out = header(r);
  out.push('');
  const names = [...new Set(r.variants.flatMap((v) => v.metrics.map((m) => m.name)))];
  const diffTo = r.variants.slice(1).map((v) => v.name);
  const rows: string[][] = [
    [
      'metric',
      'unit',
      ...r.variants.map((v) => v.name),
      ...diffTo.map((t) => `${t} − ${r.variants[0].name}`),
    ],
  ];
  for (const n of names) {
    const unit = r.variants.flatMap((v) => v.metrics).find((m) => m.name === n)!.unit;
    const cell = (ms: Metric[]) => {
      const m = ms.find((x) => x.name === n);
      return m ? ci(m.ci) : '-';
    };
    const diffs = diffTo.map((t) => {
      const d = r.differences.find((x) => x.metric === n && x.to === t);
      return d ? ci(d.ci) : '-';
    });
    rows.push([n, unit, ...r.variants.map((v) => cell(v.metrics)), ...diffs]);
  }
  out.push(...table(rows));
  const reasons = [...new Set(r.variants.flatMap((v) => v.exitsByReason.map((m) => m.name)))];
  if (reasons.length > 0) {
    out.push('', 'VM exits by reason (1/s)');
    const er: string[][] = [['reason', ...r.variants.map((v) => v.name)]];
    for (const n of reasons)
      er.push([
        n,
        ...r.variants.map((v) => {
          const m = v.exitsByReason.find((x) => x.name === n);
          return m ? ci(m.ci) : '0';
        }),
      ]);
    out.push(...table(er).map((l) => `  ${l}`));
  }
  for (const v of r.variants) {
    const h = v.latency;
    if (h.count === 0) continue;
    out.push(
      '',
      `delivery latency, ${v.name}: ${h.count} deliveries, mean ${num(h.mean)} ns, p50 ${num(h.p50)} ns, p99 ${num(h.p99)} ns, max ${num(h.max)} ns`,
    );
    const peak = Math.max(...h.histogram.counts);
    h.histogram.counts.forEach((c, i) => {
      if (c === 0) return;
      const bar = '#'.repeat(Math.max(1, Math.round((40 * c) / peak)));
      out.push(
        `  [${num(h.histogram.edges[i]).padStart(9)}, ${num(h.histogram.edges[i + 1]).padStart(9)}) ns ${String(c).padStart(8)} ${bar}`,
      );
    });
  }
  return `${out.join('\n')}\n`;
}

/** The `--all` table: per seed, the metrics its entry names, each variant and the difference. */
export function formatSuiteTable(s: SuiteRun): string {
  const out: string[] = [];
  const first = s.rows[0]?.result;
  if (first)
    out.push(
      `irqlab sim --all: seed ${first.seed}, ${first.replications} replications per variant; costs ${first.costs.name} (${first.costs.clockGHz} GHz) unless a scenario's machine is AMD`,
      '95% confidence intervals (Student t); the difference is paired by replication (common random numbers)',
    );
  let last = '';
  for (const row of s.rows) {
    const e = row.entry;
    const r = row.result;
    const key = `${e.seed}/${e.scenario}`;
    if (key !== last) {
      out.push(
        '',
        `seed ${e.seed}  ${e.scenario}: ${e.what}${r.costs.name !== first?.costs.name ? ` (costs ${r.costs.name})` : ''}`,
      );
      last = key;
      const [a, b] = [r.variants[0]?.name ?? '', r.variants[1]?.name ?? ''];
      out.push(
        onePreset(e)
          ? `  ${[e.sweep!.what, 'metric', 'unit', 'variant', 'mean ± 95%'].join(' | ')}`
          : `  ${[e.sweep ? e.sweep.what : '', 'metric', 'unit', a, b, b ? `${b} − ${a}` : ''].join(' | ')}`,
      );
    }
    if (onePreset(e)) {
      // A sweep over a knob: each point is one preset, named in its own column.
      for (const name of e.metrics) {
        const m = r.variants[0]?.metrics.find((x) => x.name === name);
        out.push(
          `  ${[row.point ?? '', name, m?.unit ?? '', r.variants[0]?.name ?? '', m ? ci(m.ci) : '-'].join(' | ')}`,
        );
      }
      continue;
    }
    for (const name of e.metrics) {
      const m = (i: number) => r.variants[i]?.metrics.find((x) => x.name === name);
      const d = r.differences.find((x) => x.metric === name);
      const unit = m(0)?.unit ?? m(1)?.unit ?? '';
      out.push(
        `  ${[row.point ?? '', name, unit, m(0) ? ci(m(0)!.ci) : '-', m(1) ? ci(m(1)!.ci) : '-', d ? ci(d.ci) : '-'].join(' | ')}`,
      );
    }
  }
  return `${alignPipes(out).join('\n')}\n`;
}

/** Whether each point of the entry's sweep runs one preset of its own (a sweep over a knob). */
function onePreset(e: SuiteRun['rows'][number]['entry']): boolean {
  return e.sweep?.points.every((p) => p.presets?.length === 1) === true;
}

/** Aligns the ' | '-separated columns of consecutive table lines. */
function alignPipes(lines: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    if (!lines[i].includes(' | ')) {
      out.push(lines[i++]);
      continue;
    }
    const block: string[][] = [];
    while (i < lines.length && lines[i].includes(' | ')) block.push(lines[i++].slice(2).split(' | '));
    out.push(...table(block).map((l) => `  ${l}`));
  }
  return out;
}

function csvCell(s: string | number): string {
  const t = String(s);
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

export const CSV_HEADER = 'scenario,point,variant,metric,unit,mean,half_width,lo,hi,n';

/** One row per variant and metric (exits as exits.REASON), then one per paired difference. */
export function formatCsv(r: SimResult, withHeader = true): string {
  const rows: (string | number)[][] = [];
  const row = (variant: string, name: string, unit: string, i: Interval) =>
    rows.push([r.scenario, r.point ?? '', variant, name, unit, i.mean, i.halfWidth, i.lo, i.hi, i.n]);
  for (const v of r.variants) {
    for (const m of v.metrics) row(v.name, m.name, m.unit, m.ci);
    for (const m of v.exitsByReason) row(v.name, `exits.${m.name}`, m.unit, m.ci);
  }
  for (const d of r.differences) row(`${d.to} - ${d.from}`, d.metric, d.unit, d.ci);
  const body = rows.map((row) => row.map(csvCell).join(',')).join('\n');
  return `${withHeader ? `${CSV_HEADER}\n` : ''}${body}\n`;
}
