/**
 * The parallel search (src/check/parallel.ts) against the one-thread search (explorer.ts), its
 * peer: on built-ins with a shortest invariant counterexample, a fair-cycle lasso, TSO, a deep
 * state space that makes the shared tables grow, and under a state bound and a depth bound, two
 * threads give the same verdict, the same counts (distinct, generated, depth) and the same path.
 * Each search waits until its helper thread runs (waitForHelpers), so both threads take part even
 * where the space is small.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { scaledScenario } from '../../src/bench/check.ts';
import { type Bounds, type CheckModel, type ExploreResult, explore } from '../../src/check/explorer.ts';
import { exitWord, exploreParallel, type ParallelOptions, SPAWN_WIDTH } from '../../src/check/parallel.ts';
import { exploreReduced, type ReducedResult } from '../../src/check/reduced.ts';
import type { Reducer } from '../../src/check/reduction.ts';
import { helperSpawner, modelFor, parallelSearch } from '../../src/check/session.ts';
import { checkRoom, reserveShared } from '../../src/check/shared-table.ts';
import type { MemoryModel } from '../../src/model/kvm/program.ts';
import type { Variant } from '../../src/model/kvm/variants.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { startTsWorker } from '../../src/runtime/ts-worker.ts';
import { PROPERTIES, type Scenario } from '../../src/scenarios/schema.ts';
import { CLI_BOUNDS, preset } from './support.ts';

function both(sc: Scenario, variant: Variant, bounds: Bounds = CLI_BOUNDS, memory?: MemoryModel) {
  const properties = sc.properties ?? PROPERTIES;
  const mem = memory ?? sc.memory ?? 'sc';
  const opts = { strategy: 'bfs' as const, bounds, now: () => performance.now() };
  const one = explore(modelFor(sc, variant, { properties, memory: mem }), opts);
  const two = exploreParallel(modelFor(sc, variant, { properties, memory: mem }), {
    ...opts,
    workers: 2,
    spawn: helperSpawner(sc, variant, properties, mem),
    waitForHelpers: true,
  });
  return { one, two };
}

function assertSame(one: ExploreResult, two: ExploreResult): void {
  assert.deepEqual(two.outcome, one.outcome);
  assert.equal(two.distinct, one.distinct);
  assert.equal(two.generated, one.generated);
  assert.equal(two.depth, one.depth);
}

// The two-thread search once stalled under the load of CI runs: a helper died at start-up on a
// failed fork (decision 0221, fixed). These tests take 20-40 s on a loaded 2-core machine.
describe('parallel search: the one-thread answer on two threads', () => {
  const cases: [string, string, MemoryModel?][] = [
    ['seed-004-loop', 'before'],
    ['seed-002', 'before'],
    ['seed-002', 'after'],
    ['assign-while-halted', 'before'],
    ['mode-store-fence', 'mutation-no-mb-after-mode', 'tso'],
  ];
  for (const [name, p, memory] of cases) {
    test(`${name} · ${p}${memory ? ` (${memory})` : ''}`, () => {
      const { scenario, variant } = preset(name, p);
      const { one, two } = both(scenario, variant, CLI_BOUNDS, memory);
      assertSame(one, two);
    });
  }

  test('the scaled seed 004 on 2 vCPUs (25,906 states), whole and under a state and a depth bound', () => {
    const sc = scaledScenario(2);
    const whole = both(sc, DEFAULT_VARIANT);
    assert.equal(whole.one.distinct, 25_906, 'the Promela model reaches 25,906 (bench/spin/README)');
    assertSame(whole.one, whole.two);
    assert.equal(whole.two.threads, 2, 'both threads took part');
    const states = both(sc, DEFAULT_VARIANT, { ...CLI_BOUNDS, maxStates: 10_000 });
    assert.deepEqual(states.one.outcome, { kind: 'incomplete', reason: 'states' });
    assertSame(states.one, states.two);
    const depth = both(sc, DEFAULT_VARIANT, { ...CLI_BOUNDS, maxDepth: 12 });
    assert.deepEqual(depth.one.outcome, { kind: 'incomplete', reason: 'depth' });
    assertSame(depth.one, depth.two);
  });
});

// The reduced search on two threads (decision 0252): each thread makes the one-thread choice at
// the states it expands, the proviso reads the one-thread positions, so the whole reduced work
// (the reduced search and any unreduced re-run after it: reduced.ts) has the one-thread counts.
describe('partial-order reduction on two threads: the one-thread reduced answer', () => {
  const cases: [string, string, MemoryModel?][] = [
    ['seed-004-loop', 'before'], // a lasso: the reduced graph has cycles, the proviso acts, liveness re-run
    ['seed-002', 'before'], // an invariant violation: the shortest-trace re-run
    ['mode-store-fence', 'mutation-no-mb-after-mode', 'tso'],
  ];
  const reducedBoth = (sc: Scenario, variant: Variant, memory?: MemoryModel, onPublish?: () => void) => {
    const properties = sc.properties ?? PROPERTIES;
    const mem = memory ?? sc.memory ?? 'sc';
    const opts = { strategy: 'bfs' as const, bounds: CLI_BOUNDS, now: () => performance.now() };
    const model = () => modelFor(sc, variant, { properties, memory: mem });
    const one = exploreReduced(model(), sc, 'ample', opts);
    const onTwo = parallelSearch(sc, variant, properties, mem, 'ample', {
      workers: 2,
      waitForHelpers: true,
      onPublish,
    });
    const two = exploreReduced(model(), sc, 'ample', opts, onTwo);
    return { one, two };
  };
  const assertSameReduced = (one: ReducedResult, two: ReducedResult) => {
    assertSame(one, two);
    const { reduced: r1, rerun: x1 } = one.reduction;
    const { reduced: r2, rerun: x2 } = two.reduction;
    assert.deepEqual(
      { ...r2, elapsedMs: 0 },
      { ...r1, elapsedMs: 0 },
      'the reduced search: distinct, generated, states expanded alone',
    );
    assert.deepEqual(x2 && { ...x2, elapsedMs: 0 }, x1 && { ...x1, elapsedMs: 0 }, 'the re-run');
  };
  for (const [name, p, memory] of cases) {
    test(`${name} · ${p}${memory ? ` (${memory})` : ''}`, () => {
      const { scenario, variant } = preset(name, p);
      const { one, two } = reducedBoth(scenario, variant, memory);
      assertSameReduced(one, two);
    });
  }

  test('the scaled seed 004 on 2 vCPUs: fewer states than unreduced, the same on two threads', () => {
    const { one, two } = reducedBoth(scaledScenario(2), DEFAULT_VARIANT);
    assert.equal(one.outcome.kind, 'holds');
    assert.ok(one.reduction.reduced !== undefined && one.reduction.reduced.ampleStates > 0);
    assert.ok(one.distinct < 25_906, 'ample sets remove states of the 25,906 (bench/spin/README)');
    assertSameReduced(one, two);
    assert.equal(two.threads, 2, 'both threads took part');
  });

  // The helper expands a level while the main thread still numbers it (the replay of the level
  // before): a successor in the same level may have no position yet, and its position will come
  // after the state's, so it was not expanded already. A millisecond's pause per numbered chunk
  // keeps the helper at that edge.
  test('the scaled seed 004 on 2 vCPUs, the helper at the edge of the numbered states', () => {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const { one, two } = reducedBoth(scaledScenario(2), DEFAULT_VARIANT, undefined, () => {
      Atomics.wait(pause, 0, 0, 1);
    });
    assertSameReduced(one, two);
    assert.equal(two.threads, 2, 'both threads took part');
  });
});

// The proviso's self-loop: a lone step whose successor is the state itself was expanded already
// (its position equals the state's), so the state is expanded in full. A counter that can stay or
// count up to 3, and a reducer that always picks "stay": with the self-loop counted, every value
// is reached; counting only earlier positions would stop at the first state. The parallel search
// runs here on its calling thread alone (no level reaches the spawn width), through the same
// expansion its helpers run.
describe('the cycle proviso counts a lone step that loops on its state', () => {
  const model: CheckModel = {
    words: 1,
    maxActions: 2,
    init: (s) => {
      s[0] = 0;
    },
    enabled: (s, out) => {
      out[0] = 0;
      if (s[0] >= 3) return 1;
      out[1] = 1;
      return 2;
    },
    step: (s, a) => {
      if (a === 1) s[0]++;
      return 0;
    },
    invariant: () => 0,
    terminal: () => 0,
  };
  const stay: Reducer = {
    name: 'stay',
    choose: (_s, acts, n) => [...acts.subarray(0, n)].indexOf(0),
  };
  const opts = { strategy: 'bfs' as const, bounds: CLI_BOUNDS, now: () => performance.now(), reducer: stay };

  test('on one thread', () => {
    const r = explore(model, opts);
    assert.equal(r.distinct, 4);
    assert.equal(r.reducedStates, 0, 'every lone step loops: every state expanded in full');
  });

  test('in the parallel search', () => {
    const r = exploreParallel(model, {
      ...opts,
      workers: 2,
      spawnWidth: Number.MAX_SAFE_INTEGER,
      spawn: () => {
        throw new Error('no level is wide enough for a helper');
      },
    });
    assert.equal(r.distinct, 4);
    assert.equal(r.reducedStates, 0);
  });
});

// `--workers` defaults to every core because a search starts its helpers only at a level of
// SPAWN_WIDTH states: a small search never starts one, and helpers started in the middle of a
// search join it there with the same answer.
describe('helpers start at the first wide level', () => {
  const sc = scaledScenario(2);
  const properties = sc.properties ?? PROPERTIES;
  const opts = { strategy: 'bfs' as const, bounds: CLI_BOUNDS, now: () => performance.now() };
  const one = explore(modelFor(sc, DEFAULT_VARIANT, { properties, memory: 'sc' }), opts);
  const parallel = (spawnWidth?: number) => {
    let spawned = 0;
    const spawn = helperSpawner(sc, DEFAULT_VARIANT, properties, 'sc');
    const r = exploreParallel(modelFor(sc, DEFAULT_VARIANT, { properties, memory: 'sc' }), {
      ...opts,
      workers: 2,
      spawnWidth,
      spawn: (id, sh) => {
        spawned++;
        return spawn(id, sh);
      },
    });
    return { r, spawned };
  };

  test(`a search whose levels stay under ${SPAWN_WIDTH} states starts no thread`, () => {
    const { r, spawned } = parallel();
    assert.equal(spawned, 0);
    assert.equal(r.threads, 1);
    assertSame(one, r);
  });

  test('helpers started at a level of 500 states give the one-thread answer', () => {
    const { r, spawned } = parallel(500);
    assert.equal(spawned, 1);
    assertSame(one, r);
  });
});

// A helper whose thread dies before it is ready (here: its entry does not exist) raises its exit
// word (ts-worker-bootstrap.mjs), so the main thread, blocked in Atomics.wait and deaf to the
// Worker's events, reports it instead of waiting for a helper that will never come.
/** The 2-vCPU scaled seed 004 on two threads, its helper started by `o.spawn`. */
function onTwoThreads(o: Pick<ParallelOptions, 'spawn' | 'waitForHelpers' | 'spawnWidth'>) {
  const sc = scaledScenario(2);
  const model = modelFor(sc, DEFAULT_VARIANT, { properties: sc.properties ?? PROPERTIES, memory: 'sc' });
  return exploreParallel(model, {
    strategy: 'bfs',
    bounds: CLI_BOUNDS,
    now: () => performance.now(),
    workers: 2,
    ...o,
  });
}

