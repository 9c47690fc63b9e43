/**
 * docs/scenario-format.md stays true: its worked example is a valid scenario whose expectations
 * hold, and the trace printed under it is the trace the runner produces today.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { renderEntries } from '../../src/trace/text.ts';

const DOC = fileURLToPath(new URL('../../docs/scenario-format.md', import.meta.url));

/** The fenced blocks of a given language after a heading, up to the next heading of that level. */
function blocksUnder(md: string, heading: string, lang: string): string[] {
  const start = md.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no heading "${heading}"`);
  const level = heading.split(' ')[0];
  const next = md.indexOf(`\n${level} `, start + heading.length + 2);
  const section = md.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);
}

test('the worked example runs, holds, and prints the trace the doc shows', () => {
  const md = readFileSync(DOC, 'utf8');
  const [json] = blocksUnder(md, '## A worked example', 'json');
  const [output] = blocksUnder(md, '## A worked example', 'text');
  const sc = parseScenarioText(json, 'docs/scenario-format.md');
  const r = runScenario(sc);
  assert.deepEqual(
    r.expectations.filter((e) => !e.ok),
    [],
  );

  const lines = output.trimEnd().split('\n');
  assert.equal(lines[0], `$ irqlab run ${sc.name}.json`);
  assert.equal(lines[1], `${sc.name}: ${sc.description}`);
  assert.equal(lines[2], `source: ${sc.source}`);
  const traceEnd = lines.indexOf('expectations:');
  assert.equal(lines.slice(3, traceEnd).join('\n'), renderEntries(r.entries));
  const checked = lines.slice(traceEnd + 1, -1);
  assert.deepEqual(
    checked,
    r.expectations.map((e) => `  ✓ ${e.what}: ${e.actual}`),
  );
  assert.equal(lines.at(-1), `ok: ${r.expectations.length}/${r.expectations.length} expectations hold`);
});

test('the file at a glance is a valid scenario that holds', () => {
  const md = readFileSync(DOC, 'utf8');
  const [json] = blocksUnder(md, '## A file at a glance', 'json');
  const r = runScenario(parseScenarioText(json, 'glance.json'));
  assert.equal(r.ok, true);
});
