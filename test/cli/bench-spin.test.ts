/**
 * `irqlab bench check --spin` through the CLI: the shape of its output, never its figures (no test
 * fails on time). Without Spin (PATH emptied) it says so in one line and prints irqlab's rows; with
 * Spin installed (else skipped) Spin's distinct and generated counts equal irqlab's one-thread
 * counts on the 2-vCPU scaled scenario, as bench/spin/scaled.pml promises.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spinMissing } from '../../src/bench/spin.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'check', '--spin'];
const OPTS = { cwd: ROOT, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } };
/** A PATH with no spin and no gcc in it. */
const EMPTY = mkdtempSync(join(tmpdir(), 'irqlab-nospin-'));
after(() => rmSync(EMPTY, { recursive: true, force: true }));

interface Row {
  tool: string;
  verdict: string;
  distinct: number;
  generated: number;
  cpuS: number;
  wallS: number;
  peakRssBytes: number;
  searchCpuS: number;
  storeBytesPerState: number;
}

/**
 * `hundredths`: the row's times come from GNU time, which counts hundredths of a second, and pan
 * searches the 2-vCPU scenario in about 10 ms: a median of 0.00 is a reading, not a fault.
 */
function assertRow(r: Row, tool: RegExp, hundredths = false): void {
  assert.match(r.tool, tool);
  assert.equal(r.verdict, 'holds', `${r.tool}: the scaled scenario holds`);
  assert.ok(Number.isInteger(r.distinct) && r.distinct > 0, `${r.tool}: distinct ${r.distinct}`);
  assert.ok(Number.isInteger(r.generated) && r.generated >= r.distinct - 1, `${r.tool}: generated`);
  const least = hundredths ? 0 : Number.MIN_VALUE;
  assert.ok(
    r.cpuS >= least && r.wallS >= least && r.searchCpuS >= least && r.searchCpuS <= r.cpuS,
    `${r.tool}: times ${r.cpuS} ${r.wallS} ${r.searchCpuS}`,
  );
  assert.ok(r.peakRssBytes > 1 << 20, `${r.tool}: peak RSS ${r.peakRssBytes}`);
  assert.ok(r.storeBytesPerState > 0, `${r.tool}: store bytes per state`);
}

test('bench check --spin without spin: one line says so, irqlab figures still printed', async () => {
  const { stdout } = await run(process.execPath, [...CLI, '--n', '2'], {
    ...OPTS,
    env: { ...OPTS.env, PATH: EMPTY },
  });
  const lines = stdout.split('\n');
  assert.match(lines[0], /^irqlab bench check --spin · Spin not run · node v\d+/);
  assert.match(lines[0], /load average [\d.]+ [\d.]+ [\d.]+ before/);
  const said = lines.filter((l) => l.startsWith('spin: not run: '));
  assert.equal(said.length, 1, 'one line says Spin did not run');
  assert.match(said[0], /spin, gcc not installed/);
  assert.ok(lines.includes('== scaled seed 004, 2 vCPUs (3 vectors), sc'));
  for (const col of ['distinct', 'generated', 'CPU s', 'wall s', 'peak RSS MiB'])
    assert.ok(stdout.includes(` ${col} |`), `column ${col}`);
  assert.ok(lines.some((l) => l.startsWith('| irqlab, one thread | holds | ')));
  assert.ok(lines.some((l) => l.startsWith('| irqlab, --reduce ample | holds | ')));
  assert.ok(!lines.some((l) => l.startsWith('| spin ')), 'no Spin row');
  assert.ok(!stdout.includes('irqlab / spin'), 'no ratio without Spin');
});

test('bench check --spin --json without spin: spin null, the reason, irqlab rows', async () => {
  const { stdout } = await run(process.execPath, [...CLI, '--n', '2', '--json'], {
    ...OPTS,
    env: { ...OPTS.env, PATH: EMPTY },
  });
  const doc = JSON.parse(stdout);
  assert.equal(doc.command, 'bench check --spin');
  const r = doc.result;
  assert.equal(r.spin, null);
  assert.match(r.spinMissing, /spin/);
  assert.equal(r.runs, 1);
  assert.equal(r.cases.length, 1);
  const c = r.cases[0];
  assert.equal(c.vcpus, 2);
  assert.equal(c.spin, null);
  assert.equal(c.sameStateSpace, null);
  assertRow(c.irqlab, /^irqlab, one thread$/);
  assertRow(c.ample, /^irqlab, --reduce ample$/);
  assert.ok(c.ample.distinct <= c.irqlab.distinct, 'the reduction does not add states');
  assert.equal(c.irqlab.perRun.length, 1, 'one round');
  assert.equal(c.irqlab.perRun[0].cpuS, c.irqlab.cpuS, "one round's run is the median");
  assert.equal(c.irqlab.threads, 1);
  // --workers defaults to every core: on a machine of several, both searches run on them too.
  assert.equal(
    c.ampleThreads === null,
    c.threads === null,
    'a reduced row on threads beside the unreduced one',
  );
  if (c.ampleThreads !== null) {
    assertRow(c.ampleThreads, /^irqlab, --reduce ample, \d+ threads/);
    assert.equal(c.ampleThreads.distinct, c.ample.distinct, 'the same reduced search on threads');
    assert.equal(c.ampleThreads.generated, c.ample.generated);
  }
});

test('bench check --spin with spin: the counts of Spin and irqlab are equal', {
  skip: spinMissing() !== '' ? `needs ${spinMissing()}` : false,
}, async () => {
  const { stdout } = await run(process.execPath, [...CLI, '--n', '2', '--runs', '2', '--json'], OPTS);
  const c = JSON.parse(stdout).result.cases[0];
  // Two rounds, each tool once per round (decision 0259): every row keeps both runs in order.
  for (const row of [c.spin, c.irqlab, c.ample]) assert.equal(row.perRun.length, 2, row.tool);
  assertRow(c.spin, /^spin -DSAFETY -DNOREDUCE$/, true);
  assertRow(c.irqlab, /^irqlab, one thread$/);
  assert.equal(c.spin.distinct, c.irqlab.distinct, 'scaled.pml reaches as many states as irqlab');
  assert.equal(c.spin.generated, c.irqlab.generated, 'and as many transitions');
  assert.equal(c.sameStateSpace, true);
});

test('bench check --spin: bad options exit 2 with one line', async () => {
  for (const [args, re] of [
    [['--n', '9'], /--n: expected vCPU counts 2\.\.4/],
    [['--runs', '0'], /--runs: expected a positive integer/],
    [['--quick'], /--spin: not with --quick/],
  ] as const) {
    await assert.rejects(
      run(process.execPath, [...CLI, ...args], OPTS),
      (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 2, args.join(' '));
        assert.match(e.stderr ?? '', re);
        assert.equal((e.stderr ?? '').trim().split('\n').length, 1, 'one line');
        return true;
      },
    );
  }
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'check', '--n', '2'], OPTS),
    (e: { code?: number; stderr?: string }) => e.code === 2 && /--n: only with --spin/.test(e.stderr ?? ''),
  );
});
