/**
 * Scenario files as they arrive from users: repeated APIC IDs, repeated keys, a byte order mark,
 * a directory, and control characters in what the messages repeat back. Each bad case is one line
 * naming the file and the place.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify as stringifyYaml } from 'yaml';
import { escapeControl, UserError } from '../../src/errors.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { duplicateKey } from '../../src/scenarios/json-keys.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

function good(): Raw {
  return {
    name: 'probe',
    description: 'two vCPUs, an IPI from one to the other',
    source: 'test',
    machine: {
      pcpus: 2,
      vcpus: [
        { pcpu: 0, running: true },
        { pcpu: 1, running: true },
      ],
    },
    steps: [{ do: 'guest.icr', vcpu: 0, dest: 1, vector: '0x31' }],
    expect: { delivered: { '1': ['0x31'] } },
  };
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), e.message);
    return e.message;
  }
  assert.fail('accepted');
}

const parseJson =
  (s: Raw, file = 'bad.json') =>
  () =>
    parseScenarioText(JSON.stringify(s, null, 2), file);

describe('APIC IDs: one per vCPU, on every machine', () => {
  const machines: [string, Raw][] = [
    ['Intel APICv, x2APIC', {}],
    ['Intel APICv, xAPIC', { x2apic: false }],
    ['Intel with IPIv', { features: { apicv: true, vtdPosting: true, ipiv: true } }],
    ['no APICv', { features: { apicv: false, vtdPosting: false } }],
  ];
  for (const [what, m] of machines) {
    test(`${what}: two vCPUs with APIC ID 1 are refused, at the second`, () => {
      const s = good();
      Object.assign(s.machine, m);
      s.machine.vcpus[0].apicId = 1;
      s.machine.vcpus[1].apicId = '0x1';
      assert.equal(
        errorOf(parseJson(s)),
        "bad.json: at machine.vcpus[1].apicId: APIC ID 1 is vCPU 0's too: each vCPU needs its own APIC ID",
      );
    });
  }

  test('an explicit ID equal to another vCPU’s default (its index) is a duplicate too', () => {
    const s = good();
    s.machine.vcpus[0].apicId = 1; // vCPU 1 has no apicId: its ID is 1
    assert.equal(
      errorOf(parseJson(s)),
      "bad.json: at machine.vcpus[1].apicId: APIC ID 1 is vCPU 0's too: each vCPU needs its own APIC ID",
    );
  });

  test('distinct IDs, swapped or sparse, are accepted', () => {
    const s = good();
    s.machine.vcpus[0].apicId = 1;
    s.machine.vcpus[1].apicId = 0;
    s.steps[0].dest = 0;
    assert.equal(parseScenarioText(JSON.stringify(s), 'ok.json').machine.vcpus[1].apicId, 0);
    s.machine.vcpus[1].apicId = '0x20';
    s.steps[0].dest = 32;
    assert.equal(parseScenarioText(JSON.stringify(s), 'ok.json').machine.vcpus[1].apicId, 32);
  });
});

describe('repeated keys', () => {
  test('at the top level: the key, where it is, line and column', () => {
    const text = '{\n  "name": "probe",\n  "name": "other"\n}\n';
    assert.equal(
      errorOf(() => parseScenarioText(text, 'dup.json')),
      'dup.json: at name: duplicate key "name" (line 3, column 3)',
    );
  });

  test('inside a step, with the path down to it', () => {
    const s = good();
    const text = JSON.stringify(s, null, 2).replace('"vector": "0x31"', '"vector": "0x31", "vector": "0x32"');
    const line = text.split('\n').findIndex((l) => l.includes('"vector": "0x32"')) + 1;
    const column = text.split('\n')[line - 1].lastIndexOf('"vector"') + 1;
    assert.equal(
      errorOf(() => parseScenarioText(text, 'dup.json')),
      `dup.json: at steps[0].vector: duplicate key "vector" (line ${line}, column ${column})`,
    );
  });

  test('keys that are equal once their escapes are read are the same key', () => {
    assert.equal(
      errorOf(() => parseScenarioText('{"name": "a", "n\\u0061me": "b"}', 'dup.json')),
      'dup.json: at name: duplicate key "name" (line 1, column 15)',
    );
  });

  test('the same key in different objects is no repeat', () => {
    assert.equal(duplicateKey('[{"a": 1, "b": {"a": 2}}, {"a": [{"a": 3}]}]'), undefined);
  });

  test('no false repeat in any JSON that JSON.stringify writes (it never repeats a key)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => duplicateKey(JSON.stringify(v, null, 1)) === undefined),
      { numRuns: 300 },
    );
  });

  test('a repeat added anywhere in a random object is found, with its path', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }), (o) => {
        const key = Object.keys(o)[0];
        // A function, not a string: a key such as "$&" must not be read as a replacement pattern.
        const text = JSON.stringify({ outer: [o] }).replace(/\}\]\}$/, () => `,${JSON.stringify(key)}:0}]}`);
        const d = duplicateKey(text);
        assert.ok(d !== undefined, text);
        assert.equal(d.key, key);
        assert.deepEqual(d.path, ['outer', 0, key]);
      }),
      { numRuns: 200 },
    );
  });

  test('YAML: a repeated key is refused there too (the yaml package, uniqueKeys)', () => {
    assert.match(
      errorOf(() => parseScenarioText('name: probe\nmachine:\n  pcpus: 1\n  pcpus: 2\n', 'dup.yaml')),
      /^dup\.yaml: not valid YAML: Map keys must be unique at line 4, column 3$/,
    );
  });
});

describe('a UTF-8 byte order mark is accepted', () => {
  test('JSON and YAML, the same scenario as without it', () => {
    const s = good();
    const json = JSON.stringify(s, null, 2);
    assert.deepEqual(parseScenarioText(`\ufeff${json}`, 'bom.json'), parseScenarioText(json, 'plain.json'));
    const yaml = stringifyYaml(s);
    assert.deepEqual(parseScenarioText(`\ufeff${yaml}`, 'bom.yaml'), parseScenarioText(yaml, 'plain.yaml'));
  });

  test('only at the start: elsewhere it is text (here a syntax error)', () => {
    assert.match(
      errorOf(() => parseScenarioText('{"name":\ufeff "x"}', 'mid.json')),
      /^mid\.json: not valid JSON: /,
    );
  });
});

describe('files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-file-errors-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a directory given as a scenario says so', () => {
    assert.equal(
      errorOf(() => loadScenario(dir)),
      `${dir}: is a directory; give a scenario file (.json, .yaml) or a built-in name ('irqlab list' shows them)`,
    );
  });

  test('a file with a BOM loads', () => {
    const file = join(dir, 'bom.json');
    writeFileSync(file, `\ufeff${JSON.stringify(good())}`);
    assert.equal(loadScenario(file).scenario.name, 'probe');
  });
});

/** Any C0/C1 control, DEL or bidirectional control in a message would reach the terminal raw. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('control characters never reach the terminal raw', () => {
  test('in the file name', () => {
    const msg = errorOf(() => parseScenarioText('{', 'evil\u001b[2J.json'));
    assert.doesNotMatch(msg, RAW_CONTROL);
    assert.ok(msg.startsWith('evil\\x1b[2J.json: not valid JSON: '), msg);
  });

  test('in a key or a value the message repeats', () => {
    const s = good();
    s.machine['\u001b]0;title\u0007'] = 1;
    const msg = errorOf(parseJson(s));
    assert.doesNotMatch(msg, RAW_CONTROL);
    assert.match(msg, /unknown field "\\u001b\]0;title\\u0007"$/);
    const t = good();
    t.memory = 'tso\u009b31m';
    assert.doesNotMatch(errorOf(parseJson(t)), RAW_CONTROL);
  });

  test('in a name that is neither a file nor a built-in', () => {
    const msg = errorOf(() => loadScenario('no\u001b[31msuch'));
    assert.doesNotMatch(msg, RAW_CONTROL);
    assert.ok(msg.startsWith('no\\x1b[31msuch: no such file'), msg);
  });

  test('every UserError, whatever its message', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (m) => {
        assert.doesNotMatch(new UserError(m).message, RAW_CONTROL);
      }),
    );
    assert.equal(escapeControl('a\nb\tc\u001bd\u007f\u202ee'), 'a\\nb\\tc\\x1bd\\x7f\\u202ee');
    assert.equal(escapeControl('plain: «ü» 0x31'), 'plain: «ü» 0x31');
  });
});
