/**
 * The bundled entries of the build (scripts/build.mjs, docs/decisions/0260-bundled-entries.md)
 * answer as the sources do: the CLI's bundle, which bin/irqlab.mjs runs, and the bundles of the
 * search thread, the parallel search's helper and the Spin comparison's search process. Each case
 * runs one command both ways, the build through bin/irqlab.mjs and the sources through tsx, and
 * compares what they print, the run times aside. The commands are those that find a file beside
 * their module (built-ins, simulations, cost tables, the report page, the WebAssembly comparison,
 * the worker bootstrap), which a bundle would break if a module lost its own `import.meta.url`.
 *
 * Runs where dist/ holds a current build (CI builds it on install); skipped in a checkout edited
 * since its last build, where bin/irqlab.mjs runs the sources itself.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scaledScenario } from '../../src/bench/scaled.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const ENV = { ...process.env, NO_COLOR: '1' };
const scratch = mkdtempSync(join(tmpdir(), 'irqlab-bundle-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Why the build cannot be run (bin/irqlab.mjs says so on stderr), or '' when it runs it. */
const probe = spawnSync(process.execPath, ['bin/irqlab.mjs', '--version'], {
  cwd: ROOT,
  encoding: 'utf8',
  env: ENV,
});
const stale = probe.status === 0 && probe.stderr === '' ? '' : probe.stderr.trim() || 'bin/irqlab.mjs failed';
const opts = { skip: stale === '' ? false : `no current build: ${stale}` };

async function both(args: string[]): Promise<{ built: string; sources: string }> {
  const o = { cwd: ROOT, env: ENV, timeout: 120_000, maxBuffer: 1 << 26 };
  const [b, s] = await Promise.all([
    run(process.execPath, ['bin/irqlab.mjs', ...args], o),
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], o),
  ]);
  return { built: b.stdout, sources: s.stdout };
}

/** A JSON document with every time, rate and thread count taken out (they differ run to run). */
function timeless(text: string): unknown {
  return JSON.parse(text, (k, v) =>
    /(ms|Ms|MS|S|seconds|perSecond|PerSecond|elapsed|Elapsed|threads|rss|Rss|timeMs)$/.test(k) ||
    /^(cpuS|wallS|generatedPerS|distinctPerS|peakRssBytes|storeBytes|storeBytesPerState|loadBefore|loadAfter)$/.test(
      k,
    )
      ? undefined
      : v,
  );
}

test('check --all --json: the built CLI answers as the sources', opts, async () => {
  const { built, sources } = await both(['check', '--all', '--json']);
  assert.deepEqual(timeless(built), timeless(sources));
});

test('a check long enough for its own thread and a helper: the same verdict and counts', opts, async () => {
  // The 3-vCPU scaled seed 004 with --reduce ample: about 1.5 s of search, so the check moves to
  // its search thread (background.ts) and, on two cores or more, starts a helper at its first
  // level of 4,096 states (parallel.ts): both threads run their bundles from the build.
  const file = join(scratch, 'scaled-3vcpu.json');
  writeFileSync(file, JSON.stringify(scaledScenario(3)));
  const { built, sources } = await both(['check', file, '--reduce', 'ample', '--workers', '2', '--json']);
  const b = JSON.parse(built);
  const s = JSON.parse(sources);
  const counts = (d: { results: { verdict: string; distinct: number; generated: number }[] }) =>
    d.results.map((r) => [r.verdict, r.distinct, r.generated]);
  assert.deepEqual(counts(b), counts(s));
});

test(
  'sim, costs and the Spin comparison (without Spin): the built CLI answers as the sources',
  opts,
  async () => {
    for (const args of [
      ['sim', 'sim-000-harvest', '--replications', '2', '--duration', '2ms', '--json'],
      ['costs', 'amd-epyc', '--json'],
    ]) {
      const { built, sources } = await both(args);
      assert.deepEqual(timeless(built), timeless(sources), args.join(' '));
    }
  },
);

test('report: the built CLI writes the page the sources write', opts, async () => {
  const outB = join(scratch, 'built.html');
  const outS = join(scratch, 'sources.html');
  const o = { cwd: ROOT, env: ENV, timeout: 120_000 };
  await Promise.all([
    run(process.execPath, ['bin/irqlab.mjs', 'report', 'seed-004-loop', '--out', outB], o),
    run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', 'seed-004-loop', '--out', outS],
      o,
    ),
  ]);
  const b = readFileSync(outB, 'utf8');
  const s = readFileSync(outS, 'utf8');
  assert.ok(b.length > 10_000, 'a page with its script');
  // The page embeds the run's data, whose times differ: compare its size to within 1%.
  assert.ok(Math.abs(b.length - s.length) < 0.01 * s.length, `${b.length} against ${s.length} bytes`);
});

test(
  "bench check --spin without Spin: the built search processes count what the sources' count",
  opts,
  async () => {
    // No spin or gcc on this PATH: irqlab's rows alone, each a search process (spin-run's bundle).
    const empty = mkdtempSync(join(scratch, 'path-'));
    const o = { cwd: ROOT, env: { ...ENV, PATH: empty }, timeout: 120_000, maxBuffer: 1 << 26 };
    const args = ['bench', 'check', '--spin', '--n', '2', '--json'];
    const [b, s] = await Promise.all([
      run(process.execPath, ['bin/irqlab.mjs', ...args], o),
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], o),
    ]);
    const rows = (text: string) => {
      const c = JSON.parse(text).result.cases[0];
      return [c.irqlab, c.threads, c.ample, c.ampleThreads].map(
        (r) => r && [r.tool, r.verdict, r.distinct, r.generated],
      );
    };
    assert.deepEqual(rows(b.stdout), rows(s.stdout));
  },
);
