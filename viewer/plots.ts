/**
 * The simulator's results (src/sim/result.ts) as plots, drawn with Observable Plot
 * (docs/decisions/0190-report-page-libraries.md): per experiment the delivery-latency CDF of each
 * variant from its pooled histogram, VM exits per second by reason, and every other metric, each
 * variant's mean with its 95% confidence interval. Lock wait and spurious notifications come first
 * among the metrics, as the reviewer of a posted-interrupt change asks for them.
 */
import * as Plot from '@observablehq/plot';
import type { Metric, SimResult, SimSuite, VariantResult } from '../src/sim/result.ts';
import { h } from './dom.ts';

/** The CDF of a variant's latency: at each bucket's upper edge, the share of latencies below it. */
export function latencyCdf(v: VariantResult): { variant: string; ns: number; p: number }[] {
  const { edges, counts } = v.latency.histogram;
  const total = counts.reduce((a, c) => a + c, 0);
  const out: { variant: string; ns: number; p: number }[] = [];
  if (total === 0) return out;
  let cum = 0;
  out.push({ variant: v.name, ns: edges[0], p: 0 });
  counts.forEach((c, i) => {
    cum += c;
    out.push({ variant: v.name, ns: edges[i + 1], p: cum / total });
  });
  return out.filter((d) => d.ns > 0);
}

interface Row {
  variant: string;
  group: string;
  mean: number;
  lo: number;
  hi: number;
}

function ciRows(vs: readonly VariantResult[], pick: (v: VariantResult) => Metric[]): Row[] {
  return vs.flatMap((v) =>
    pick(v).map((m) => ({
      variant: v.name,
      group: `${m.name} (${m.unit})`,
      mean: m.ci.mean,
      // Below two replications the interval is NaN: the mean is drawn alone.
      lo: Number.isFinite(m.ci.lo) ? m.ci.lo : m.ci.mean,
      hi: Number.isFinite(m.ci.hi) ? m.ci.hi : m.ci.mean,
    })),
  );
}

/**
 * Means with their intervals: one small plot per group (a metric, or an exit reason), each on its
 * own scale, since the groups' units and magnitudes differ.
 */
function ciPlots(rows: Row[], caption: string): HTMLElement {
  const groups = [...new Set(rows.map((r) => r.group))];
  const grid = h('div', { class: 'ci-grid' });
  for (const g of groups) {
    const rs = rows.filter((r) => r.group === g);
    grid.append(
      Plot.plot({
        caption: g,
        marginLeft: 70,
        width: 360,
        height: 40 + 28 * rs.length,
        x: { grid: true, label: 'mean, 95% CI', nice: true },
        y: { label: null },
        color: { domain: VARIANTS },
        marks: [
          Plot.ruleY(rs, { y: 'variant', x1: 'lo', x2: 'hi', stroke: 'variant', strokeWidth: 2 }),
          Plot.tickX(rs, { y: 'variant', x: 'lo', stroke: 'variant' }),
          Plot.tickX(rs, { y: 'variant', x: 'hi', stroke: 'variant' }),
          Plot.dot(rs, { y: 'variant', x: 'mean', fill: 'variant', r: 4, tip: true }),
        ],
      }),
    );
  }
  return h('div', { class: 'ci' }, h('h4', {}, caption), grid);
}

/** The variants of the experiment being drawn, so every plot colours them alike. */
let VARIANTS: string[] = [];

const FIRST = [/lock.*wait|wait.*lock/i, /spurious/i];

function metricOrder(m: Metric): number {
  const k = FIRST.findIndex((re) => re.test(m.name));
  return k < 0 ? FIRST.length : k;
}

function experiment(r: SimResult): HTMLElement {
  VARIANTS = r.variants.map((v) => v.name);
  const cdf = r.variants.flatMap(latencyCdf);
  const sec = h(
    'section',
    { class: 'sim', 'data-scenario': r.scenario },
    h('h3', {}, r.point ? `${r.scenario} (${r.point})` : r.scenario),
    h(
      'p',
      { class: 'dim' },
      `${r.replications} replications of ${(r.durationNs / 1e6).toFixed(1)} ms simulated (after ${(r.warmupNs / 1e6).toFixed(1)} ms warm-up), seed ${r.seed}, costs ${r.costs.name} (${r.costs.cpu}, ${r.costs.clockGHz} GHz)`,
    ),
  );
  if (cdf.length > 0)
    sec.append(
      Plot.plot({
        caption:
          'Delivery latency: cumulative share of interrupts delivered within x ns (from the pooled histogram, linear within a bucket)',
        width: 760,
        height: 300,
        x: { type: 'log', label: 'latency (ns)', grid: true },
        y: { label: 'share', domain: [0, 1], grid: true },
        color: { legend: true, domain: VARIANTS },
        marks: [Plot.line(cdf, { x: 'ns', y: 'p', stroke: 'variant', tip: true })],
      }),
    );
  const exits = ciRows(r.variants, (v) => v.exitsByReason);
  if (exits.length > 0) sec.append(ciPlots(exits, 'VM exits per second by reason'));
  const metrics = ciRows(r.variants, (v) => [...v.metrics].sort((a, b) => metricOrder(a) - metricOrder(b)));
  if (metrics.length > 0)
    sec.append(
      ciPlots(metrics, 'Metrics (lock wait and spurious notifications first), each variant with its 95% CI'),
    );
  if (r.differences.length > 0) {
    const t = h(
      'table',
      { class: 'differences' },
      h('caption', {}, 'Paired differences (common random numbers)'),
      h(
        'tr',
        {},
        h('th', {}, 'metric'),
        h('th', {}, 'to − from'),
        h('th', {}, 'mean'),
        h('th', {}, '95% CI'),
      ),
    );
    for (const d of r.differences)
      t.append(
        h(
          'tr',
          {},
          h('td', {}, `${d.metric} (${d.unit})`),
          h('td', {}, `${d.to} − ${d.from}`),
          h('td', { class: 'num' }, d.ci.mean.toPrecision(4)),
          h('td', { class: 'num' }, `[${d.ci.lo.toPrecision(4)}, ${d.ci.hi.toPrecision(4)}]`),
        ),
      );
    sec.append(t);
  }
  return sec;
}

