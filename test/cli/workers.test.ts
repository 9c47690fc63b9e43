/**
 * `irqlab check --workers` (docs/cli.md): a count that is not a positive integer, or above the
 * 64 threads the parallel search has control words for, is one line on stderr and exit 2; so are
 * several threads asked for with a depth-first or a reduced search, which run on one.
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

test('--workers 2 with --strategy dfs or --reduce ample is refused in one line, exit 2', async () => {
  const [dfs, ample] = await Promise.all([
    cli('check', 'seed-004', '--workers', '2', '--strategy', 'dfs'),
    cli('check', 'seed-004', '--workers', '2', '--reduce', 'ample'),
  ]);
  assert.equal(dfs.code, 2);
  assert.equal(
    dfs.stderr,
    'irqlab: --workers: the search on several threads is breadth-first; give --workers 1 with --strategy dfs\n',
  );
  assert.equal(ample.code, 2);
  assert.equal(
    ample.stderr,
    'irqlab: --workers: the search on several threads is unreduced; give --workers 1 with --reduce ample\n',
  );
  assert.equal(ample.stdout, '');
});