test('a helper thread that fails to load is reported by the waiting thread', async () => {
  const errors: unknown[] = [];
  let helper: Worker | undefined;
  assert.throws(
    () =>
      onTwoThreads({
        waitForHelpers: true,
        spawn: (id, sh) => {
          helper = startTsWorker(new URL('./no-such-helper.ts', import.meta.url), null, {
            exitFlag: { buffer: sh.ctl, index: exitWord(id) },
          });
          helper.on('error', (e) => errors.push(e));
          return helper;
        },
      }),
    /parallel search: helper thread 1 exited during the search/,
  );
  const h = helper;
  if (h !== undefined) await new Promise((done) => h.on('exit', done));
  assert.match(String(errors[0]), /no-such-helper/, 'the Worker reports the same failure, later');
});

// Without waitForHelpers a level waits only for the helpers it let in, so a helper that died
// before it was ready was never waited for: the search ended on one thread, silently (a broken
// helper bundle showed it: decision 0260). The main thread now reads the exit words at every
// level. The helper here raises its exit word at once, as the worker bootstrap does when its entry
// fails to load.
test('a helper that exits before it is ready is reported at the next level', () => {
  assert.throws(
    () =>
      onTwoThreads({
        spawnWidth: 1,
        spawn: (id, sh) => {
          Atomics.store(new Int32Array(sh.ctl), exitWord(id), 1);
          return { terminate: () => undefined };
        },
      }),
    /parallel search: helper thread 1 exited during the search/,
  );
});

// Fixed 4 GiB buffers were charged to the commit total in full: with 26 of them (two threads) the
// process could no longer fork (ENOMEM), and a helper under tsx that spawned esbuild died before
// it was ready (decision 0221). Growable buffers commit only what they grew to.
test('the shared buffers of a two-thread search leave the process able to start a child', () => {
  const held = Array.from({ length: 26 }, () => reserveShared());
  checkRoom(held[0], 1 << 26);
  new Int32Array(held[0]).fill(1);
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0);
  assert.equal(held[0].byteLength >= 1 << 26, true, 'checkRoom grew the buffer');
});
