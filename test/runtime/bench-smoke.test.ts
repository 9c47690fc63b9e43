/** `irqlab bench runtime --quick` runs and prints its tables (the figures are not checked). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HEADINGS } from '../../src/bench/runtime/index.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'runtime'];

test('irqlab bench runtime --quick prints the table headings', async () => {
  const { stdout } = await run(process.execPath, [...cli, '--quick'], { cwd: root, timeout: 60_000 });
  for (const h of Object.values(HEADINGS)) assert.ok(stdout.includes(h), `missing heading: ${h}`);
  for (const col of ['events/s', 'p50 us', 'p99 us', 'ns/harvest', 'loads', 'xchgs', 'posts/notification']) {
    assert.ok(stdout.includes(col), `missing column: ${col}`);
  }
  assert.match(stdout, /machine: \d+ cores/);
  for (const t of ['pi-channel', 'notify-per-event', 'MessagePort']) assert.ok(stdout.includes(t));
  assert.match(stdout, /goal: .*: [\d.]+x \((met|not met)\)/);
});

test('irqlab bench runtime --quick --json prints one JSON document', async () => {
  const { stdout } = await run(process.execPath, [...cli, '--quick', '--json'], {
    cwd: root,
    timeout: 60_000,
  });
  const doc = JSON.parse(stdout);
  assert.equal(doc.tool, 'irqlab');
  assert.equal(doc.command, 'bench runtime');
  assert.equal(doc.result.mode, 'quick');
  assert.equal(typeof doc.result.machine.cores, 'number');
  assert.equal(doc.result.harvest.length, 2 * 2 * 5);
  assert.equal(doc.result.throughput.length, 4 * 2);
});

test('a bad flag exits with code 2', async () => {
  await assert.rejects(
    run(process.execPath, [...cli, '--kernel', 'gpu'], { cwd: root }),
    (e: { code?: number }) => {
      assert.equal(e.code, 2);
      return true;
    },
  );
});
