/**
 * The property list (src/model/system/properties.ts) is the one the schema, the model and
 * docs/properties.md read: every violation code has one entry, the schema accepts exactly its names,
 * and the docs' property tables list exactly those properties, each with its kind and exit code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { PROP, PROP_INFO, PROPERTY_LIST, propertyCode } from '../../../src/model/system/properties.ts';
import { PROPERTIES } from '../../../src/scenarios/schema.ts';

/** The rows of docs/properties.md's property tables: `| \`name\` | kind | exit | meaning |`. */
function docRows(md: string): { name: string; kind: string; exit: string }[] {
  const rows: { name: string; kind: string; exit: string }[] = [];
  for (const m of md.matchAll(/^\| `([a-z-]+)` \| (invariant|liveness) \| (\d+) \|/gm)) {
    rows.push({ name: m[1], kind: m[2], exit: m[3] });
  }
  return rows;
}

describe('properties', () => {
  test('one entry per violation code, names unique', () => {
    assert.deepEqual(
      PROPERTY_LIST.map((p) => p.code).sort((a, b) => a - b),
      Object.values(PROP).sort((a, b) => a - b),
    );
    assert.equal(new Set(PROPERTY_LIST.map((p) => p.name)).size, PROPERTY_LIST.length);
    for (const p of PROPERTY_LIST) {
      assert.equal(PROP_INFO[p.code], p);
      assert.equal(propertyCode(p.name), p.code);
      assert.ok(p.monitor.length > 0, `${p.name} has no monitor`);
      // A liveness property is judged where nothing more can happen (or over a fair cycle).
      if (p.kind === 'liveness') assert.deepEqual(p.monitor, ['end'], p.name);
    }
  });

  test('the schema accepts exactly the list, in its order', () => {
    assert.deepEqual(
      [...PROPERTIES],
      PROPERTY_LIST.map((p) => p.name),
    );
  });

  test('docs/properties.md lists exactly the list, each with its kind and exit code', () => {
    const rows = docRows(readFileSync(new URL('../../../docs/properties.md', import.meta.url), 'utf8'));
    assert.deepEqual(rows.map((r) => r.name).sort(), PROPERTY_LIST.map((p) => p.name).sort());
    for (const r of rows) {
      const p = PROPERTY_LIST.find((q) => q.name === r.name)!;
      assert.equal(r.kind, p.kind, r.name);
      assert.equal(r.exit, p.kind === 'invariant' ? '12' : '13', r.name);
    }
  });

  test('the docs reader sees a row that is missing or extra', () => {
    const md =
      '| `no-stuck-pir` | invariant | 12 | x |\n| `no-such-thing` | liveness | 13 | y |\n| not a row |';
    assert.deepEqual(
      docRows(md).map((r) => r.name),
      ['no-stuck-pir', 'no-such-thing'],
    );
  });
});
