/**
 * `import('irqlab')` works from the built package (dist/, made by `npm install`) and its documented
 * API does what the CLI does: a seed-004 check finds no-stuck-pir before the fix and holds after,
 * the trace file replays, the script of a built-in runs with its expectations holding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

test("import('irqlab') exposes check, replay, run and render", async () => {
  const lib = await import('irqlab');
  const { scenario } = lib.loadScenario('seed-004');
  const before = lib.checkScenario(scenario, lib.resolveVariant(scenario, 'before'));
  assert.equal(before.verdict, 'violated');
  assert.equal(before.property, 'no-stuck-pir');
  const after = lib.checkScenario(scenario, lib.resolveVariant(scenario, 'after'));
  assert.equal(after.verdict, 'holds');
  const t = lib.traceFileOf(before);
  assert.ok(t);
  const r = lib.replayTraceFile(lib.parseTraceFile(JSON.parse(JSON.stringify(t)), 't.json'), scenario);
  assert.equal(r.reproduced, true);
  assert.match(lib.renderEntries(r.entries), /pi_test_on/);
  assert.match(lib.traceToSvg(r.entries, { title: 'seed-004' }), /^<svg/);
  const run = lib.runScenario(lib.loadScenario('tpr-masks-lower-classes').scenario);
  assert.ok(run.ok);
  assert.throws(() => lib.loadScenario('no-such-scenario'), lib.UserError);
});
