/**
 * Known counterexamples, kept as trace files (`check --json`'s results[].trace, named
 * <scenario>.<preset>.trace.json) and replayed step by step. A change to the model that makes one
 * of these bugs unreachable, disables a recorded step, or changes the shortest trace the checker
 * finds fails here.
 *
 * If such a change is intended, re-record the trace:
 *   node --import tsx src/cli/main.ts check <scenario> --variant <preset> --json
 * and save results[0].trace as test/regressions/<scenario>.<preset>.trace.json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { replay, replayTraceFile } from '../../src/check/counterexample.ts';
import { modelFor, resolveVariant } from '../../src/check/session.ts';
import { UserError } from '../../src/errors.ts';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import type { SystemModel } from '../../src/model/system/system.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { parseTraceFile, type TraceFile } from '../../src/trace/file.ts';
import { check, concurrentBuiltins, modelOf, preset } from '../check/support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = fileURLToPath(new URL('./', import.meta.url));

/** The property each recorded trace violates at its end. */
const EXPECTED: Record<string, string> = {
  'seed-004.before': 'no-stuck-pir',
  'seed-001.before': 'no-wrong-vcpu',
  'seed-003-self-ipi.mutation-no-reentry-sync': 'no-stuck-pir',
  'sync-harvest-order.mutation-harvest-before-clear-on': 'no-stuck-pir',
  'seed-001-hlt-irqs-off.before': 'no-wrong-vcpu',
  'wakeup-recheck.mutation-no-wakeup-recheck': 'no-lost-wakeup',
  'wakeup-migrate.mutation-ndst-rewritten-while-blocked': 'wakeup-list',
  'mode-store-fence.mutation-no-mb-after-mode': 'no-stuck-pir',
  'seed-004-loop.before': 'no-stuck-pir',
  'seed-000-empty-harvest.early-return-skips-virr': 'rvi-at-entry',
  'seed-000-posted-msi.mutation-no-final-harvest': 'no-lost-msi',
  'seed-002.before': 'no-irq-window-with-avic',
  'seed-002.mutation-no-irqwin-recompute': 'apicv-activation',
  'ipiv-wakeup.mutation-no-wakeup-vector-with-ipiv': 'no-lost-wakeup',
  'avic-ipi-block.mutation-no-wake-not-in-guest': 'no-lost-wakeup',
  'avic-ga-log-wakeup.mutation-no-ga-log-intr': 'no-lost-wakeup',
  'assign-while-halted.before': 'no-lost-wakeup',
  'avic-irte-update-race.before': 'irte-affinity',
  'avic-irte-lock-order.after': 'lock-order',
  'avic-irte-inhibited.before': 'irte-guest-mode',
  'avic-create-vcpu-inhibited.before': 'avic-vmcb',
  'vtd-irte-owner.before': 'irte-owner',
};

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.trace.json'))
  .sort();

