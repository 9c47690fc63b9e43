/**
 * The scenario files of scenarios/peer/, each a kvm-unit-tests case written in the scenario
 * format, run as a user runs them (`irqlab run <file>`): every expectation must hold. The
 * expectations come from the peer test's own assertions (named in each file's `source`). Through
 * the CLI, so the check survives a change of the engine behind `run`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'scenarios', 'peer');

function run(file: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', file], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'irqlab-peer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('scenarios/peer: kvm-unit-tests cases as scenario files', () => {
  for (const f of readdirSync(DIR).filter((n) => n.endsWith('.json'))) {
    it(f, () => {
      const r = run(join(DIR, f));
      assert.equal(r.code, 0, r.out);
    });
  }

  it('a wrong expectation fails (the level retrigger delivered only once)', () => {
    const s = JSON.parse(readFileSync(join(DIR, 'kut-ioapic-level-retrigger.json'), 'utf8'));
    s.expect.hostIrqs['0'] = ['0x9a'];
    const file = join(tmp, 'wrong.json');
    writeFileSync(file, JSON.stringify(s));
    assert.equal(run(file).code, 1);
  });
});
