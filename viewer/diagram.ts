/**
 * The page's own sequence diagram of a trace (the CLI's SVG, src/trace/svg.ts, is a static
 * picture; this one is stepped): one lane per vCPU, pCPU, IOMMU and device (and any other actor),
 * one row per step, the acting lane's step label, arrows for what crossed lanes (a posting to a
 * descriptor, a notification or IPI to a pCPU, a doorbell, a wake-up), guest-mode bars from VM
 * entry to VM exit, the lasso's loop bracketed and the violation marked at the last step.
 */
import type { TraceView, ViewEntry } from '../src/report/data.ts';
import { s } from './dom.ts';

export const ROW = 24;
const TOP = 34;
const LANE_W = 168;
const LEFT = 44;

export interface Diagram {
  svg: SVGSVGElement;
  /** The lanes' names, to keep in view above the rows (sticky; it overlays svg's own header). */
  head: SVGSVGElement;
  /** The row band of step k (1-based) is rows[k - 1], to highlight. */
  rows: SVGRectElement[];
  /** Where step k's row starts, in the diagram's pixels. */
  rowTop(k: number): number;
  lanes: string[];
}

/** The lane of an actor: its vCPU's when the scenario ties it to one, else its own name. */
export function laneOf(actor: string, actorVcpus: Record<string, number>): string {
  const x = actorVcpus[actor];
  return x === undefined ? actor : `vcpu${x}`;
}

interface Arrow {
  to: string;
  label: string;
  cls: string;
}

/** What a step's events sent to other lanes (events.ts gives each event's operands). */
function arrowsOf(e: ViewEntry): Arrow[] {
  const out: Arrow[] = [];
  const hex = (v: number) => `0x${v.toString(16)}`;
  for (const ev of e.events) {
    switch (ev.kind) {
      case 'vtd_post':
        out.push({ to: `vcpu${ev.a}`, label: `post ${hex(ev.b)}${ev.c ? ' + notify' : ''}`, cls: 'post' });
        break;
      case 'ipiv_post':
        out.push({ to: `vcpu${ev.a}`, label: `IPIv post ${hex(ev.b)}`, cls: 'post' });
        break;
      case 'ga_post':
        out.push({ to: `vcpu${ev.a}`, label: `GA post ${hex(ev.b)}`, cls: 'post' });
        break;
      case 'phys_irq':
        out.push({ to: `pcpu${ev.a}`, label: `IRQ ${hex(ev.b)}`, cls: 'irq' });
        break;
      case 'avic_doorbell':
        if (ev.a >= 0) out.push({ to: `pcpu${ev.a}`, label: 'doorbell', cls: 'irq' });
        break;
      case 'wake_up':
        out.push({ to: `vcpu${ev.a}`, label: ev.b ? 'wake up' : 'wake up (not blocked)', cls: 'wake' });
        break;
      case 'pi_process':
        out.push({ to: `vcpu${ev.b}`, label: 'PI processing', cls: 'irq' });
        break;
    }
  }
  return out;
}

/** Lane order: vCPUs, pCPUs, then the IOMMU, devices and any other actor, each by first appearance. */
function orderLanes(keys: Iterable<string>): string[] {
  const rank = (k: string) =>
    /^vcpu\d+$/.test(k) ? 0 : /^pcpu\d+$/.test(k) ? 1 : /iommu|vt-?d/i.test(k) ? 2 : /device/.test(k) ? 3 : 4;
  return [...keys].sort((a, b) => {
    const d = rank(a) - rank(b);
    if (d !== 0) return d;
    const na = Number(a.match(/\d+$/)?.[0] ?? 0);
    const nb = Number(b.match(/\d+$/)?.[0] ?? 0);
    return na !== nb ? na - nb : a.localeCompare(b);
  });
}

