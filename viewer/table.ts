/**
 * The summary table: one row per check, sortable by any column (click its header; again to
 * reverse) and filtered by a text box that matches any cell (scenario, variant, knob, verdict,
 * property). A row with a counterexample links to it.
 */
import type { CheckRow } from '../src/report/data.ts';
import { h } from './dom.ts';

interface Column {
  name: string;
  key: (r: CheckRow) => string | number;
  cell: (r: CheckRow) => Node | string;
  numeric?: boolean;
}

function knobsCell(r: CheckRow): Node {
  const changed = r.knobs.filter((k) => k.changed);
  if (changed.length === 0) return h('span', { class: 'dim' }, "today's kernel");
  const div = h('div', { class: 'knobs' });
  for (const k of changed)
    div.append(
      h('details', {}, h('summary', {}, `${k.knob}=${k.value}`), h('div', { class: 'source' }, k.source)),
    );
  return div;
}

const COLUMNS: Column[] = [
  { name: 'scenario', key: (r) => r.scenario, cell: (r) => r.scenario },
  { name: 'variant', key: (r) => r.variant, cell: (r) => r.variant },
  {
    name: 'knobs',
    key: (r) =>
      r.knobs
        .filter((k) => k.changed)
        .map((k) => `${k.knob}=${k.value}`)
        .join(','),
    cell: knobsCell,
  },
  { name: 'memory', key: (r) => r.memory, cell: (r) => r.memory },
  {
    name: 'verdict',
    key: (r) => r.verdict,
    cell: (r) => {
      const text = r.verdict === 'incomplete' ? `incomplete (${r.reason})` : r.verdict;
      const span = h('span', { class: `verdict-cell ${r.verdict}` }, text);
      if (r.trace === undefined) return span;
      const a = h('a', { href: `#trace:${encodeURIComponent(r.trace)}`, class: 'trace-link' }, span);
      return a;
    },
  },
  {
    name: 'property',
    key: (r) => r.property ?? '',
    cell: (r) => (r.property ? `${r.property} (${r.kind})` : ''),
  },
  { name: 'states', key: (r) => r.states, cell: (r) => String(r.states), numeric: true },
  { name: 'depth', key: (r) => r.depth, cell: (r) => String(r.depth), numeric: true },
  { name: 'time (s)', key: (r) => r.timeMs, cell: (r) => (r.timeMs / 1000).toFixed(2), numeric: true },
];

export function summaryTable(rows: readonly CheckRow[]): HTMLElement {
  const filter = h('input', {
    type: 'search',
    class: 'filter',
    placeholder: 'filter: scenario, variant, knob, verdict, property…',
    'aria-label': 'filter the checks',
  });
  const count = h('span', { class: 'dim count' });
  const tbody = h('tbody');
  const trs = rows.map((r) => {
    const tr = h('tr', { 'data-scenario': r.scenario, 'data-variant': r.variant, 'data-verdict': r.verdict });
    for (const c of COLUMNS) tr.append(h('td', { class: c.numeric ? 'num' : '' }, c.cell(r)));
    return {
      r,
      tr,
      text: COLUMNS.map((c) => String(c.key(r)))
        .join(' ')
        .toLowerCase(),
    };
  });
  let sortBy = -1;
  let dir = 1;
  const ths = COLUMNS.map((c, i) => {
    const th = h(
      'th',
      { class: c.numeric ? 'num sortable' : 'sortable', title: `sort by ${c.name}` },
      c.name,
    );
    th.addEventListener('click', () => {
      dir = sortBy === i ? -dir : 1;
      sortBy = i;
      ths.forEach((t, j) => {
        t.dataset.sort = j === i ? (dir > 0 ? 'asc' : 'desc') : '';
      });
      render();
    });
    return th;
  });
  function render(): void {
    const q = filter.value.trim().toLowerCase();
    const terms = q.split(/\s+/).filter((x) => x !== '');
    let shown = trs.filter((x) => terms.every((t) => x.text.includes(t)));
    if (sortBy >= 0) {
      const key = COLUMNS[sortBy].key;
      shown = [...shown].sort((a, b) => {
        const ka = key(a.r);
        const kb = key(b.r);
        return (
          (typeof ka === 'number' && typeof kb === 'number'
            ? ka - kb
            : String(ka).localeCompare(String(kb))) * dir
        );
      });
    }
    tbody.replaceChildren(...shown.map((x) => x.tr));
    count.textContent = `${shown.length} of ${rows.length} checks`;
  }
  filter.addEventListener('input', render);
  render();
  return h(
    'div',
    { class: 'summary' },
    h('div', { class: 'filter-bar' }, filter, ' ', count),
    h('table', { class: 'checks' }, h('thead', {}, h('tr', {}, ...ths)), tbody),
  );
}
