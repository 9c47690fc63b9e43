/**
 * `irqlab check --variant` as a user types it: a bad value is one line on stderr and exit 2, and
 * nothing is checked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KNOBS } from '../../src/model/kvm/variants.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'check', 'seed-004', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const cases: [string, string[], string][] = [
  [
    'an empty value',
    ['--variant', ''],
    'irqlab: --variant: empty value (give a preset of the scenario, "current", or knob=value pairs)',
  ],
  [
    'a knob given twice',
    ['--variant', 'load=clear-sn,load=clear-sn'],
    'irqlab: --variant: knob load is given twice',
  ],
  [
    'an unknown knob',
    ['--variant', 'lod=clear-sn'],
    `irqlab: --variant: unknown knob "lod" (knobs: ${Object.keys(KNOBS).join(', ')})`,
  ],
  [
    '--variant with --all-variants',
    ['--variant', 'before', '--all-variants'],
    'irqlab: give either --variant or --all-variants, not both',
  ],
];

for (const [what, args, line] of cases) {
  test(what, async () => {
    const r = await check(...args);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${line}\n`);
  });
}
