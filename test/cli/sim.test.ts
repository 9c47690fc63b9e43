/**
 * `irqlab sim` as a user runs it: JSON and CSV output, the same bytes for the same seed, the
 * timeline file (Chrome Trace Event JSON, checked for nesting and flows), bad input as one line
 * with exit 2, and Ctrl-C printing what was measured with exit 130.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CSV_HEADER } from '../../src/sim/report-text.ts';
import type { SimResult } from '../../src/sim/result.ts';
import { type TraceEvent, timelineProblems } from '../../src/sim/timeline.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'irqlab-sim-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const SHORT = ['--duration', '3ms', '--warmup', '500us', '--replications', '2'];

describe('irqlab sim', { concurrency: 2 }, () => {
  test('--json: the result format, every knob, the differences; the same seed gives the same bytes', async () => {
    const a = await cli('sim', 'sim-004-preempted-posting', ...SHORT, '--json');
    const b = await cli('sim', 'sim-004-preempted-posting', ...SHORT, '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const r = JSON.parse(a.stdout) as SimResult;
    assert.equal(r.formatVersion, 1);
    assert.equal(r.kind, 'irqlab-sim');
    assert.equal(r.seed, 1);
    assert.equal(r.replications, 2);
    assert.equal(r.durationNs, 3e6);
    assert.match(r.scenarioHash, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      r.variants.map((v) => [v.name, v.knobs.load]),
      [
        ['before', 'clear-sn'],
        ['after', 'clear-sn-recompute-on'],
      ],
    );
    assert.ok(
      r.differences.some((d) => d.metric === 'latency_mean' && d.from === 'before' && d.to === 'after'),
    );
  });

  test('--csv: a header, then a row per variant and metric and per difference', async () => {
    const o = await cli('sim', 'sim-003-icr-fastpath', ...SHORT, '--csv');
    assert.equal(o.code, 0, o.stderr);
    const lines = o.stdout.trim().split('\n');
    assert.equal(lines[0], CSV_HEADER);
    assert.ok(lines.some((l) => l.startsWith('sim-003-icr-fastpath,,before,latency_mean,ns,')));
    assert.ok(lines.some((l) => l.startsWith('sim-003-icr-fastpath,,after - before,latency_mean,ns,')));
  });

  test('--timeline: Chrome Trace Event JSON whose slices nest and whose flows run from a posting to a handler', async () => {
    const file = join(TMP, 't.json');
    const o = await cli(
      'sim',
      'sim-001-overcommit',
      '--variant',
      'before',
      '--duration',
      '1ms',
      '--warmup',
      '0ns',
      '--replications',
      '2',
      '--timeline',
      file,
    );
    assert.equal(o.code, 0, o.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] };
    assert.deepEqual(timelineProblems(doc.traceEvents), []);
    const names = doc.traceEvents
      .filter((e) => e.ph === 'M' && e.name === 'thread_name')
      .map((e) => e.args?.name);
    for (const n of ['pcpu0', 'vcpu0', 'vcpu1', 'device0'])
      assert.ok(names.includes(n), `track ${n}: ${names.join(', ')}`);
    assert.ok(doc.traceEvents.some((e) => e.ph === 's'));
    assert.ok(doc.traceEvents.some((e) => e.ph === 'f'));
    assert.ok(doc.traceEvents.some((e) => e.ph === 'C' && e.name === 'vcpu0 PIR'));
  });

  test('bad input is one line and exit 2', async () => {
    const noWorkload = await cli('sim', 'seed-004');
    assert.equal(noWorkload.code, 2);
    assert.match(
      noWorkload.stderr,
      /^irqlab: .*seed-004\.json: the scenario has no workload: irqlab sim needs one/,
    );
    const badTime = await cli('sim', 'sim-004-preempted-posting', '--duration', '5');
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--duration: expected a time with a unit/);
    const both = await cli('sim', 'sim-004-preempted-posting', '--json', '--csv');
    assert.equal(both.code, 2);
    const costs = await cli('sim', 'sim-004-preempted-posting', '--costs', join(TMP, 'missing.yaml'));
    assert.equal(costs.code, 2);
    assert.match(costs.stderr, /missing\.yaml: no such file, and no built-in cost table/);
    // A workload the machine cannot carry: a thread cannot migrate on a single pCPU.
    const migration = join(TMP, 'm.json');
    const sc = JSON.parse(
      readFileSync(join(ROOT, 'src/scenarios/sim/sim-004-preempted-posting.json'), 'utf8'),
    );
    sc.workload.overcommit.migration = '1kHz';
    writeFileSync(migration, JSON.stringify(sc));
    const b = await cli('sim', migration);
    assert.equal(b.code, 2);
    assert.match(
      b.stderr,
      /m\.json: at workload\.overcommit\.migration: .*machine\.pcpus must be at least 2/,
    );
    for (const o of [noWorkload, badTime, both, costs, b]) {
      assert.equal(o.stderr.trim().split('\n').length, 1, o.stderr);
      assert.doesNotMatch(o.stderr, /\n\s+at /);
    }
  });

  test('Ctrl-C prints what was measured so far and exits 130', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sim', 'sim-000-harvest', '--duration', '5s', '--progress'],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    // The first progress line comes from the simulation's worker, which starts after the CLI
    // listens for SIGINT; the first replication of 5 s is still running then.
    const started = new Promise<void>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('replications each')) resolve();
      });
    });
    await started;
    const sent = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - sent < 10_000);
    assert.match(stdout, /sim-000-harvest/);
    assert.match(stderr, /interrupted; the figures above are what was measured so far/);
  });
});
