/** docs/sim.md stays true: its example cost file and example workload are valid. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCostTable } from '../../src/cli/costs.ts';
import { parseWorkload } from '../../src/scenarios/loader.ts';
import { parseCostText } from '../../src/sim/costs.ts';

const md = readFileSync(fileURLToPath(new URL('../../docs/sim.md', import.meta.url)), 'utf8');

/** The first fenced block of a language in the section under a "## " heading. */
function blockUnder(heading: string, lang: string): string {
  const start = md.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no heading "${heading}"`);
  const next = md.indexOf('\n## ', start + heading.length + 2);
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(
    md.slice(start, next < 0 ? undefined : next),
  );
  assert.ok(m, `no ${lang} block under ${heading}`);
  return m[1];
}

test('the example cost file is valid and extends the Intel table', () => {
  const intel = loadCostTable('intel-skylake-sp');
  const t = parseCostText(blockUnder('## Costs', 'yaml'), 'docs/sim.md', { steps: [], events: [] }, (n) =>
    n === intel.name ? intel : undefined,
  );
  assert.equal(t.primitives.vm_exit.cycles, 900);
  assert.equal(t.primitives.vmread.cycles, intel.primitives.vmread.cycles);
  assert.equal(t.clockGHz.value, 2.1);
});

test('the example workload is valid', () => {
  const w = parseWorkload(blockUnder('## Workloads', 'yaml'), 'docs/sim.yaml');
  assert.equal(w.duration, 100e6);
  assert.equal(w.devices.length, 3);
  assert.equal(w.ipis[2].pattern, 'self');
  assert.equal(w.pit?.reinject, true);
});