/** A point's label and what the sweep varies: "loop limit 3" is ("loop limit", "3"). */
function splitPoint(point: string): { what: string; label: string } {
  const i = point.lastIndexOf(' ');
  return i < 0 ? { what: '', label: point } : { what: point.slice(0, i), label: point.slice(i + 1) };
}

interface SweepRow extends Row {
  x: string;
}

/**
 * A sweep (`irqlab sim --all`: one scenario at the points of one variable) as one plot per metric
 * over the points, each mean with its 95% interval. A sweep over a knob's presets runs one variant
 * per point, drawn as one line; a sweep of the workload runs every variant at each point, a line
 * each. Metrics that are zero at every point are left out.
 */
function sweepSection(results: readonly SimResult[]): HTMLElement {
  const { what } = splitPoint(results[0].point!);
  const labels = results.map((r) => splitPoint(r.point!).label);
  const onePerPoint = results.every((r) => r.variants.length === 1);
  const rows: SweepRow[] = results.flatMap((r, i) =>
    ciRows(r.variants, (v) => [...v.metrics].sort((a, b) => metricOrder(a) - metricOrder(b))).map((row) => ({
      ...row,
      variant: onePerPoint ? results[0].scenario : row.variant,
      x: labels[i],
    })),
  );
  const series = [...new Set(rows.map((r) => r.variant))];
  const groups = [...new Set(rows.map((r) => r.group))].filter((g) =>
    rows.some((r) => r.group === g && (r.mean !== 0 || r.lo !== 0 || r.hi !== 0)),
  );
  const grid = h('div', { class: 'ci-grid' });
  for (const g of groups) {
    const rs = rows.filter((r) => r.group === g);
    // A metric equal at every point with no spread (loads per harvest: 4) gets a band around it,
    // not a zero-height scale.
    const lo = Math.min(...rs.map((r) => r.lo));
    const hi = Math.max(...rs.map((r) => r.hi));
    const pad = lo === hi ? Math.abs(lo) * 0.1 || 1 : 0;
    grid.append(
      Plot.plot({
        caption: g,
        width: 360,
        height: 220,
        marginLeft: 80,
        x: { type: 'point', domain: labels, label: what },
        y: { grid: true, nice: true, label: null, ...(pad > 0 ? { domain: [lo - pad, hi + pad] } : {}) },
        color: { domain: series, legend: series.length > 1 },
        marks: [
          Plot.ruleX(rs, { x: 'x', y1: 'lo', y2: 'hi', stroke: 'variant', strokeWidth: 2 }),
          Plot.line(rs, { x: 'x', y: 'mean', stroke: 'variant' }),
          Plot.dot(rs, { x: 'x', y: 'mean', fill: 'variant', r: 3, tip: true }),
        ],
      }),
    );
  }
  return h(
    'section',
    { class: 'sim sweep', 'data-scenario': results[0].scenario },
    h('h3', {}, `${results[0].scenario}: over ${what} (${labels.join(', ')})`),
    h(
      'div',
      { class: 'ci' },
      h('h4', {}, `Each metric over ${what}: mean and 95% CI${onePerPoint ? '' : ', a line per variant'}`),
      grid,
    ),
    h(
      'details',
      {},
      h('summary', {}, `Each point of the sweep: latency, exits, metrics and differences`),
      ...results.map(experiment),
    ),
  );
}

/**
 * The suite's experiments in order; the consecutive points of a sweep (results of one scenario
 * with a `point` over the same variable) are drawn together.
 */
export function simPlots(suite: SimSuite): HTMLElement {
  const out = h('div', { class: 'sims' });
  const rs = suite.results;
  for (let i = 0; i < rs.length; ) {
    const r = rs[i];
    let j = i + 1;
    if (r.point !== undefined) {
      const what = splitPoint(r.point).what;
      while (
        j < rs.length &&
        rs[j].scenario === r.scenario &&
        rs[j].point !== undefined &&
        splitPoint(rs[j].point!).what === what
      )
        j++;
    }
    out.append(j - i > 1 ? sweepSection(rs.slice(i, j)) : experiment(r));
    i = j;
  }
  return out;
}