function load(file: string): { trace: TraceFile; path: number[]; scenario: Scenario; model: SystemModel } {
  const trace = parseTraceFile(JSON.parse(readFileSync(join(DIR, file), 'utf8')), file);
  const { scenario } = loadScenario(trace.file ?? trace.scenario);
  const variant = resolveVariant(
    scenario,
    Object.entries(trace.variant)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
  const model = modelFor(scenario, variant.variant, { properties: trace.properties, memory: trace.memory });
  return { trace, path: trace.steps.map((st) => st.action), scenario, model };
}

/** Step monitor of the last step, else the invariant, else the terminal check if nothing is enabled. */
function violationAtEnd(model: SystemModel, path: readonly number[]): number {
  const r = replay(model, path);
  if (r.stepViolation !== 0) return r.stepViolation;
  const inv = model.invariant(r.final);
  if (inv !== 0) return inv;
  return model.enabled(r.final, new Int32Array(model.maxActions)) === 0 ? model.terminal(r.final) : 0;
}

const rerecord = (name: string) => {
  const [sc, ...p] = name.split('.');
  return `if the model changed on purpose, re-record it: npm run regressions (scripts/record-regressions.ts re-runs check ${sc} --variant ${p.join('.')})`;
};

describe('regression traces', () => {
  test('every trace file has an expected property, and every expected trace has a file', () => {
    assert.deepEqual(
      files.map((f) => f.slice(0, -'.trace.json'.length)),
      Object.keys(EXPECTED).sort(),
    );
  });

  test('every counterexample the checker finds in the built-ins has a trace file', () => {
    const violated: string[] = [];
    for (const { name, presets } of concurrentBuiltins()) {
      for (const p of presets) {
        if (check(modelOf(preset(name, p))).outcome.kind === 'violated') violated.push(`${name}.${p}`);
      }
    }
    assert.deepEqual(
      violated.sort(),
      Object.keys(EXPECTED).sort(),
      'record a trace for each new counterexample',
    );
  });

  for (const file of files) {
    const name = file.slice(0, -'.trace.json'.length);
    const [scenarioName, ...rest] = name.split('.');
    const presetName = rest.join('.');

    describe(name, () => {
      test('is a trace file of that scenario and preset, claiming the expected property', () => {
        const { trace } = load(file);
        assert.equal(trace.scenario, scenarioName);
        assert.equal(trace.claim.property, EXPECTED[name]);
        assert.deepEqual(
          resolveVariant(load(file).scenario, presetName).variant,
          preset(scenarioName, presetName).variant,
        );
        assert.deepEqual(
          trace.variant,
          { ...preset(scenarioName, presetName).variant },
          'every knob, as the preset sets it',
        );
      });

      test(`reproduces ${EXPECTED[name]} at the last step, and not before`, () => {
        const { trace, scenario, model, path } = load(file);
        const r = replayTraceFile(trace, scenario);
        assert.ok(r.reproduced, `${r.reproduced ? '' : r.why}; ${rerecord(name)}`);
        assert.equal(r.property, EXPECTED[name]);
        for (let k = 0; k < path.length; k++) {
          assert.equal(
            violationAtEnd(model, path.slice(0, k)),
            0,
            `already violated after ${k} steps; ${rerecord(name)}`,
          );
        }
      });

      test('is still the counterexample the checker finds first', () => {
        const { path } = load(file);
        const r = check(modelOf(preset(scenarioName, presetName)));
        assert.equal(r.outcome.kind, 'violated', rerecord(name));
        if (r.outcome.kind !== 'violated') return;
        assert.equal(PROP_INFO[r.outcome.code].name, EXPECTED[name], rerecord(name));
        assert.deepEqual(r.outcome.path, path, `the shortest counterexample changed; ${rerecord(name)}`);
      });

      test('replay throws a UserError when a recorded action is not enabled', () => {
        const { path, model } = load(file);
        const acts = new Int32Array(model.maxActions);
        for (const k of [0, path.length >> 1, path.length - 1]) {
          // The state the trace reaches before step k + 1, and an action not enabled there.
          const s = replay(model, path.slice(0, k)).final;
          const n = model.enabled(s, acts);
          const enabled = new Set(acts.subarray(0, n));
          let bad = 0;
          while (enabled.has(bad)) bad++;
          const corrupt = path.slice();
          corrupt[k] = bad;
          assert.throws(
            () => replay(model, corrupt),
            (e: unknown) =>
              e instanceof UserError && e.message.includes(`step ${k + 1} (action ${bad}) is not enabled`),
          );
        }
        // An action id no model has.
        assert.throws(() => replay(model, [...path.slice(0, 1), 9999]), UserError);
      });
    });
  }

  test('irqlab replay re-executes each file and exits 12 (invariant) or 13 (liveness), naming the property', async () => {
    // Two at a time: each is a whole process, and the suite shares two cores.
    const one = (file: string) =>
      new Promise<void>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'replay', join(DIR, file)],
          { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
          (err, stdout) => {
            try {
              const name = file.slice(0, -'.trace.json'.length);
              const liveness =
                Object.values(PROP_INFO).find((i) => i.name === EXPECTED[name])?.kind === 'liveness';
              assert.equal(err?.code, liveness ? 13 : 12, `${file}: exit code`);
              assert.match(stdout, new RegExp(`× reproduced: ${EXPECTED[name]}:`));
              assert.match(stdout, /replayed (\d+) of \1 steps/);
              resolve();
            } catch (e) {
              reject(e);
            }
          },
        );
      });
    const queue = [...files];
    await Promise.all(
      [0, 1].map(async () => {
        for (let f = queue.shift(); f !== undefined; f = queue.shift()) await one(f);
      }),
    );
  });
});
