/**
 * The CLI as a user runs it: each test spawns `node --import tsx src/cli/main.ts ...` and checks
 * exit code, stdout and stderr. A spawn costs about half a second, so the tests run two at a time
 * and each covers what one invocation can show.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify as stringifyYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILTIN_DIR = join(ROOT, 'src/scenarios/builtin');
const YAML_FIXTURE = join(ROOT, 'test/fixtures/guest-and-host-if.yaml');
const builtinNames = readdirSync(BUILTIN_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();
/** The built-ins without steps: concurrent scenarios for `irqlab check`, which `run` refuses. */
const concurrentNames = builtinNames.filter((n) => (builtinRaw(n).steps ?? []).length === 0);
const steppedNames = builtinNames.filter((n) => !concurrentNames.includes(n));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', IRQLAB_DEBUG: '' },
        timeout: 20_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(err);
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'irqlab-cli-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tmpFile(name: string, text: string): string {
  const file = join(tmp, name);
  mkdirSync(tmp, { recursive: true });
  writeFileSync(file, text);
  return file;
}

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

function builtinRaw(name: string): Raw {
  return JSON.parse(readFileSync(join(BUILTIN_DIR, `${name}.json`), 'utf8'));
}

/** Exit 2, nothing on stdout, exactly one line on stderr starting with "irqlab:", no stack trace. */
function assertUsageError(o: Outcome, mentions: string[]): void {
  assert.equal(o.code, 2, `exit code; stderr: ${o.stderr}`);
  assert.equal(o.stdout, '');
  assert.ok(o.stderr.endsWith('\n'), 'stderr ends with a newline');
  const lines = o.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${o.stderr}`);
  assert.ok(lines[0].startsWith('irqlab: '), lines[0]);
  assert.ok(!o.stderr.includes('    at '), 'no stack trace');
  for (const m of mentions) assert.ok(lines[0].includes(m), `stderr mentions ${m}: ${lines[0]}`);
}

const ESC = '\u001b[';

describe('irqlab CLI', { concurrency: 2 }, () => {
  test('list prints every built-in scenario, one per line', async () => {
    const o = await cli('list');
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stderr, '');
    const names = o.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, builtinNames);
  });

  test('run <built-in> prints the trace and the expectations, exit 0', async () => {
    const o = await cli('run', 'tpr-masks-lower-classes');
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stderr, '');
    assert.ok(!o.stdout.includes(ESC), 'no colour with NO_COLOR and a pipe');
    const lines = o.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^tpr-masks-lower-classes: /);
    assert.match(lines[1], /^source: /);
    assert.ok(lines.includes('1. vcpu0: guest writes SELF_IPI 0x45  # class 4 = TPR class: masked'));
    assert.ok(lines.some((l) => /^\d+\. vcpu0 \(hw\): virtual-interrupt delivery/.test(l)));
    assert.ok(lines.includes('expectations:'));
    assert.ok(lines.includes('  ✓ vcpu0 handlers ran: [0x45, 0x32]'));
    assert.match(lines.at(-1)!, /^ok: (\d+)\/\1 expectations hold$/);
  });

  test('run --all prints a table of the scenarios with steps, says which it skipped, and exits 0', async () => {
    assert.ok(concurrentNames.length > 0, 'some built-ins are concurrent scenarios');
    const [o, json] = await Promise.all([cli('run', '--all'), cli('run', '--all', '--json')]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stderr, '');
    const lines = o.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^scenario\s+steps\s+expectations\s+result$/);
    const rows = lines.slice(1, -2);
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/)[0]),
      steppedNames,
    );
    for (const r of rows) assert.match(r, /^\S+\s+[1-9]\d*\s+([1-9]\d*)\/\1\s+ok$/, r);
    assert.equal(
      lines.at(-2),
      `${steppedNames.length}/${steppedNames.length} scenarios hold their expectations`,
    );
    assert.equal(
      lines.at(-1),
      `${concurrentNames.length} scenarios without steps skipped (${concurrentNames.join(', ')}): they describe concurrent actors, check them with 'irqlab check --all'`,
    );
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.ok, true);
    assert.deepEqual(
      doc.rows.map((r: { name: string }) => r.name),
      steppedNames,
    );
    assert.deepEqual(doc.skipped, concurrentNames);
  });

  test('run <concurrent scenario> is a usage error pointing to check', async () => {
    const name = concurrentNames[0];
    const raw = builtinRaw(name);
    const file = tmpFile('concurrent.json', JSON.stringify(raw));
    const [builtin, fromFile] = await Promise.all([cli('run', name), cli('run', file)]);
    assertUsageError(builtin, [
      `irqlab: ${name} has no steps: it is a concurrent scenario, use 'irqlab check ${name}'`,
    ]);
    assertUsageError(fromFile, [
      `irqlab: ${file} has no steps: it is a concurrent scenario, use 'irqlab check ${file}'`,
    ]);
  });

  test('a step the state does not allow is a usage error naming the file and the step', async () => {
    const raw = builtinRaw('external-interrupt-exit');
    raw.steps.push({ do: 'vm.exit', vcpu: 0 });
    const file = tmpFile('exit-in-root-mode.json', JSON.stringify(raw));
    const o = await cli('run', file);
    assertUsageError(o, [
      `irqlab: ${file}: steps[${raw.steps.length - 1}]: vcpu0 is not running in guest mode`,
    ]);
    const entry = builtinRaw('external-interrupt-exit');
    entry.machine.pcpus = 2;
    entry.steps = [{ do: 'vm.entry', vcpu: 0, pcpu: 1 }];
    const moved = await cli('run', tmpFile('entry-while-running.json', JSON.stringify(entry)));
    assertUsageError(moved, [
      'entry-while-running.json: steps[0]: vcpu0 already runs in guest mode on pcpu0',
    ]);
  });

  test('run <built-in> --json prints one JSON document with the result and the trace', async () => {
    const o = await cli('run', 'notification-pending-at-entry', '--json');
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stderr, '');
    assert.ok(!o.stdout.includes(ESC));
    const doc = JSON.parse(o.stdout);
    assert.equal(doc.schemaVersion, 1);
    assert.equal(doc.tool, 'irqlab');
    assert.equal(doc.command, 'run');
    assert.equal(doc.scenario.name, 'notification-pending-at-entry');
    assert.equal(doc.result.ok, true);
    assert.ok(doc.result.expectations.length > 0);
    assert.ok(doc.result.expectations.every((e: { ok: boolean }) => e.ok));
    assert.ok(Array.isArray(doc.trace) && doc.trace.length > 0);
    assert.deepEqual(Object.keys(doc.trace[0]).sort(), [
      'action',
      'actor',
      'changes',
      'events',
      'fn',
      'hardware',
      'label',
      'n',
      'note',
      'reads',
      'step',
      'vcpu',
    ]);
    assert.equal(doc.trace[0].step, 0);
  });

  test('run <AVIC built-in> shows the incomplete IPI with its cause, and --json its events', async () => {
    const [o, json] = await Promise.all([
      cli('run', 'avic-ipi-target-not-running'),
      cli('run', 'avic-ga-post-blocked-logs', '--json'),
    ]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stderr, '');
    const lines = o.stdout.trimEnd().split('\n');
    assert.ok(
      lines.includes(
        '1. vcpu0: guest writes ICR: fixed 0x41 dest 1; VM exit AVIC_INCOMPLETE_IPI (TARGET_NOT_RUNNING)  # vcpu1 is not loaded: IsRunning=0, no doorbell',
      ),
      o.stdout,
    );
    assert.ok(lines.includes('  ✓ vcpu0 VM exits: [AVIC_INCOMPLETE_IPI]'));
    assert.match(lines.at(-1)!, /^ok: (\d+)\/\1 expectations hold$/);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    const kinds = doc.trace.flatMap((e: { events: { kind: string }[] }) => e.events.map((ev) => ev.kind));
    for (const k of ['vmexit', 'ga_post', 'ga_log', 'vmentry', 'deliver']) assert.ok(kinds.includes(k), k);
    // The host's GA-log handler runs as the second instruction of the posting step.
    const wake = doc.trace.find((e: { action: string }) => e.action.includes('GA log: wake vcpu0'));
    assert.ok(wake, 'a trace entry for the GA-log wake-up');
    assert.equal(wake.actor, 'host');
    assert.equal(wake.fn, 'avic_ga_log_notifier');
    assert.equal(wake.hardware, false);
  });

  test('run <file.yaml> runs a scenario file', async () => {
    const o = await cli('run', YAML_FIXTURE);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /^guest-and-host-if: /);
    assert.match(o.stdout, /\nok: 9\/9 expectations hold\n$/);
  });

  test('a scenario whose expectation fails exits 1 and shows the failure', async () => {
    const raw = builtinRaw('tpr-masks-lower-classes');
    raw.expect.delivered['0'] = ['0x32', '0x45'];
    const file = tmpFile('wrong-order.json', JSON.stringify(raw));
    const [text, json] = await Promise.all([cli('run', file), cli('run', file, '--json')]);
    assert.equal(text.code, 1, text.stderr);
    assert.equal(text.stderr, '');
    assert.ok(text.stdout.includes('  × vcpu0 handlers ran: expected [0x32, 0x45], got [0x45, 0x32]'));
    assert.match(text.stdout, /\nFAILED: 4\/5 expectations hold\n$/);
    assert.equal(json.code, 1, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.result.ok, false);
    assert.deepEqual(
      doc.result.expectations.filter((e: { ok: boolean }) => !e.ok).map((e: { what: string }) => e.what),
      ['vcpu0 handlers ran'],
    );
  });

  test('bad scenario files: exit 2 with one line on stderr', async () => {
    const raw = builtinRaw('tpr-masks-lower-classes');
    const unknownField = structuredClone(raw);
    unknownField.steps[2].valu = 1;
    const badVector = structuredClone(raw);
    badVector.steps[1].vector = 300;
    const unknownKind = structuredClone(raw);
    unknownKind.steps[0].do = 'guest.nmi';
    const cases: [string, string, string[]][] = [
      ['broken.json', '{ "name": "x",', ['broken.json', 'not valid JSON']],
      ['unknown-field.json', JSON.stringify(unknownField), ['unknown-field.json', 'steps[2]', '"valu"']],
      [
        'bad-vector.json',
        JSON.stringify(badVector),
        ['bad-vector.json', 'steps[1].vector', 'vector must be an integer 0-255'],
      ],
      ['broken.yaml', 'name: [x\nsteps: ]\n', ['broken.yaml', 'not valid YAML']],
      [
        'unknown-kind.yaml',
        stringifyYaml(unknownKind),
        ['unknown-kind.yaml', 'steps[0].do', 'unknown step kind'],
      ],
    ];
    const outcomes = await Promise.all(cases.map(([name, text]) => cli('run', tmpFile(name, text))));
    outcomes.forEach((o, i) => {
      assertUsageError(o, cases[i][2]);
    });
  });

  test('replay of a tampered trace (loopStart, a step deleted): exit 2, "did not reproduce"; untouched: reproduced, exit 12', async () => {
    const trace = JSON.parse(readFileSync(join(ROOT, 'test/regressions/seed-004.before.trace.json'), 'utf8'));
    const n = trace.steps.length;
    const [open, outside, notNumber, deleted, plain] = await Promise.all([
      cli('replay', tmpFile('open-loop.json', JSON.stringify({ ...trace, loopStart: 0 }))),
      cli('replay', tmpFile('outside.json', JSON.stringify({ ...trace, loopStart: n }))),
      cli('replay', tmpFile('not-number.json', JSON.stringify({ ...trace, loopStart: 'x' }))),
      cli('replay', tmpFile('deleted.json', JSON.stringify({ ...trace, steps: trace.steps.slice(0, -1) }))),
      cli('replay', tmpFile('plain.json', JSON.stringify(trace))),
    ]);
    assertUsageError(open, ['did not reproduce']);
    assertUsageError(outside, ['did not reproduce', 'loopStart']);
    assertUsageError(notNumber, ['loopStart']);
    assertUsageError(deleted, ['did not reproduce']);
    assert.equal(plain.code, 12);
    assert.match(plain.stdout, /reproduced: no-stuck-pir/);
    assert.ok(!plain.stdout.includes('── loop'));
  });

  test('usage errors exit 2: unknown option, unknown command, unknown scenario, no scenario', async () => {
    const [option, command, nope, none, both] = await Promise.all([
      cli('run', '--bogus'),
      cli('frobnicate'),
      cli('run', 'nope'),
      cli('run'),
      cli('run', '--all', 'tpr-masks-lower-classes'),
    ]);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option '--bogus'/);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'frobnicate'/);
    for (const o of [option, command]) assert.ok(!o.stderr.includes('    at '));
    assertUsageError(nope, ['nope', 'no such file', 'irqlab list']);
    assertUsageError(none, ['run needs a scenario']);
    assertUsageError(both, ['not both']);
  });
});
