/**
 * src/scenarios/manifest.json against fresh runs: every built-in concurrent scenario and preset is
 * in it, and exploring each again gives the same verdict, property and state counts exactly. A
 * difference means the state space changed: if that was intended, run `npm run manifest`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  concurrentScenarios,
  MANIFEST_BOUNDS,
  MANIFEST_FILE,
  type Manifest,
  manifestEntry,
  presetsOf,
} from '../../scripts/update-manifest.ts';

const RERUN =
  'If the model or a scenario changed on purpose, run `npm run manifest` and commit src/scenarios/manifest.json.';

const manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as Manifest;

describe('src/scenarios/manifest.json', () => {
  test('lists every built-in concurrent scenario and preset, and nothing else', () => {
    const want = concurrentScenarios().map((sc) => `${sc.name}: ${presetsOf(sc).join(', ')}`);
    const have = manifest.scenarios.map((s) => `${s.name}: ${s.presets.map((p) => p.preset).join(', ')}`);
    assert.deepEqual(have, want, `the manifest does not match the built-in scenarios. ${RERUN}`);
  });

  test('was made with the bounds the script uses', () => {
    assert.equal(manifest.checker.strategy, 'bfs');
    assert.equal(manifest.checker.maxStates, MANIFEST_BOUNDS.maxStates, RERUN);
    assert.equal(manifest.checker.maxDepth, MANIFEST_BOUNDS.maxDepth, RERUN);
  });

  const scenarios = new Map(concurrentScenarios().map((sc) => [sc.name, sc]));
  for (const s of manifest.scenarios) {
    for (const recorded of s.presets) {
      test(`${s.name} · ${recorded.preset}: ${recorded.verdict}${recorded.property ? ` ${recorded.property}` : ''}, ${recorded.distinctStates} distinct states`, () => {
        const sc = scenarios.get(s.name);
        assert.ok(sc, `${s.name} is no longer a built-in concurrent scenario. ${RERUN}`);
        const fresh = manifestEntry(sc, recorded.preset);
        const diffs = (Object.keys({ ...recorded, ...fresh }) as (keyof typeof fresh)[])
          .filter((k) => recorded[k] !== fresh[k])
          .map((k) => `${k}: manifest ${recorded[k] ?? '(none)'}, now ${fresh[k] ?? '(none)'}`);
        assert.deepEqual(
          diffs,
          [],
          `${s.name} · ${recorded.preset} differs from src/scenarios/manifest.json (${diffs.join('; ')}). ${RERUN}`,
        );
      });
    }
  }
});
