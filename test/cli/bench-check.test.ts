/**
 * `irqlab bench check --quick` through the CLI: the structure of its output, never its figures
 * (timings vary from machine to machine and run to run, so no test may fail on time).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILTIN_DIR = join(ROOT, 'src/scenarios/builtin');
const CLI = ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'check'];
const OPTS = { cwd: ROOT, timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } };

/** `scenario preset` for every built-in with actors and each of its presets (`current` if none). */
function expectedRows(): string[] {
  const rows: string[] = [];
  for (const f of readdirSync(BUILTIN_DIR).filter((x) => x.endsWith('.json'))) {
    const raw = JSON.parse(readFileSync(join(BUILTIN_DIR, f), 'utf8'));
    if ((raw.actors ?? []).length === 0) continue;
    for (const p of Object.keys(raw.presets ?? { current: {} })) rows.push(`${raw.name} ${p}`);
  }
  return rows.sort();
}

interface Row {
  scenario: string;
  preset: string;
  verdict: string;
  property: string | null;
  reason: string | null;
  distinct: number;
  generated: number;
  depth: number;
  warmup: number;
  runsMs: number[];
  medianMs: number;
  statesPerSecond: number;
  distinctPerSecond: number;
  memory: string;
  reduced: {
    distinct: number;
    ampleStates: number;
    generated: number;
    ms: number;
    statesPerSecond: number;
    rerun: string | null;
    sameVerdict: boolean;
  };
}

function assertRow(r: Row): void {
  const at = `${r.scenario} ${r.preset}`;
  assert.ok(['holds', 'violated', 'incomplete'].includes(r.verdict), `${at}: verdict ${r.verdict}`);
  assert.equal(r.property !== null, r.verdict === 'violated', `${at}: property iff violated`);
  assert.equal(r.reason !== null, r.verdict === 'incomplete', `${at}: reason iff incomplete`);
  assert.ok(Number.isInteger(r.distinct) && r.distinct > 0, `${at}: distinct ${r.distinct}`);
  assert.ok(Number.isInteger(r.generated) && r.generated >= 0, `${at}: generated ${r.generated}`);
  assert.ok(Number.isInteger(r.depth) && r.depth >= 0, `${at}: depth ${r.depth}`);
  assert.equal(r.warmup, 1, `${at}: one warm-up run with --quick`);
  assert.equal(r.runsMs.length, 1, `${at}: one measured run with --quick`);
  assert.ok(
    r.runsMs.every((ms) => ms > 0),
    `${at}: run times are measured`,
  );
  assert.ok(r.statesPerSecond > 0, `${at}: statesPerSecond ${r.statesPerSecond}`);
  assert.ok(r.distinctPerSecond > 0, `${at}: distinctPerSecond ${r.distinctPerSecond}`);
  assert.ok(['sc', 'tso'].includes(r.memory), `${at}: memory ${r.memory}`);
  const x = r.reduced;
  assert.ok(
    Number.isInteger(x.distinct) && x.distinct > 0 && x.distinct <= r.distinct,
    `${at}: reduced distinct`,
  );
  assert.ok(Number.isInteger(x.ampleStates) && x.ampleStates >= 0, `${at}: ample states`);
  assert.ok(Number.isInteger(x.generated) && x.generated >= 0 && x.ms > 0, `${at}: reduced run measured`);
  assert.ok(x.rerun === null || ['shortest-trace', 'liveness'].includes(x.rerun), `${at}: re-run ${x.rerun}`);
  assert.equal(x.sameVerdict, true, `${at}: the reduction keeps the verdict`);
}

