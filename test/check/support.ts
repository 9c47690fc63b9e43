/**
 * Shared by the checker tests, the regression tests, the manifest script and the bench: load a
 * built-in scenario, resolve one of its presets the way `irqlab check --variant` does, build the
 * model and explore it with the CLI's default bounds.
 */

import { type CheckModel, type ExploreResult, explore } from '../../src/check/explorer.ts';
import { isConcurrent, resolveVariant } from '../../src/check/session.ts';
import type { MemoryModel } from '../../src/model/kvm/program.ts';
import type { Variant } from '../../src/model/kvm/variants.ts';
import type { SystemModel } from '../../src/model/system/system.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { builtinNames, loadScenario } from '../../src/scenarios/files.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';

/** The CLI's defaults (src/cli/check.ts): 2 000 000 states, depth 10 000, 600 s. */
export const CLI_BOUNDS = { maxStates: 2_000_000, maxDepth: 10_000, maxTimeMs: 600_000 };

export interface Preset {
  scenario: Scenario;
  preset: string;
  variant: Variant;
}

/** A preset of a built-in scenario, resolved as `check --variant <preset>` resolves it. */
export function preset(name: string, presetName: string): Preset {
  const { scenario } = loadScenario(name);
  if (!scenario.presets?.[presetName]) throw new Error(`${name} has no preset ${presetName}`);
  return { scenario, preset: presetName, variant: resolveVariant(scenario, presetName).variant };
}

/** Built-in scenarios with actors (the ones `check --all` explores) and their presets, sorted. */
export function concurrentBuiltins(): { name: string; presets: string[] }[] {
  return builtinNames()
    .map((n) => loadScenario(n).scenario)
    .filter(isConcurrent)
    .map((s) => ({ name: s.name, presets: Object.keys(s.presets ?? {}) }));
}

/** The checkable model of a preset; the memory model is the scenario's unless given. */
export function modelOf(p: Preset, properties?: readonly string[], memory?: MemoryModel): SystemModel {
  return buildModel(p.scenario, p.variant, properties, memory);
}

export function check(model: CheckModel, strategy: 'bfs' | 'dfs' = 'bfs'): ExploreResult {
  return explore(model, { strategy, bounds: CLI_BOUNDS, now: () => performance.now() });
}

/**
 * The model with an extra check at every end state, after the model's own: `end` tells whether
 * the state is as it should be. Counts the end states seen.
 */
export function withEndCheck(
  m: SystemModel,
  end: (s: Uint32Array) => boolean,
): { model: CheckModel; ends: { count: number }; BAD_END: number } {
  const BAD_END = 1000;
  const ends = { count: 0 };
  const model: CheckModel = {
    words: m.words,
    maxActions: m.maxActions,
    init: (s) => m.init(s),
    enabled: (s, out) => m.enabled(s, out),
    step: (s, a) => m.step(s, a),
    invariant: (s) => m.invariant(s),
    terminal: (s) => {
      ends.count++;
      const base = m.terminal(s);
      if (base !== 0) return base;
      m.w.m = s;
      return end(s) ? 0 : BAD_END;
    },
  };
  return { model, ends, BAD_END };
}
