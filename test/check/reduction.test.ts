/**
 * Partial-order reduction (src/check/reduction.ts, reduced.ts, footprints.ts): every built-in
 * scenario with actors, in every preset, under sc and tso, gets the same verdict, property and
 * counterexample with `ample` as with `none`, and explores no more distinct states; the footprints
 * cover what the steps touch on every reachable state; the action the reducer expands alone
 * commutes with every other enabled action and neither disables the other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { scaledScenario } from '../../src/bench/check.ts';
import { type ExploreOptions, explore } from '../../src/check/explorer.ts';
import { stepFootprint } from '../../src/check/footprints.ts';
import { exploreReduced } from '../../src/check/reduced.ts';
import { AmpleReducer, RowMemo, stepScopes } from '../../src/check/reduction.ts';
import { PID_ON, PID_SN } from '../../src/model/hw/pid.ts';
import { MEMORY_MODELS } from '../../src/model/kvm/program.ts';
import { DEFAULT_VARIANT, type Variant, withKnobs } from '../../src/model/kvm/variants.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { builtinNames, loadScenario } from '../../src/scenarios/files.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { recordingView } from './record.ts';

const OPTS: ExploreOptions = {
  strategy: 'bfs',
  bounds: { maxStates: 2_000_000, maxDepth: 10_000, maxTimeMs: 120_000 },
  now: () => performance.now(),
};

function cases(): { sc: Scenario; preset: string; v: Variant }[] {
  // The benchmark's scaled seed 004 (bench/check), whose posters' footprints name their targets.
  const out: { sc: Scenario; preset: string; v: Variant }[] = [
    { sc: scaledScenario(2), preset: 'current', v: DEFAULT_VARIANT },
    // Seed 004's bug (load=clear-sn, before c112b5f50232): the Promela model's -DBEFORE, where
    // no-stuck-pir fails; the reduced search must find it, with the same shortest trace.
    {
      sc: scaledScenario(2),
      preset: 'load=clear-sn',
      v: withKnobs(DEFAULT_VARIANT, { load: 'clear-sn' }, 'scaled 2-vCPU: load=clear-sn'),
    },
  ];
  for (const name of builtinNames()) {
    const sc = loadScenario(name).scenario;
    if ((sc.actors?.length ?? 0) === 0) continue;
    for (const [preset, knobs] of Object.entries(sc.presets ?? { current: {} }))
      out.push({ sc, preset, v: withKnobs(DEFAULT_VARIANT, knobs, `${name}: ${preset}`) });
  }
  return out;
}

const verdict = (o: { kind: string; code?: number; path?: number[] }) =>
  o.kind === 'violated' ? `violated ${o.code} ${o.path?.join(',')}` : o.kind;

test('every built-in keeps its verdict, property and trace with ample sets, under sc and tso', () => {
  let reducedSomewhere = false;
  for (const { sc, preset, v } of cases()) {
    for (const mem of MEMORY_MODELS) {
      const where = `${sc.name} ${preset} ${mem}`;
      const full = exploreReduced(buildModel(sc, v, undefined, mem), sc, 'none', OPTS);
      const red = exploreReduced(buildModel(sc, v, undefined, mem), sc, 'ample', OPTS);
      assert.equal(verdict(red.outcome), verdict(full.outcome), where);
      assert.ok(red.reduction.reduced !== undefined, where);
      assert.ok(red.reduction.reduced.distinct <= full.distinct, where);
      if (red.reduction.reduced.distinct < full.distinct) reducedSomewhere = true;
    }
  }
  // Not a claim of size: only that the reduction is not silently off everywhere.
  assert.ok(reducedSomewhere, 'ample sets removed no state in any built-in');
});

/** Reachable states of a model, in BFS order (small scenarios only). */
function reachable(m: ReturnType<typeof buildModel>, limit: number): Uint32Array[] {
  const s0 = new Uint32Array(m.words);
  m.init(s0);
  const seen = new Set([s0.join(',')]);
  const out = [s0];
  const acts = new Int32Array(m.maxActions);
  for (let h = 0; h < out.length && out.length < limit; h++) {
    const n = m.enabled(out[h], acts);
    for (let k = 0; k < n; k++) {
      const t = out[h].slice();
      m.step(t, acts[k]);
      const key = t.join(',');
      if (!seen.has(key)) {
        seen.add(key);
        out.push(t);
      }
    }
  }
  return out;
}

