/**
 * One trace, stepped: a slider and the keyboard (←/→ or j/k a step, Home/End) move the current
 * step; the diagram's row, the text trace's line and the state inspector follow. The inspector
 * shows the state after the current step (step 0: the initial state) and marks what the step read
 * and what it wrote (trace entries' reads and changes, src/trace/record.ts).
 */
import type { TraceView } from '../src/report/data.ts';
import { drawDiagram, ROW } from './diagram.ts';
import { h } from './dom.ts';

/** The field a read or change names, without a 256-bit register's vector (as src/trace/state-view.ts). */
function fieldOf(name: string): string {
  const k = name.indexOf('[');
  return k < 0 ? name : name.slice(0, k);
}

/** The state after each step (index 0: before the first), rebuilt from the deltas. */
function states(t: TraceView): string[][] {
  const out = [t.initial];
  for (const d of t.deltas) {
    const next = out[out.length - 1].slice();
    for (const [i, v] of d) next[i] = v;
    out.push(next);
  }
  return out;
}

/** Scrolls `pane` so that the band [top, top + height) of its content is visible, centred when it was not. */
function reveal(pane: HTMLElement, top: number, height: number): void {
  if (top >= pane.scrollTop && top + height <= pane.scrollTop + pane.clientHeight) return;
  pane.scrollTop = Math.max(0, top - (pane.clientHeight - height) / 2);
}

export interface TraceViewer {
  el: HTMLElement;
  go(step: number): void;
  readonly step: number;
}

export function traceViewer(t: TraceView): TraceViewer {
  const n = t.entries.length;
  const all = states(t);
  let cur = -1;
  const slider = h('input', {
    type: 'range',
    min: 0,
    max: n,
    value: 0,
    class: 'slider',
    'aria-label': 'step',
  });
  const stepLabel = h('span', { class: 'step-label' });
  const diagram = drawDiagram(t, (k) => go(k));
  const lines = t.entries.map((e, i) => {
    const li = h(
      'li',
      { class: e.hardware ? 'hw' : '', 'data-step': i + 1 },
      h('span', { class: 'n' }, `${e.n}. `),
      h('b', {}, e.hardware ? `${e.actor} (hw)` : e.actor),
      `: ${e.action}`,
      e.note ? h('span', { class: 'note' }, `  # ${e.note}`) : null,
      !e.hardware && e.reads.length > 0
        ? h('div', { class: 'reads' }, `read ${e.reads.map((r) => `${r.field}=${r.value}`).join(', ')}`)
        : null,
      e.changes.length > 0
        ? h('div', { class: 'changes' }, e.changes.map((c) => `${c.field} ${c.from}→${c.to}`).join(', '))
        : null,
    );
    li.addEventListener('click', () => go(i + 1));
    return li;
  });
  const loopAt = t.loopStart;
  const list = h('ol', { class: 'text-trace' });
  lines.forEach((li, i) => {
    if (loopAt !== undefined && i === loopAt)
      list.append(h('li', { class: 'loop-marker' }, `── loop: steps ${loopAt + 1}..${n} repeat forever ──`));
    list.append(li);
  });
  // The inspector: one table per section, one row per field.
  const valueCells: HTMLTableCellElement[] = [];
  const rowsByField = new Map<string, HTMLTableRowElement>();
  const inspector = h('div', { class: 'inspector' });
  let table: HTMLTableElement | null = null;
  let section = '';
  t.fields.forEach((f) => {
    if (table === null || f.section !== section) {
      section = f.section;
      table = h('table', {}, h('caption', {}, f.section));
      inspector.append(table);
    }
    const td = h('td', { class: 'v' });
    const tr = h('tr', { 'data-field': f.field }, h('th', { title: f.field }, f.label), td);
    valueCells.push(td);
    rowsByField.set(f.field, tr);
    table.append(tr);
  });
  const header = h(
    'div',
    { class: 'trace-head' },
    t.property
      ? h(
          'div',
          { class: 'verdict bad' },
          `× ${t.property} (${t.kind})`,
          h('span', { class: 'what' }, ` — ${t.what}`),
        )
      : h('div', { class: 'verdict good' }, 'no property violated along this schedule'),
    loopAt !== undefined
      ? h(
          'div',
          { class: 'lasso-note' },
          `Lasso: steps ${loopAt + 1}..${n} form a fair cycle that repeats forever.`,
        )
      : null,
  );
  const controls = h(
    'div',
    { class: 'controls' },
    h('button', { type: 'button', class: 'prev', title: 'previous step (←)' }, '◀'),
    slider,
    h('button', { type: 'button', class: 'next', title: 'next step (→)' }, '▶'),
    stepLabel,
    h(
      'span',
      { class: 'legend' },
      h('span', { class: 'read' }, 'read'),
      ' ',
      h('span', { class: 'written' }, 'written'),
    ),
  );
  const diagramPane = h('div', { class: 'diagram-pane' }, diagram.head, diagram.svg);
  const textPane = h('div', { class: 'text-pane' }, list);
  const el = h(
    'div',
    { class: 'trace-viewer', tabindex: 0, 'data-trace': t.id },
    header,
    controls,
    h('div', { class: 'panes' }, diagramPane, textPane, inspector),
  );
  controls.querySelector('.prev')!.addEventListener('click', () => go(cur - 1));
  controls.querySelector('.next')!.addEventListener('click', () => go(cur + 1));
  slider.addEventListener('input', () => go(Number(slider.value)));
  el.addEventListener('keydown', (ev) => {
    const k = ev.key;
    if (k === 'ArrowRight' || k === 'j') go(cur + 1);
    else if (k === 'ArrowLeft' || k === 'k') go(cur - 1);
    else if (k === 'Home') go(0);
    else if (k === 'End') go(n);
    else return;
    ev.preventDefault();
  });
  let marked: HTMLElement[] = [];
  function go(step: number): void {
    const k = Math.max(0, Math.min(n, step));
    if (k === cur) return;
    if (cur >= 1) {
      diagram.rows[cur - 1].classList.remove('current');
      lines[cur - 1].classList.remove('current');
    }
    cur = k;
    slider.value = String(k);
    el.dataset.step = String(k);
    const e = k >= 1 ? t.entries[k - 1] : undefined;
    stepLabel.textContent = e
      ? `step ${k} of ${n}: ${e.actor}: ${e.action}`
      : `step 0 of ${n}: the initial state`;
    if (k >= 1) {
      diagram.rows[k - 1].classList.add('current');
      lines[k - 1].classList.add('current');
      // Keep the current step in view inside each pane (not the page: the viewer stays put).
      reveal(diagramPane, diagram.rowTop(k), ROW);
      reveal(textPane, lines[k - 1].offsetTop, lines[k - 1].offsetHeight);
    }
    const values = all[k];
    for (let i = 0; i < values.length; i++) valueCells[i].textContent = values[i];
    for (const m of marked) m.classList.remove('read', 'written');
    marked = [];
    if (e) {
      const mark = (name: string, cls: string) => {
        const tr = rowsByField.get(fieldOf(name));
        if (tr) {
          tr.classList.add(cls);
          marked.push(tr);
        }
      };
      for (const r of e.reads) mark(r.field, 'read');
      for (const c of e.changes) mark(c.field, 'written');
    }
  }
  go(0);
  return {
    el,
    go,
    get step() {
      return cur;
    },
  };
}