test('irqlab bench check --quick --json: one row per built-in actor scenario and preset', async () => {
  const { stdout, stderr } = await run(process.execPath, [...CLI, '--quick', '--json'], OPTS);
  assert.doesNotMatch(stderr, /^check: /m, 'no progress with --json');
  const doc = JSON.parse(stdout);
  assert.equal(doc.schemaVersion, 1);
  assert.equal(doc.tool, 'irqlab');
  assert.equal(typeof doc.version, 'string');
  assert.equal(doc.command, 'bench check');
  const r = doc.result;
  assert.equal(r.mode, 'quick');
  assert.equal(r.strategy, 'bfs');
  assert.ok(Number.isInteger(r.machine.cores) && r.machine.cores > 0);
  assert.equal(typeof r.machine.cpu, 'string');
  assert.equal(r.machine.node, process.version);
  assert.ok(r.machine.totalMemoryBytes > 0);

  const rows: Row[] = r.builtins;
  assert.deepEqual(rows.map((x) => `${x.scenario} ${x.preset}`).sort(), expectedRows());
  for (const row of rows) assertRow(row);

  // --quick runs the 2-vCPU scaled scenario under sc and tso and skips the 3-vCPU ones.
  assert.deepEqual(
    r.scaled.map((x: Row) => `${x.scenario} ${x.memory}`),
    ['bench-scaled-2vcpu sc', 'bench-scaled-2vcpu tso'],
  );
  for (const row of r.scaled) assertRow(row);
  assert.equal(
    r.totals.generated,
    [...rows, ...r.scaled].reduce((a: number, x: Row) => a + x.generated, 0),
  );
  assert.ok(r.totals.statesPerSecond > 0);
});

test('irqlab bench check --quick prints the machine context and the table', async () => {
  const { stdout, stderr } = await run(process.execPath, [...CLI, '--quick'], OPTS);
  const lines = stdout.split('\n');
  assert.match(lines[0], /^irqlab bench check \(quick: smoke run, figures not meaningful\)/);
  assert.match(lines[0], /node v\d+\.\d+\.\d+ · \d+ cores \(.*\) · \d+ GiB/);
  for (const col of [
    'distinct',
    'generated',
    'depth',
    'median ms',
    'generated/s',
    'distinct/s',
    'runs',
    'store B/state',
    'ample: distinct',
    're-run',
  ]) {
    assert.ok(stdout.includes(col), `missing column: ${col}`);
  }
  for (const row of expectedRows()) {
    const [scenario, preset] = row.split(' ');
    assert.ok(
      lines.some((l) => l.startsWith(`| ${scenario} `) && l.includes(` ${preset} `)),
      `no table row for ${row}`,
    );
  }
  assert.ok(stdout.includes('bench-scaled-2vcpu'));
  assert.ok(!stdout.includes('bench-scaled-3vcpu'), '--quick skips the 3-vCPU scenario');
  assert.match(stdout, /^all rows: /m);
  assert.match(stderr, /^check: seed-001 /m, 'progress goes to stderr');
});

test('irqlab bench check: an unknown flag exits with code 2', async () => {
  await assert.rejects(run(process.execPath, [...CLI, '--quik'], OPTS), (e: { code?: number }) => {
    assert.equal(e.code, 2);
    return true;
  });
});

// The scaled scenario as a file for `irqlab check`: its state space is the one that
// ../shared/bench/spin/README.md gives for the 2-vCPU scenario (Spin and irqlab alike: 25,906
// distinct states, 76,163 transitions, depth 41).
test('bench check --scenario 2 prints a scenario file that irqlab check reads, with the 2-vCPU state space', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-scaled-'));
  try {
    const { stdout } = await run(process.execPath, [...CLI, '--scenario', '2'], OPTS);
    const file = join(dir, 'scaled-2vcpu.json');
    writeFileSync(file, stdout);
    const out = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'check', file, '--json', '--workers', '1'],
      OPTS,
    );
    const r = JSON.parse(out.stdout).results[0];
    assert.equal(r.scenario, 'bench-scaled-2vcpu');
    assert.equal(r.verdict, 'holds');
    assert.equal(r.distinct, 25906);
    assert.equal(r.generated, 76163);
    assert.equal(r.depth, 41);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench check --scenario refuses a count out of range and other options, in one line, exit 2', async () => {
  for (const args of [
    ['--scenario', '0'],
    ['--scenario', '9'],
    ['--scenario', '2', '--spin'],
  ]) {
    const e = (await run(process.execPath, [...CLI, ...args], OPTS).catch((x) => x)) as {
      code: number;
      stderr: string;
    };
    assert.equal(e.code, 2, args.join(' '));
    assert.match(e.stderr, /^irqlab: --scenario: [^\n]+\n$/);
  }
});
