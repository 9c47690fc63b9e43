/**
 * runCheck (src/check/background.ts, decisions 0170 and 0257): a check runs on the calling thread
 * for a slice; past `speculateMs` into it, the search thread is started and begins the same search
 * at once. A check that ends within the slice keeps the slice's answer and ends the thread; a longer
 * one takes the thread's answer. Either way the answer is checkScenario's. `speculateMs` 0 starts
 * the thread in the slice's first poll, so both paths run here (under tsx the thread takes about
 * 2 s to start: the slice of 0.4 s ends first).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scaledScenario } from '../../src/bench/check.ts';
import { runCheck } from '../../src/check/background.ts';
import { checkScenario } from '../../src/check/session.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import type { NamedVariant } from '../../src/scenarios/variants.ts';

const CURRENT: NamedVariant = { name: 'current', variant: DEFAULT_VARIANT };

test('a check that ends within the slice answers from it, with a thread started and ended', async () => {
  const sc = scaledScenario(2);
  const want = checkScenario(sc, CURRENT, { workers: 1 });
  const got = await runCheck(sc, CURRENT, { workers: 1 }, undefined, () => false, 0).result;
  assert.equal(got.verdict, 'holds');
  assert.equal(got.verdict, want.verdict);
  assert.equal(got.distinct, want.distinct);
  assert.equal(got.generated, want.generated);
});

test('a check longer than the slice answers from the thread started during it', async () => {
  // 3 vCPUs bounded at 300,000 states: longer than the 0.4 s slice, and the same answer anywhere.
  const sc = scaledScenario(3);
  const bounds = { maxStates: 300_000, maxDepth: 10_000, maxTimeMs: 600_000 };
  const want = checkScenario(sc, CURRENT, { workers: 1, bounds });
  assert.equal(want.verdict, 'incomplete');
  assert.equal(want.reason, 'states');
  // Only the thread reports progress: the slice on this thread is given no callback.
  let progress = 0;
  const options = { workers: 1, bounds, progressEveryMs: 20 };
  const got = await runCheck(
    sc,
    CURRENT,
    options,
    () => progress++,
    () => false,
    0,
  ).result;
  assert.ok(progress > 0, 'the answer came from the slice, not from the thread');
  assert.equal(got.verdict, 'incomplete');
  assert.equal(got.reason, 'states');
  assert.equal(got.distinct, want.distinct);
  assert.equal(got.generated, want.generated);
});
