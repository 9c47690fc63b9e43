/**
 * The peer-suite built-ins (kut-* from kvm-unit-tests, st-* from the KVM selftests): each is run
 * with the other built-ins by test/run/runner.test.ts; here, docs/peer-suites.md and the built-ins
 * agree, and one of them runs as a user runs it, through the CLI, where a wrong expectation fails.
 * The expectations come from the peer test's own assertions (named in each file's `source`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILTIN = join(ROOT, 'src', 'scenarios', 'builtin');
const DOC = join(ROOT, 'docs', 'peer-suites.md');

function run(what: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', what], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const peerBuiltins = readdirSync(BUILTIN)
  .filter((n) => /^(kut|st)-.*\.json$/.test(n))
  .map((n) => n.slice(0, -'.json'.length))
  .sort();

const tmp = mkdtempSync(join(tmpdir(), 'irqlab-peer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('peer-suite built-ins', () => {
  it('docs/peer-suites.md names every peer built-in, and every scenario it names exists', () => {
    const doc = readFileSync(DOC, 'utf8');
    const named = new Set([...doc.matchAll(/\b((?:kut|st)-[a-z0-9-]+)\b/g)].map((m) => m[1]));
    const builtins = new Set(readdirSync(BUILTIN).map((n) => n.replace(/\.json$/, '')));
    for (const n of peerBuiltins) assert.ok(named.has(n), `${n} is not in docs/peer-suites.md`);
    for (const n of named) assert.ok(builtins.has(n), `docs/peer-suites.md names ${n}, which is no built-in`);
  });

  it('the counts table says what the rows say (yes, partly and no after, per suite and in all)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const sections = doc.split('\n## ');
    const suites: [string, string][] = [
      ['apic.c', 'kvm-unit-tests x86/apic.c'],
      ['ioapic.c', 'kvm-unit-tests x86/ioapic.c'],
      ['vmx_tests.c', 'kvm-unit-tests x86/vmx_tests.c'],
      ['selftests', 'KVM selftests'],
    ];
    const total = { yes: 0, partly: 0, no: 0 };
    const countsRow = (name: string) => {
      const line = doc.split('\n').find((l) => l.replaceAll('*', '').startsWith(`| ${name} |`));
      assert.ok(line, `no counts row for ${name}`);
      // suite | functions | in scope | yes before | yes after | partly before | partly after | no before | no after | out
      const c = line
        .split('|')
        .slice(1, -1)
        .map((x) => x.replaceAll('*', '').trim());
      return { yes: Number(c[4]), partly: Number(c[6]), no: Number(c[8]) };
    };
    for (const [name, heading] of suites) {
      const sec = sections.find((x) => x.startsWith(heading));
      assert.ok(sec, `no section ${heading}`);
      const got = { yes: 0, partly: 0, no: 0 };
      for (const line of sec.split('\n')) {
        const cells = line
          .split('|')
          .slice(1, -1)
          .map((x) => x.trim());
        if (cells.length < 3 || !(cells[1] in got)) continue;
        got[cells[1] as keyof typeof got]++;
      }
      assert.deepEqual(got, countsRow(name), name);
      total.yes += got.yes;
      total.partly += got.partly;
      total.no += got.no;
    }
    assert.deepEqual(total, countsRow('all'));
  });

  it('a peer built-in runs by name through the CLI', () => {
    const r = run('kut-ioapic-level-retrigger');
    assert.equal(r.code, 0, r.out);
  });

  it('a wrong expectation fails (the level retrigger delivered only once)', () => {
    const s = JSON.parse(readFileSync(join(BUILTIN, 'kut-ioapic-level-retrigger.json'), 'utf8'));
    s.expect.hostIrqs['0'] = ['0x9a'];
    const file = join(tmp, 'wrong.json');
    writeFileSync(file, JSON.stringify(s));
    assert.equal(run(file).code, 1);
  });
});
