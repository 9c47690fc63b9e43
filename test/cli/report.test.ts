/**
 * `irqlab report` and `irqlab view` on bad input: one line naming the file or option and the
 * fault, exit 2. What they write on good input is opened by the browser tests (test/viewer), which
 * run both commands; the checks here that need no process run in this one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkScenario, resolveVariant, traceFileOf } from '../../src/check/session.ts';
import { readSimResults } from '../../src/cli/report.ts';
import { writeView } from '../../src/cli/view.ts';
import { UserError } from '../../src/errors.ts';
import { loadScenario } from '../../src/scenarios/files.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'irqlab-report-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** seed-004's counterexample as a trace file, with `edit` applied. */
function seed004Trace(edit: (t: Record<string, unknown>) => void = () => {}): string {
  const { scenario } = loadScenario('seed-004');
  const t = traceFileOf(checkScenario(scenario, resolveVariant(scenario, 'before'))) as unknown as Record<
    string,
    unknown
  >;
  edit(t);
  const file = join(tmp, `t${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(t));
  return file;
}

describe('irqlab report and view on bad input', () => {
  test('--sim with --sim-results; a trace that does not reproduce is refused; exit 2', async () => {
    // The fixed kernel's knob under the recorded schedule: the violation is no longer reached.
    const bad = seed004Trace((t) => {
      (t.variant as Record<string, string>).load = 'clear-sn-recompute-on';
    });
    const [sim, both, view] = await Promise.all([
      cli('report', 'seed-004', '--sim', '--sim-results', 'x.json', '--out', join(tmp, 'x.html')),
      cli('report', '--all', 'seed-004'),
      cli('view', bad),
    ]);
    assert.equal(sim.code, 2);
    assert.equal(sim.stderr, 'irqlab: give either --sim or --sim-results, not both\n');
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'irqlab: give either scenarios or --all, not both\n');
    assert.equal(view.code, 2);
    assert.equal(view.stderr.trimEnd().split('\n').length, 1);
    assert.match(view.stderr, /^irqlab: .*\.json: did not reproduce: /);
  });

  test('simulation results that are not irqlab sim --json output', () => {
    const trace = join(tmp, 'not-sim.json');
    writeFileSync(trace, '{"kind":"irqlab-trace","formatVersion":1}');
    assert.throws(
      () => readSimResults(trace),
      new UserError(`${trace}: kind: expected "irqlab-sim-suite" or "irqlab-sim"`),
    );
    const old = join(tmp, 'old-sim.json');
    writeFileSync(old, '{"kind":"irqlab-sim-suite","formatVersion":0,"results":[]}');
    assert.throws(() => readSimResults(old), /old-sim\.json: formatVersion: expected 1/);
    assert.throws(
      () => readSimResults(join(tmp, 'missing.json')),
      /missing\.json: cannot read simulation results/,
    );
  });

  test('view: a file with no trace in it', () => {
    const none = join(tmp, 'none.json');
    writeFileSync(none, '{"results": []}');
    assert.throws(() => writeView(none, join(tmp, 'none.html')), /none\.json: no irqlab trace in it/);
    const renamed = seed004Trace((t) => {
      const steps = t.steps as { label: string }[];
      steps[0].label = 'renamed';
    });
    assert.throws(() => writeView(renamed, join(tmp, 'r.html')), /did not reproduce: step 1 is /);
  });
});
