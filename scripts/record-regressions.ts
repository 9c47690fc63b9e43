/**
 * Re-records test/regressions/<scenario>.<preset>.trace.json (`npm run regressions`): for each
 * existing file, the counterexample `irqlab check <scenario> --variant <preset> --json` finds now,
 * as its trace file (src/trace/file.ts). Run it after changing the model on purpose, read the diff,
 * and commit the files with the change.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkScenario, resolveVariant, traceFileOf } from '../src/check/session.ts';
import { loadScenario } from '../src/scenarios/files.ts';

const DIR = fileURLToPath(new URL('../test/regressions/', import.meta.url));

for (const f of readdirSync(DIR).filter((x) => x.endsWith('.trace.json'))) {
  const [name, ...rest] = f.slice(0, -'.trace.json'.length).split('.');
  const { scenario } = loadScenario(name);
  const r = checkScenario(scenario, resolveVariant(scenario, rest.join('.')));
  const t = traceFileOf(r);
  if (t === undefined)
    throw new Error(`${f}: ${name} · ${rest.join('.')} ${r.verdict} now: no counterexample`);
  writeFileSync(join(DIR, f), `${JSON.stringify(t, null, 2)}\n`);
  console.log(`${f}: ${t.claim.property}, ${t.steps.length} steps`);
}
