/**
 * The report's data and HTML (src/report): rows agree with the manifest (src/scenarios/manifest.json,
 * the checked-in verdicts), a trace's delta-coded states rebuild the state after its last step,
 * every knob has its source from docs/variants.md, and the HTML file holds its data and page inline
 * (no URL to fetch), whatever text the data contains.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { replay } from '../../src/check/counterexample.ts';
import { checkScenario, modelFor, resolveVariant } from '../../src/check/session.ts';
import { KNOBS } from '../../src/model/kvm/variants.ts';
import { buildReport } from '../../src/report/build.ts';
import { reportHtml } from '../../src/report/html.ts';
import { parseVariantSources } from '../../src/report/variant-sources.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import manifest from '../../src/scenarios/manifest.json' with { type: 'json' };
import { stateValues } from '../../src/trace/state-view.ts';

const data = buildReport([loadScenario('seed-004')], { command: 'test', version: '0' });

describe('buildReport', () => {
  test('one row per preset, with the verdicts of the manifest', () => {
    const want = (
      manifest.scenarios as {
        name: string;
        presets: { preset: string; verdict: string; property?: string }[];
      }[]
    )
      .find((s) => s.name === 'seed-004')!
      .presets.map((p) => [p.preset, p.verdict, p.property]);
    assert.deepEqual(
      data.checks.map((r) => [r.variant, r.verdict, r.property]),
      want,
    );
  });

  test("a counterexample's states rebuild the state after its last step", () => {
    const row = data.checks.find((r) => r.trace !== undefined)!;
    const t = data.traces.find((x) => x.id === row.trace)!;
    const state = t.initial.slice();
    for (const d of t.deltas) for (const [i, v] of d) state[i] = v;
    const { scenario } = loadScenario('seed-004');
    const nv = resolveVariant(scenario, row.variant);
    const model = modelFor(scenario, nv.variant);
    // Find the same counterexample again and read the view at its end, independently of the report.
    const r = checkScenario(scenario, nv);
    assert.equal(t.deltas.length, r.counterexample!.path.length);
    assert.deepEqual(state, stateValues(model.w.L, replay(model, r.counterexample!.path).final));
  });

  test('the seed has a before/after pair whose after side names the fixed verdict', () => {
    assert.equal(data.pairs.length, 1);
    assert.match(data.pairs[0].after.verdict, /^holds/);
  });

  test('every knob has a source in docs/variants.md', () => {
    const src = parseVariantSources(readFileSync(new URL('../../docs/variants.md', import.meta.url), 'utf8'));
    assert.deepEqual(
      Object.keys(KNOBS).filter((k) => !src.has(k)),
      [],
    );
    const load = data.checks[0].knobs.find((k) => k.knob === 'load')!;
    assert.match(load.source, /c112b5f50232/);
  });
});

describe('reportHtml', () => {
  const assets = { js: 'window.ok = "</script>";', css: 'body{}' };
  test('inlines the data so that any text survives, and names no URL to load', () => {
    const tricky = { ...data, command: 'a </script><script>alert(1)</script> <!-- b' };
    const html = reportHtml(tricky, assets);
    const m = html.match(/<script type="application\/json" id="irqlab-data">([\s\S]*?)<\/script>/);
    assert.ok(m);
    assert.deepEqual(JSON.parse(m[1]), JSON.parse(JSON.stringify(tricky)));
    assert.doesNotMatch(html, /\s(src|href)=/);
    assert.match(html, /default-src 'none'/);
    // The page's own "</script" is escaped: the script element ends where the file ends it.
    assert.equal(html.match(/<\/script>/g)?.length, 2);
  });
});
