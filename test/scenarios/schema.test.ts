import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SCHEMA_FILE, scenarioSchemaText } from '../../scripts/gen-schema.ts';

const BUILTIN_DIR = fileURLToPath(new URL('../../src/scenarios/builtin/', import.meta.url));
const YAML_FIXTURE = fileURLToPath(new URL('../fixtures/guest-and-host-if.yaml', import.meta.url));
const builtinFiles = readdirSync(BUILTIN_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => join(BUILTIN_DIR, f));

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

function readJson(file: string): Raw {
  return JSON.parse(readFileSync(file, 'utf8'));
}

describe('schema/scenario.schema.json', () => {
  test('is up to date with src/scenarios/schema.ts (run `npm run schema` after changing it)', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    assert.ok(
      committed === scenarioSchemaText(),
      'schema/scenario.schema.json differs from what scripts/gen-schema.ts generates: run `npm run schema`',
    );
    assert.ok(committed.endsWith('}\n'), 'pretty-printed with a final newline');
  });

  test('is a draft 2020-12 schema of a closed object', () => {
    const s = readJson(SCHEMA_FILE);
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(s.type, 'object');
    assert.equal(s.additionalProperties, false);
    for (const k of ['name', 'description', 'source', 'machine']) assert.ok(s.required.includes(k), k);
  });

  test('every built-in scenario and the YAML fixture point "$schema" at it', () => {
    for (const file of builtinFiles) {
      const ref = readJson(file).$schema;
      assert.equal(typeof ref, 'string', `${file} has no "$schema"`);
      assert.equal(resolve(dirname(file), ref), SCHEMA_FILE, `${file}: "$schema" is ${ref}`);
    }
    const y = parseYaml(readFileSync(YAML_FIXTURE, 'utf8'));
    assert.equal(resolve(dirname(YAML_FIXTURE), y.$schema), SCHEMA_FILE);
  });

  describe('what an editor validating with it sees', () => {
    const validate = z.fromJSONSchema(readJson(SCHEMA_FILE));
    const base = readJson(join(BUILTIN_DIR, 'tpr-masks-lower-classes.json'));
    const withVector = (v: unknown) => {
      const s = structuredClone(base);
      s.steps[0].vector = v;
      return s;
    };

    test('it accepts every built-in scenario and the YAML fixture', () => {
      for (const file of builtinFiles) {
        const r = validate.safeParse(readJson(file));
        assert.ok(r.success, `${file}: ${r.error?.issues[0]?.message}`);
      }
      assert.ok(validate.safeParse(parseYaml(readFileSync(YAML_FIXTURE, 'utf8'))).success);
    });

    test('it rejects unknown fields and unknown step kinds', () => {
      const top = structuredClone(base);
      top.colour = 1;
      assert.equal(validate.safeParse(top).success, false);
      const step = structuredClone(base);
      step.steps[0].vectr = 1;
      assert.equal(validate.safeParse(step).success, false);
      const kind = structuredClone(base);
      kind.steps[0].do = 'guest.nmi';
      assert.equal(validate.safeParse(kind).success, false);
    });

    test('vectors are 0-255, as numbers or hex strings (the range of the output side is kept)', () => {
      fc.assert(
        fc.property(fc.integer({ min: -300, max: 600 }), fc.boolean(), (v, asHex) => {
          const ok = v >= 0 && v <= 255;
          const written = asHex && v >= 0 ? `0x${v.toString(16)}` : v;
          assert.equal(validate.safeParse(withVector(written)).success, ok, `vector ${written}`);
        }),
      );
      assert.equal(validate.safeParse(withVector('0x00ff')).success, true);
      assert.equal(validate.safeParse(withVector('49')).success, false);
      assert.equal(validate.safeParse(withVector(1.5)).success, false);
    });

    test('defaults are shown, including those of hex-or-integer fields', () => {
      const vcpu = readJson(SCHEMA_FILE).properties.machine.properties.vcpus.items.properties;
      assert.equal(vcpu.tpr.default, 0);
      assert.equal(vcpu.pcpu.default, -1);
      assert.deepEqual(vcpu.pid.default, { on: false, sn: false, nv: 0xf2, pir: [] });
    });
  });
});
