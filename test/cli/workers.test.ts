/**
 * `irqlab check --workers` (docs/cli.md): a count that is not a positive integer, or above the
 * 64 threads the parallel search has control words for, is one line on stderr and exit 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

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