test('each declared footprint covers every word its step reads or writes on reachable states', () => {
  // Steps declared neverRepairs met at a state that violates an invariant (the claim's witnesses).
  let repairsAsked = 0;
  for (const { sc, v } of cases()) {
    for (const mem of MEMORY_MODELS) {
      const m = buildModel(sc, v, undefined, mem);
      // The scopes the reducer gives the footprints (pCPUs per vCPU, a poster's targets).
      const scopes = stepScopes(m, sc);
      const acts = new Int32Array(m.maxActions);
      for (const s of reachable(m, 5000)) {
        const n = m.enabled(s, acts);
        for (let k = 0; k < n; k++) {
          const i = acts[k];
          if (i >= m.actors.length) continue;
          const ins = m.actors[i].code[s[m.actorBase[i]]];
          const fp = stepFootprint(ins.fn, ins.label, scopes[i]);
          if (fp === null) continue;
          const { view, rec } = recordingView(s.slice());
          if (ins.enabled !== undefined) {
            m.w.m = view;
            ins.enabled(m.w, m.actorBase[i]);
          }
          m.step(view, i);
          const r = new Set([...fp.reads, ...fp.writes]);
          const w = new Set(fp.writes);
          const where = `${sc.name} ${mem} ${ins.fn}:${ins.label}`;
          for (const x of rec.writes) assert.ok(w.has(x), `${where} writes word ${x} outside its footprint`);
          for (const x of rec.reads) assert.ok(r.has(x), `${where} reads word ${x} outside its footprint`);
          // A control word declared changed in ON and SN only keeps the rest (NV: SDM Vol. 3C
          // "Posted-Interrupt Descriptor" bits 279:272, the layout's PID.CONTROL bits 23:16).
          for (const x of fp.onSnOnly ?? [])
            assert.equal(
              (view[x] ^ s[x]) & ~(PID_ON | PID_SN),
              0,
              `${where} changes word ${x} beyond ON and SN`,
            );
          // A step declared never to repair an invariant leaves a violating state violating.
          if (fp.neverRepairs === true && m.invariant(s.slice()) !== 0) {
            repairsAsked++;
            const after = s.slice();
            m.step(after, i);
            assert.notEqual(m.invariant(after), 0, `${where} repairs a violated invariant`);
          }
        }
      }
    }
  }
  assert.ok(repairsAsked > 0, 'no step declared neverRepairs was met at a violating state');
});

test('the action expanded alone commutes with every other enabled action and disables none', () => {
  let checked = 0;
  for (const { sc, v } of cases()) {
    for (const mem of MEMORY_MODELS) {
      const m = buildModel(sc, v, undefined, mem);
      const red = new AmpleReducer(m, sc);
      const acts = new Int32Array(m.maxActions);
      const after = new Int32Array(m.maxActions);
      const has = (s: Uint32Array, a: number) => {
        const n = m.enabled(s, after);
        return after.subarray(0, n).includes(a);
      };
      for (const s of reachable(m, 5000)) {
        const n = m.enabled(s, acts);
        const k = red.choose(s, acts, n);
        if (k < 0) continue;
        const a = acts[k];
        const others = [...acts.subarray(0, n)].filter((b) => b !== a);
        for (const b of others) {
          const ab = s.slice();
          m.step(ab, a);
          assert.ok(has(ab, b), `${sc.name}: ${a} disables ${b}`);
          m.step(ab, b);
          const ba = s.slice();
          m.step(ba, b);
          assert.ok(has(ba, a), `${sc.name}: ${b} disables ${a}`);
          m.step(ba, a);
          assert.deepEqual(ab, ba, `${sc.name} ${mem}: ${a} and ${b} do not commute`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 0);
});

// The reducer memoizes its answer on a key of a few words (reduction.ts `fits`): a key that missed
// something the answer reads would answer one state with another's verdict. Every reachable state
// of every built-in, in BFS order with the memo warm, against the reducer that computes each time.
test("the reducer's memo answers as computing every answer does, on every reachable state", () => {
  let compared = 0;
  for (const { sc, v } of cases()) {
    for (const mem of MEMORY_MODELS) {
      const m = buildModel(sc, v, undefined, mem);
      const memo = new AmpleReducer(m, sc);
      const fresh = new AmpleReducer(m, sc, { memo: false });
      const acts = new Int32Array(m.maxActions);
      for (const s of reachable(m, 5000)) {
        const n = m.enabled(s, acts);
        if (n < 2) continue;
        assert.equal(memo.choose(s, acts, n), fresh.choose(s, acts, n), `${sc.name} ${mem}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 1000);
});

test('the reduction is off for DFS and with none', () => {
  const sc = loadScenario('seed-004-loop').scenario;
  const m = buildModel(sc, DEFAULT_VARIANT);
  const r = exploreReduced(m, sc, 'ample', { ...OPTS, strategy: 'dfs' });
  assert.equal(r.reduction.name, 'none');
  assert.equal(explore(m, OPTS).distinct, exploreReduced(m, sc, 'none', OPTS).distinct);
});

test('RowMemo keeps what a Map of the rows keeps, through its growth', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 6 })
        .chain((len) =>
          fc.tuple(
            fc.constant(len),
            fc.array(
              fc.tuple(
                fc.array(fc.integer({ min: -3, max: 40 }), { minLength: len, maxLength: len }),
                fc.integer({ min: 0, max: 127 }),
              ),
              { maxLength: 600 },
            ),
          ),
        ),
      ([len, puts]) => {
        const memo = new RowMemo(len, 4);
        const ref = new Map<string, number>();
        for (const [row, v] of puts) {
          memo.put(Int32Array.from(row), v);
          ref.set(row.join(','), v);
        }
        assert.equal(memo.count, ref.size);
        for (const [row] of puts) assert.equal(memo.get(Int32Array.from(row)), ref.get(row.join(',')));
        assert.equal(memo.get(new Int32Array(len).fill(99)), -1, 'a row never put');
      },
    ),
  );
});
