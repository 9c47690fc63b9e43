/**
 * The report page (docs/report.md): reads the report's data inlined in the file (src/report/html.ts)
 * and shows the summary table, each counterexample stepped with its state, each seed's before and
 * after side by side, and the simulator's plots. Trace viewers are built when their section is
 * opened, so a report of many long traces opens fast.
 */
import type { ReportData, TraceView } from '../src/report/data.ts';
import { h } from './dom.ts';
import { simPlots } from './plots.ts';
import { summaryTable } from './table.ts';
import { type TraceViewer, traceViewer } from './trace.ts';

const data = JSON.parse(document.getElementById('irqlab-data')!.textContent!) as ReportData;
const byId = new Map(data.traces.map((t) => [t.id, t]));
const viewers = new Map<string, TraceViewer>();

/** A collapsible trace whose viewer is built on first open. */
function traceSection(t: TraceView, open = false): HTMLDetailsElement {
  const d = h(
    'details',
    { class: 'trace', id: `trace:${t.id}`, open },
    h(
      'summary',
      {},
      h('b', {}, t.title),
      ' · ',
      `${t.entries.length} steps`,
      t.property ? h('span', { class: 'bad' }, ` · ${t.property}`) : null,
      t.loopStart !== undefined ? ' · lasso' : null,
    ),
  );
  const build = () => {
    if (viewers.has(t.id)) return;
    const v = traceViewer(t);
    viewers.set(t.id, v);
    d.append(v.el);
  };
  d.addEventListener('toggle', () => {
    if (d.open) build();
  });
  if (open) build();
  return d;
}

function pairsSection(): HTMLElement | null {
  if (data.pairs.length === 0) return null;
  const sec = h('section', { id: 'before-after' }, h('h2', {}, 'Seeds: before and after'));
  for (const p of data.pairs) {
    const before = byId.get(p.before.trace)!;
    const after = p.after.trace ? byId.get(p.after.trace) : undefined;
    const d = h(
      'details',
      { class: 'pair', 'data-scenario': p.scenario },
      h(
        'summary',
        {},
        h('b', {}, p.scenario),
        ` · ${p.before.variant} → ${p.after.variant}: `,
        p.after.verdict,
      ),
    );
    let built = false;
    d.addEventListener('toggle', () => {
      if (!d.open || built) return;
      built = true;
      const left = traceViewer(before);
      const right = after
        ? traceViewer(after).el
        : h('p', {}, 'The schedule does not apply at its first step.');
      d.append(
        h(
          'div',
          { class: 'side-by-side' },
          h('div', { class: 'side before' }, h('h3', {}, `${p.before.variant}: the counterexample`), left.el),
          h(
            'div',
            { class: 'side after' },
            h('h3', {}, `${p.after.variant}: the same schedule`),
            h('p', { class: 'outcome' }, p.after.outcome),
            h('p', { class: 'fixed-verdict' }, `${p.after.variant}'s own verdict: ${p.after.verdict}`),
            right,
          ),
        ),
      );
    });
    sec.append(d);
  }
  return sec;
}

function render(): void {
  const app = document.getElementById('app')!;
  const counterexamples = data.traces.filter((t) => !data.pairs.some((p) => p.after.trace === t.id));
  const nav = h(
    'nav',
    {},
    data.checks.length > 0 ? h('a', { href: '#summary' }, 'Summary') : null,
    counterexamples.length > 0 ? h('a', { href: '#counterexamples' }, 'Counterexamples') : null,
    data.pairs.length > 0 ? h('a', { href: '#before-after' }, 'Before / after') : null,
    data.sim ? h('a', { href: '#simulations' }, 'Simulations') : null,
  );
  app.append(
    h(
      'header',
      {},
      h('h1', {}, 'irqlab report'),
      h('div', { class: 'dim' }, `${data.command} · irqlab ${data.version} · ${data.generated}`),
      nav,
    ),
  );
  if (data.checks.length > 0)
    app.append(h('section', { id: 'summary' }, h('h2', {}, 'Checks'), summaryTable(data.checks)));
  if (counterexamples.length > 0) {
    const sec = h(
      'section',
      { id: 'counterexamples' },
      h('h2', {}, 'Counterexamples'),
      h(
        'p',
        { class: 'dim' },
        'Open one; step with ← → (or j k), Home, End, the slider, or a click on a row.',
      ),
    );
    for (const t of counterexamples) sec.append(traceSection(t, counterexamples.length === 1));
    app.append(sec);
  }
  const pairs = pairsSection();
  if (pairs) app.append(pairs);
  if (data.sim)
    app.append(h('section', { id: 'simulations' }, h('h2', {}, 'Simulations'), simPlots(data.sim)));
  // A link to a trace (#trace:<id>) opens it.
  const openHash = () => {
    const id = decodeURIComponent(location.hash.replace(/^#trace:/, ''));
    const d = document.getElementById(`trace:${id}`);
    if (d instanceof HTMLDetailsElement) {
      d.open = true;
      d.scrollIntoView();
    }
  };
  window.addEventListener('hashchange', openHash);
  if (location.hash.startsWith('#trace:')) openHash();
}

render();
// For tests and scripting: the viewers built so far, by trace id.
(window as unknown as { irqlab: unknown }).irqlab = { data, viewers };
