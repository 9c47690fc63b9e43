/**
 * `irqlab litmus` as a user runs it: exit codes, the text report, --json and one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function litmus(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'litmus', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'irqlab-litmus-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('irqlab litmus', () => {
  it('prints Allowed under TSO and Forbidden under SC for SB, with a witness', () => {
    const o = litmus('test/litmus/SB.litmus', 'test/litmus/MP.litmus');
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /^X86 SB \(test\/litmus\/SB\.litmus\): exists \(0:EAX=0 \/\\ 1:EAX=0\)$/m);
    assert.match(o.stdout, /^ {2}TSO Allowed +Ok · Observation SB Sometimes 1 3 · 4 outcome\(s\)/m);
    assert.match(o.stdout, /^ {2}SC +Forbidden No · Observation SB Never 0 3 · 3 outcome\(s\)/m);
    assert.match(o.stdout, /^ +1\. P0: MOV \[x\],\$1 \(buffered\)$/m);
    assert.match(o.stdout, /P0: flush x=1/);
    assert.match(o.stdout, /final: 0:EAX=0; 1:EAX=0; x=1; y=1/);
    assert.match(o.stdout, /^ {2}TSO Forbidden No · Observation MP Never/m);
  });

  it('--json: one document with the envelope, per test and per memory model', () => {
    const o = litmus('--json', '--memory', 'tso', 'test/litmus/pi-handshake.litmus');
    assert.equal(o.code, 0, o.stderr);
    const doc = JSON.parse(o.stdout);
    assert.equal(doc.schemaVersion, 1);
    assert.equal(doc.tool, 'irqlab');
    assert.equal(doc.command, 'litmus');
    assert.equal(typeof doc.version, 'string');
    assert.equal(doc.results.length, 1);
    const [r] = doc.results;
    assert.equal(r.name, 'pi-handshake');
    assert.equal(r.condition.quantifier, 'exists');
    assert.deepEqual(
      r.models.map((m: { memory: string; verdict: string }) => [m.memory, m.verdict]),
      [['tso', 'allowed']],
    );
    assert.ok(r.models[0].witness.steps.length > 0);
    assert.deepEqual(r.models[0].witness.path.length, r.models[0].witness.steps.length);
  });

  it('a malformed file: exit 2, one line file:line on stderr, nothing on stdout', () => {
    const bad = join(tmp, 'bad.litmus');
    writeFileSync(bad, 'X86 bad\n{}\n P0 ;\n MOV [x],$1 ;\n BTS [x],$1 ;\nexists (x=1)\n');
    const o = litmus('test/litmus/SB.litmus', bad);
    assert.equal(o.code, 2);
    assert.equal(o.stdout, '');
    assert.equal(o.stderr.trimEnd().split('\n').length, 1, o.stderr);
    assert.match(o.stderr, /^irqlab: .*bad\.litmus:5: P0: unsupported instruction "BTS \[x\],\$1"/);
  });

  it('X86_64 tests in AT&T syntax: the architecture in the header, registers as herd names them', () => {
    const o = litmus('test/litmus/x86_64/MP+spin.litmus', 'test/litmus/x86_64/spinlock.litmus');
    assert.equal(o.code, 0, o.stderr);
    assert.match(
      o.stdout,
      /^X86_64 MP\+spin \(test\/litmus\/x86_64\/MP\+spin\.litmus\): exists \(1:rbx=0\)$/m,
    );
    assert.match(o.stdout, /^ {2}TSO Forbidden No · Observation MP\+spin Never 0 1 · 1 outcome\(s\)/m);
    assert.match(o.stdout, /^ {2}SC +Forbidden No · Observation spinlock Never 0 1/m);
  });

  it('an AT&T construct irqlab refuses: exit 2, one line naming the file, the line and the construct', () => {
    const bad = join(tmp, 'mixed.litmus');
    writeFileSync(bad, 'X86_64 mixed\n{ int x; }\n P0 ;\n endbr64 ;\n movq $1,(x) ;\nexists ([x]=1)\n');
    const o = litmus(bad);
    assert.equal(o.code, 2);
    assert.equal(o.stdout, '');
    assert.match(
      o.stderr,
      /^irqlab: .*mixed\.litmus:5: P0: movq \$1,\(x\): an 8-byte access to x, which is an int \(4 bytes\): mixed-size accesses are not supported\n$/,
    );
  });

  it('bad options and missing files: exit 2, one line', () => {
    const m = litmus('--memory', 'pso', 'test/litmus/SB.litmus');
    assert.equal(m.code, 2);
    assert.match(m.stderr, /^irqlab: --memory: expected sc, tso or both, got "pso"\n$/);
    const f = litmus(join(tmp, 'missing.litmus'));
    assert.equal(f.code, 2);
    assert.match(f.stderr, /^irqlab: .*missing\.litmus: cannot read: ENOENT\n$/);
  });
});