function clip(t: string, max: number): string {
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

export function drawDiagram(t: TraceView, onPick: (step: number) => void): Diagram {
  const entries = t.entries;
  const laneKeys = new Set<string>();
  const acting = entries.map((e) => laneOf(e.actor, t.actorVcpus));
  const arrows = entries.map(arrowsOf);
  for (const l of acting) laneKeys.add(l);
  for (const as of arrows) for (const a of as) laneKeys.add(a.to);
  // The pCPU a vCPU enters the guest on gets a lane, for its guest-mode bar.
  for (const e of entries) for (const ev of e.events) if (ev.kind === 'vmentry') laneKeys.add(`pcpu${ev.b}`);
  const lanes = orderLanes(laneKeys);
  const x = (lane: string) => LEFT + lanes.indexOf(lane) * LANE_W + LANE_W / 2;
  const y = (k: number) => TOP + (k - 1) * ROW + ROW / 2;
  // Room on the right for the last lane's labels.
  const width = LEFT + lanes.length * LANE_W + 110;
  const height = TOP + entries.length * ROW + 16;
  const svg = s('svg', {
    class: 'diagram',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `sequence diagram of ${t.title}`,
  });
  svg.append(
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }),
      ),
    ),
  );
  // Row bands (clickable, highlighted when current).
  const rows: SVGRectElement[] = [];
  entries.forEach((e, i) => {
    const band = s('rect', {
      class: e.hardware ? 'row hw' : 'row',
      x: 0,
      y: TOP + i * ROW,
      width,
      height: ROW,
      'data-step': i + 1,
    });
    band.addEventListener('click', () => onPick(i + 1));
    rows.push(band);
    svg.append(band);
  });
  // Lifelines, and the lanes' names in a header of their own.
  const head = s('svg', {
    class: 'diagram-head',
    width,
    height: TOP - 6,
    viewBox: `0 0 ${width} ${TOP - 6}`,
  });
  for (const l of lanes) {
    svg.append(s('line', { class: 'lifeline', x1: x(l), x2: x(l), y1: TOP - 4, y2: height - 8 }));
    head.append(s('text', { class: 'lane', x: x(l), y: 18, 'text-anchor': 'middle' }, l));
  }
  // Guest mode: from a VM entry of vCPU a on pCPU b to its exit, on both lanes.
  const open = new Map<number, { k: number; pcpu: number }>();
  const bar = (lane: string, k0: number, k1: number) => {
    if (!lanes.includes(lane)) return;
    svg.append(
      s('rect', { class: 'guest', x: x(lane) - 4, y: y(k0), width: 8, height: Math.max(2, y(k1) - y(k0)) }),
    );
  };
  entries.forEach((e, i) => {
    for (const ev of e.events) {
      if (ev.kind === 'vmentry') open.set(ev.a, { k: i + 1, pcpu: ev.b });
      if (ev.kind === 'vmexit') {
        const o = open.get(ev.a);
        if (o) {
          bar(`vcpu${ev.a}`, o.k, i + 1);
          bar(`pcpu${o.pcpu}`, o.k, i + 1);
          open.delete(ev.a);
        }
      }
    }
  });
  for (const [v, o] of open) {
    bar(`vcpu${v}`, o.k, entries.length + 0.5);
    bar(`pcpu${o.pcpu}`, o.k, entries.length + 0.5);
  }
  // Steps: the label at the acting lane, arrows to the lanes the step reached.
  entries.forEach((e, i) => {
    const k = i + 1;
    const from = acting[i];
    const label = e.hardware ? e.action : e.label;
    svg.append(s('circle', { class: e.hardware ? 'dot hw' : 'dot', cx: x(from), cy: y(k), r: 4 }));
    svg.append(s('text', { class: 'num', x: 6, y: y(k) + 4 }, String(k)));
    const as = arrows[i].filter((a) => a.to !== from);
    // Several arrows from one step are spread over the row's height.
    const dy = (j: number) => (j - (as.length - 1) / 2) * 9;
    // The step's label beside its dot, unless an arrow leaving to the right takes that place.
    if (!as.some((a) => x(a.to) > x(from)))
      svg.append(s('text', { class: 'step', x: x(from) + 8, y: y(k) + 4 }, clip(label, 34)));
    else
      svg.append(
        s('text', { class: 'step', x: x(from) - 8, y: y(k) + 4, 'text-anchor': 'end' }, clip(label, 20)),
      );
    as.forEach((a, j) => {
      const x1 = x(from);
      const x2 = x(a.to);
      const ya = y(k) + dy(j);
      svg.append(
        s('line', {
          class: `arrow ${a.cls}`,
          x1,
          y1: ya,
          x2: x2 + (x2 > x1 ? -5 : 5),
          y2: ya,
          'marker-end': 'url(#arrow)',
        }),
      );
      svg.append(
        s(
          'text',
          { class: `step ${a.cls}`, x: (x1 + x2) / 2, y: ya - 2, 'text-anchor': 'middle' },
          clip(a.label, 30),
        ),
      );
    });
  });
  // The lasso: steps loopStart+1..n repeat forever.
  if (t.loopStart !== undefined) {
    const y0 = TOP + t.loopStart * ROW + 2;
    const y1 = TOP + entries.length * ROW - 2;
    svg.append(
      s('path', { class: 'lasso', d: `M${LEFT - 6},${y0} h-8 V${y1} h8` }),
      s(
        'text',
        {
          class: 'lasso-label',
          x: LEFT - 18,
          y: (y0 + y1) / 2,
          transform: `rotate(-90 ${LEFT - 18} ${(y0 + y1) / 2})`,
          'text-anchor': 'middle',
        },
        'loop: repeats forever',
      ),
    );
  }
  if (t.property !== undefined && entries.length > 0) {
    const k = entries.length;
    svg.append(
      s('text', { class: 'violation', x: x(acting[k - 1]) - 16, y: y(k) + 5, 'text-anchor': 'middle' }, '×'),
    );
  }
  return { svg, head, rows, lanes, rowTop: (k) => TOP + (k - 1) * ROW };
}
