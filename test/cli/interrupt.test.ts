/**
 * Ctrl-C during a long check (docs/cli.md, decision 0170): the search runs in a thread of its own,
 * so the CLI takes SIGINT while it runs, stops within a second, prints the partial counts as
 * `incomplete: interrupted` and exits 130, with and without --json. The check is the 3-vCPU
 * scaled seed 004 of `irqlab bench check` (1.3 million states, many seconds), written to a file;
 * the signal is sent once the first progress line shows the search under way.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scaledScenario } from '../../src/bench/check.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'irqlab-interrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** src/bench/check.ts's scaledScenario(3), written out as a scenario file. */
function scaledFile(): string {
  const f = join(dir, 'scaled-3vcpu.json');
  writeFileSync(f, JSON.stringify(scaledScenario(3)));
  return f;
}

interface Interrupted {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the signal to the exit. */
  afterSignalMs: number;
}

/** Runs `irqlab check <file> ...args --progress`, sends SIGINT after the first progress line. */
function interruptCheck(file: string, ...args: string[]): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'check', file, '--progress', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    let sentAt = -1;
    const kill = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`no exit within 60 s; stderr: ${stderr}`));
    }, 60_000);
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
      if (sentAt < 0 && /states\/s/.test(stderr)) {
        sentAt = performance.now();
        p.kill('SIGINT');
      }
    });
    p.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr, afterSignalMs: sentAt < 0 ? -1 : performance.now() - sentAt });
    });
  });
}

describe('Ctrl-C during a check', () => {
  const file = scaledFile();

  test('text: incomplete: interrupted with the partial counts, exit 130, promptly', async () => {
    const r = await interruptCheck(file);
    assert.ok(r.afterSignalMs >= 0, `no progress line before the end: ${r.stderr}`);
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stdout, /incomplete: interrupted · (\d+) distinct states, (\d+) generated/);
    const [, distinct] = r.stdout.match(/· (\d+) distinct states/)!;
    assert.ok(Number(distinct) > 1, 'the partial counts are those of the search so far');
    assert.ok(Number(distinct) < 1_322_866, 'stopped before the whole space (1,322,866 states)');
    // Generous: the bound is the test's, the promise (1 s) is docs/cli.md's; tests never fail on time
    // figures tighter than that.
    assert.ok(r.afterSignalMs < 10_000, `exited ${Math.round(r.afterSignalMs)} ms after SIGINT`);
  });

  test('--json: verdict incomplete, reason interrupted, exit 130', async () => {
    const r = await interruptCheck(file, '--json');
    assert.ok(r.afterSignalMs >= 0, `no progress line before the end: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.results.length, 1);
    assert.equal(doc.results[0].verdict, 'incomplete');
    assert.equal(doc.results[0].reason, 'interrupted');
    assert.ok(doc.results[0].distinct > 1);
    assert.ok(r.afterSignalMs < 10_000, `exited ${Math.round(r.afterSignalMs)} ms after SIGINT`);
  });
});
