/**
 * Sequential consistency against x86-TSO over every built-in: the delivery handshake is a
 * store-buffering pattern that KVM's full barriers make safe, so each preset's verdict (and the
 * violated property) must be the same under both memory models; the one exception is the mutation
 * that removes the barrier after the IN_GUEST_MODE store (checklist X1), which only TSO can catch.
 * TSO allows every SC execution (drain each store at once), so it never explores fewer states.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import { check, concurrentBuiltins, modelOf, preset } from './support.ts';

function verdict(name: string, p: string, memory: 'sc' | 'tso') {
  const r = check(modelOf(preset(name, p), undefined, memory));
  const o = r.outcome;
  return {
    text: o.kind === 'violated' ? `violated ${PROP_INFO[o.code].name}` : o.kind,
    distinct: r.distinct,
  };
}

describe('every built-in under sc and under tso', () => {
  for (const { name, presets } of concurrentBuiltins()) {
    for (const p of presets) {
      test(`${name} · ${p}`, () => {
        const sc = verdict(name, p, 'sc');
        const tso = verdict(name, p, 'tso');
        if (name === 'mode-store-fence' && p.startsWith('mutation')) {
          assert.equal(sc.text, 'holds');
          assert.equal(tso.text, 'violated no-stuck-pir');
        } else {
          assert.equal(tso.text, sc.text);
        }
        if (sc.text === 'holds' && tso.text === 'holds') assert.ok(tso.distinct >= sc.distinct);
      });
    }
  }
});
