/**
 * `irqlab report` and `irqlab view` as a user runs them: what they write and print, and bad input
 * as one line on stderr with exit 2 (the browser tests, test/viewer, open what they write).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'irqlab-report-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' },
        timeout: 60_000,
        maxBuffer: 1 << 26,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Bad input: exactly one line on stderr, exit 2, no stack trace. */
function oneLine(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
}

describe('irqlab report', () => {
  test('writes one HTML file with the checks and prints its path', async () => {
    const out = join(tmp, 'r.html');
    const r = await cli('report', 'seed-004', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ KiB\\)\\n$`));
    const html = readFileSync(out, 'utf8');
    assert.ok(statSync(out).size > 10_000);
    assert.match(html, /"scenario":"seed-004","variant":"before"/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link /);
  });

  test('--sim says it needs the simulator, exit 2', async () => {
    const r = await cli('report', 'seed-004', '--sim', '--out', join(tmp, 'x.html'));
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'irqlab report: --sim needs the simulator (irqlab sim)\n');
  });

  test('bad input is one line and exit 2', async () => {
    const notSim = join(tmp, 'not-sim.json');
    writeFileSync(notSim, '{"kind":"irqlab-trace","formatVersion":1}');
    const rs = await Promise.all([
      cli('report', '--out', join(tmp, 'x.html')),
      cli('report', '--all', 'seed-004'),
      cli('report', 'no-such-scenario'),
      cli('report', 'seed-004', '--sim-results', notSim),
      cli('report', 'seed-004', '--max-states', '0'),
    ]);
    oneLine(rs[0], /needs scenarios/);
    oneLine(rs[1], /either scenarios or --all/);
    oneLine(rs[2], /no-such-scenario: no such file/);
    oneLine(rs[3], /not-sim\.json: kind: expected "irqlab-sim-suite"/);
    oneLine(rs[4], /--max-states: expected a positive integer/);
  });
});

describe('irqlab view', () => {
  const checked = cli('check', 'seed-004', '--variant', 'before', '--json');

  test('writes the page of a trace file beside it and prints its path', async () => {
    const c = await checked;
    assert.equal(c.code, 12);
    const trace = join(tmp, 't.json');
    writeFileSync(trace, c.stdout);
    const r = await cli('view', trace);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${join(tmp, 't.html')}\n`);
    assert.match(readFileSync(join(tmp, 't.html'), 'utf8'), /pi_test_on/);
  });

  test('a trace that does not reproduce, or no trace, is one line and exit 2', async () => {
    const c = await checked;
    const doc = JSON.parse(c.stdout);
    // The fixed kernel's knob: the recorded schedule no longer reaches the violation.
    doc.results[0].trace.variant.load = 'clear-sn-recompute-on';
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify(doc));
    const none = join(tmp, 'none.json');
    writeFileSync(none, '{"results": []}');
    const [r1, r2] = await Promise.all([cli('view', bad), cli('view', none)]);
    oneLine(r1, /bad\.json: did not reproduce: /);
    oneLine(r2, /none\.json: no irqlab trace in it/);
  });
});
