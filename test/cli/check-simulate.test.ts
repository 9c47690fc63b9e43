/**
 * `irqlab check --simulate` through the CLI (docs/cli.md, "--simulate"): random runs through the
 * same model and monitors as the exhaustive search. Seed 004's "before" variant is the upstream
 * bug (a vector posted while notifications were suppressed is never synced: ../shared/seeds/), so
 * random runs of it meet no-stuck-pir and exit as an invariant violation does (12); the "after"
 * variant is the fix, and finding nothing is exit 0 with "not a proof". The same seed gives the
 * same output. And the options of one mode given to the other are refused in one line, exit 2,
 * instead of being ignored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from './support.ts';

test('random runs of the buggy variant meet no-stuck-pir; of the fix, nothing; same seed, same output', async () => {
  const [before, again, after] = await Promise.all([
    cli('check', 'seed-004', '--variant', 'before', '--simulate', '--seed', '1', '--runs', '1000'),
    cli('check', 'seed-004', '--variant', 'before', '--simulate', '--seed', '1', '--runs', '1000'),
    cli('check', 'seed-004', '--variant', 'after', '--simulate', '--seed', '1', '--runs', '200'),
  ]);
  assert.equal(before.code, 12, before.stderr);
  assert.match(before.stdout, /violated: no-stuck-pir \(invariant\)/);
  assert.equal(again.stdout.replace(/\d+\.\d+ s\n/g, ''), before.stdout.replace(/\d+\.\d+ s\n/g, ''));
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /seed 1, 200 run\(s\)/);
  assert.match(after.stdout, /no violation found \(random simulation: not a proof\)/);
});

test("one mode's options in the other are refused in one line, exit 2", async () => {
  const cases: [string[], string][] = [
    [['--simulate', '--reduce', 'ample'], '--reduce: not with --simulate (it sets the exhaustive search)'],
    [['--simulate', '--workers', '2'], '--workers: not with --simulate (it sets the exhaustive search)'],
    [
      ['--simulate', '--max-states', '10'],
      '--max-states: not with --simulate (it sets the exhaustive search)',
    ],
    [['--seed', '3'], '--seed: only with --simulate'],
    [['--runs', '5'], '--runs: only with --simulate'],
  ];
  const results = await Promise.all(cases.map(([args]) => cli('check', 'seed-004', ...args)));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, cases[i][0].join(' '));
    assert.equal(r.stderr, `irqlab: ${cases[i][1]}\n`);
    assert.equal(r.stdout, '');
  });
});
