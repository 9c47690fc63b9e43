/**
 * `irqlab check --workers` (docs/cli.md): a count that is not a positive integer, or above the
 * 64 threads the parallel search has control words for, is one line on stderr and exit 2; so are
 * several threads asked for with a depth-first search, which runs on one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from './support.ts';

test('--workers 0 and --workers 65 are refused in one line, exit 2', async () => {
  const [zero, many] = await Promise.all([
    cli('check', 'seed-004', '--workers', '0'),
    cli('check', 'seed-004', '--workers', '65'),
  ]);
  assert.equal(zero.code, 2);
  assert.equal(zero.stderr, 'irqlab: --workers: expected a positive integer, got "0"\n');
  assert.equal(zero.stdout, '');
  assert.equal(many.code, 2);
  assert.equal(many.stderr, 'irqlab: --workers: at most 64, got 65\n');
});

test('--workers 2 with --strategy dfs is refused in one line, exit 2', async () => {
  const dfs = await cli('check', 'seed-004', '--workers', '2', '--strategy', 'dfs');
  assert.equal(dfs.code, 2);
  assert.equal(
    dfs.stderr,
    'irqlab: --workers: the search on several threads is breadth-first; give --workers 1 with --strategy dfs\n',
  );
  assert.equal(dfs.stdout, '');
});

// The reduced search runs on several threads too (decision 0252; its answers against one thread
// are test/check/parallel.test.ts's): the CLI takes the two options together.
test('--workers 2 with --reduce ample gives the answer of --workers 1', async () => {
  const run = (w: string) =>
    cli('check', 'seed-002', '--variant', 'before', '--reduce', 'ample', '--workers', w, '--json');
  const [one, two] = await Promise.all([run('1'), run('2')]);
  assert.equal(one.code, 12, `an invariant's violation exits 12 (docs/cli.md): ${one.stderr}`);
  assert.equal(two.code, one.code, two.stderr);
  const strip = (out: string) => {
    const r = JSON.parse(out).results[0];
    return {
      ...r,
      timeMs: 0,
      threads: 0,
      reduction: {
        ...r.reduction,
        reduced: { ...r.reduction.reduced, elapsedMs: 0 },
        rerun: { ...r.reduction.rerun, elapsedMs: 0 },
      },
    };
  };
  const a = strip(one.stdout);
  assert.equal(a.verdict, 'violated');
  assert.equal(a.reduction.name, 'ample');
  assert.deepEqual(strip(two.stdout), a);
});
