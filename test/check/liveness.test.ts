/**
 * The fair-cycle phase against toy models whose fair cycles are known by construction:
 *
 * - Toggle: a spinner that flips x forever (action 0), a deliverer that clears the pending flag v
 *   (action 1; only where x = 1, or everywhere), optionally a sender that sets v again (action 2),
 *   and optionally a second obligation that is always pending and never ready.
 * - Labelled graphs: nodes with edges labelled by action ids, and a pending and a ready mask per
 *   node; random ones are checked against a reference that computes strongly connected components
 *   by plain reachability and checks every lasso the explorer reports by replaying it.
 *
 * Every fast-check property runs with a fixed seed, so the suite is deterministic.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { replay } from '../../src/check/counterexample.ts';
import { type CheckModel, type ExploreOptions, explore } from '../../src/check/explorer.ts';
import { lassoViolation, Tarjan } from '../../src/check/liveness.ts';
import { renderLasso } from '../../src/cli/check.ts';
import { UserError } from '../../src/errors.ts';
import { DEFAULT_VARIANT, withKnobs } from '../../src/model/kvm/variants.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { loadScenario } from '../../src/scenarios/files.ts';

const SEED = 0x11fe;
const LIVE = 13;
const WIDE: ExploreOptions['bounds'] = { maxStates: 1 << 22, maxDepth: 1 << 20, maxTimeMs: 1e9 };

function opts(over: Partial<ExploreOptions> = {}): ExploreOptions {
  return { strategy: 'bfs', bounds: WIDE, now: () => 0, ...over };
}

interface ToggleConfig {
  /** Where the deliverer is enabled (with v = 1): only at x = 1, or in every state. */
  gate: 'x1' | 'always';
  /** Where the obligation is ready: where the deliverer is enabled, or nowhere. */
  ready: 'gate' | 'never';
  /** A sender posts again once delivered. */
  resend: boolean;
  /** Obligation bit 1 is pending in every state and never ready. */
  stuck: boolean;
  /** Omit livenessCode (so the phase must not run). */
  noCode?: boolean;
}

/** State [x, v, 0xabcd]: x the spinner's bit, v the posted flag (obligation bit 0). */
class Toggle implements CheckModel {
  readonly words = 3;
  readonly maxActions = 3;
  readonly livenessCode?: number;
  readonly cfg: ToggleConfig;
  pendingCalls = 0;
  steps = 0;
  constructor(cfg: ToggleConfig) {
    this.cfg = cfg;
    if (!cfg.noCode) this.livenessCode = LIVE;
  }
  init(s: Uint32Array): void {
    s[0] = 0;
    s[1] = 1;
    s[2] = 0xabcd;
  }
  private gateOpen(s: Uint32Array): boolean {
    return s[1] === 1 && (this.cfg.gate === 'always' || s[0] === 1);
  }
  enabled(s: Uint32Array, out: Int32Array): number {
    let k = 0;
    out[k++] = 0;
    if (this.gateOpen(s)) out[k++] = 1;
    if (this.cfg.resend && s[1] === 0) out[k++] = 2;
    return k;
  }
  step(s: Uint32Array, action: number): number {
    this.steps++;
    if (action === 0) s[0] ^= 1;
    else if (action === 1) s[1] = 0;
    else s[1] = 1;
    return 0;
  }
  invariant(): number {
    return 0;
  }
  terminal(): number {
    return 0;
  }
  pending(s: Uint32Array): number {
    this.pendingCalls++;
    return (s[1] === 1 ? 1 : 0) | (this.cfg.stuck ? 2 : 0);
  }
  ready(s: Uint32Array): number {
    return this.cfg.ready === 'gate' && this.gateOpen(s) ? 1 : 0;
  }
}

interface Node {
  /** [action, target]; action ids distinct per node. */
  edges: [number, number][];
  pending: number;
  ready: number;
}

/** A labelled graph as a model: state [node, node ^ salt]. */
class Labelled implements CheckModel {
  readonly words = 2;
  readonly maxActions: number;
  readonly livenessCode = LIVE;
  readonly nodes: Node[];
  constructor(nodes: Node[]) {
    this.nodes = nodes;
    this.maxActions = Math.max(1, ...nodes.map((n) => n.edges.length));
  }
  init(s: Uint32Array): void {
    s[0] = 0;
    s[1] = 0x5a5a5a5a;
  }
  enabled(s: Uint32Array, out: Int32Array): number {
    const l = this.nodes[s[0]].edges;
    for (let k = 0; k < l.length; k++) out[k] = l[k][0];
    return l.length;
  }
  step(s: Uint32Array, action: number): number {
    const e = this.nodes[s[0]].edges.find(([a]) => a === action)!;
    s[0] = e[1];
    s[1] = (s[0] ^ 0x5a5a5a5a) >>> 0;
    return 0;
  }
  invariant(): number {
    return 0;
  }
  terminal(): number {
    return 0;
  }
  pending(s: Uint32Array): number {
    return this.nodes[s[0]].pending;
  }
  ready(s: Uint32Array): number {
    return this.nodes[s[0]].ready;
  }
}

/**
 * Replays a lasso with the model's own methods, independently of liveness.ts, and returns the
 * obligation bits it leaves unmet under weak fairness (0: the lasso is not a violation). Fails if
 * an action is not enabled or the loop does not close.
 */
function unmetBits(model: CheckModel, path: readonly number[], loopStart: number): number {
  assert.ok(loopStart >= 0 && loopStart < path.length, 'the loop is not empty');
  const s = new Uint32Array(model.words);
  const acts = new Int32Array(model.maxActions);
  model.init(s);
  const loop: { state: number[]; enabled: number[]; action: number }[] = [];
  let at: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const enabled = Array.from(acts.subarray(0, model.enabled(s, acts)));
    assert.ok(enabled.includes(path[i]), `step ${i + 1}: action ${path[i]} is enabled`);
    if (i === loopStart) at = Array.from(s);
    if (i >= loopStart) loop.push({ state: Array.from(s), enabled, action: path[i] });
    model.step(s, path[i]);
  }
  assert.deepEqual(Array.from(s), at, 'the loop closes');
  const always = loop[0].enabled.filter((a) => loop.every((l) => l.enabled.includes(a)));
  const fair = always.every((a) => loop.some((l) => l.action === a));
  if (!fair) return 0;
  let bits = 0;
  for (let b = 0; b < 31; b++) {
    const pendingAll = loop.every((l) => (model.pending!(Uint32Array.from(l.state)) >> b) & 1);
    const readySome = loop.some((l) => (model.ready!(Uint32Array.from(l.state)) >> b) & 1);
    if (pendingAll && readySome) bits |= 1 << b;
  }
  return bits;
}

describe('fair cycles: toy models', () => {
  test('(a) a fair cycle keeping a pending obligation, ready somewhere: violated, as a lasso', () => {
    for (const strategy of ['bfs', 'dfs'] as const) {
      const m = new Toggle({ gate: 'x1', ready: 'gate', resend: false, stuck: false });
      const r = explore(m, opts({ strategy }));
      assert.equal(r.outcome.kind, 'violated', strategy);
      if (r.outcome.kind !== 'violated') return;
      assert.equal(r.outcome.code, LIVE);
      assert.equal(r.outcome.atTerminal, false);
      const { path, loopStart } = r.outcome;
      assert.equal(typeof loopStart, 'number');
      if (strategy === 'bfs') {
        // The initial state (x 0, v 1) is in the cycle; the spinner flips x there and back.
        assert.deepEqual(path, [0, 0]);
        assert.equal(loopStart, 0);
      }
      assert.equal(unmetBits(new Toggle(m.cfg), path, loopStart!), 1, 'obligation 0 is left unmet');
      assert.equal(lassoViolation(new Toggle(m.cfg), path, loopStart!), LIVE);
    }
  });

  test('(a) with a stem: the loop starts after the path to the cycle', () => {
    // 0 -> 1 -> 2 -> 1, obligation pending at 1 and 2, ready at 2 where action 1 would discharge it.
    const m = new Labelled([
      { edges: [[0, 1]], pending: 0, ready: 0 },
      { edges: [[0, 2]], pending: 1, ready: 0 },
      {
        edges: [
          [0, 1],
          [1, 3],
        ],
        pending: 1,
        ready: 1,
      },
      { edges: [[0, 3]], pending: 0, ready: 0 },
    ]);
    const r = explore(m, opts());
    assert.deepEqual(r.outcome, {
      kind: 'violated',
      code: LIVE,
      path: [0, 0, 0],
      atTerminal: false,
      loopStart: 1,
    });
    assert.equal(unmetBits(m, [0, 0, 0], 1), 1);
  });

  test('(b) the discharging action is enabled in every state of the cycle: unfair, holds', () => {
    const m = new Toggle({ gate: 'always', ready: 'gate', resend: false, stuck: false });
    const r = explore(m, opts());
    assert.deepEqual(r.outcome, { kind: 'holds' });
    assert.ok(m.pendingCalls > 0, 'the phase ran');
    // With a sender posting again after each delivery, too.
    assert.deepEqual(
      explore(new Toggle({ gate: 'always', ready: 'gate', resend: true, stuck: false }), opts()).outcome,
      { kind: 'holds' },
    );
  });

  test('(c) pending forever but never ready in the cycle: holds', () => {
    const m = new Toggle({ gate: 'x1', ready: 'never', resend: false, stuck: false });
    assert.deepEqual(explore(m, opts()).outcome, { kind: 'holds' });
    // Ready only on the stem, before the cycle is entered.
    const g = new Labelled([
      {
        edges: [
          [0, 1],
          [1, 3],
        ],
        pending: 1,
        ready: 1,
      },
      { edges: [[0, 2]], pending: 1, ready: 0 },
      { edges: [[0, 1]], pending: 1, ready: 0 },
      { edges: [], pending: 0, ready: 0 },
    ]);
    assert.deepEqual(explore(g, opts()).outcome, { kind: 'holds' });
  });

  test('(d) a terminating model: the phase runs and reports nothing', () => {
    // 0 -> 1 -> 2 -> 3 (end) with the obligation pending and ready on the way: no cycle at all.
    const chain = new Labelled([
      { edges: [[0, 1]], pending: 1, ready: 1 },
      { edges: [[0, 2]], pending: 1, ready: 1 },
      { edges: [[1, 3]], pending: 1, ready: 1 },
      { edges: [], pending: 0, ready: 0 },
    ]);
    for (const strategy of ['bfs', 'dfs'] as const) {
      assert.deepEqual(explore(chain, opts({ strategy })).outcome, { kind: 'holds' });
    }
    // A self-loop that takes the obligation away is no violation either.
    const settle = new Labelled([
      { edges: [[0, 1]], pending: 1, ready: 1 },
      { edges: [[0, 1]], pending: 0, ready: 0 },
    ]);
    assert.deepEqual(explore(settle, opts()).outcome, { kind: 'holds' });
  });

  test('an obligation toggling inside a larger cycle: the fair sub-cycle where it stays is found', () => {
    // Obligation 1 is always pending, so every state has pending != 0 and one component holds
    // states with v = 0 and v = 1; the fair cycle that keeps v = 1 lies inside it.
    const cfg: ToggleConfig = { gate: 'x1', ready: 'gate', resend: true, stuck: true };
    const r = explore(new Toggle(cfg), opts());
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    assert.equal(unmetBits(new Toggle(cfg), r.outcome.path, r.outcome.loopStart!), 1);
    assert.deepEqual(explore(new Toggle({ ...cfg, gate: 'always' }), opts()).outcome, { kind: 'holds' });
  });

  test('the phase needs pending, ready and livenessCode', () => {
    const m = new Toggle({ gate: 'x1', ready: 'gate', resend: false, stuck: false, noCode: true });
    assert.deepEqual(explore(m, opts()).outcome, { kind: 'holds' });
    assert.equal(m.pendingCalls, 0);
  });

  test('(e) bounds hit: incomplete, and no liveness verdict', () => {
    const cfg: ToggleConfig = { gate: 'x1', ready: 'gate', resend: true, stuck: false };
    for (const strategy of ['bfs', 'dfs'] as const) {
      const s = new Toggle(cfg);
      assert.deepEqual(explore(s, opts({ strategy, bounds: { ...WIDE, maxStates: 2 } })).outcome, {
        kind: 'incomplete',
        reason: 'states',
      });
      const d = new Toggle(cfg);
      assert.deepEqual(explore(d, opts({ strategy, bounds: { ...WIDE, maxDepth: 1 } })).outcome, {
        kind: 'incomplete',
        reason: 'depth',
      });
      assert.equal(s.pendingCalls + d.pendingCalls, 0, 'the phase did not run');
    }
  });

  test('the time bound and Ctrl-C also apply during the phase', () => {
    const cfg: ToggleConfig = { gate: 'x1', ready: 'gate', resend: true, stuck: false };
    const t = new Toggle(cfg);
    // The clock jumps past the budget once the phase has started (pending is only called there).
    const r = explore(t, opts({ now: () => (t.pendingCalls > 0 ? 1e12 : 0) }));
    assert.deepEqual(r.outcome, { kind: 'incomplete', reason: 'time' });
    const i = new Toggle(cfg);
    const r2 = explore(i, opts({ shouldStop: () => i.pendingCalls > 0 }));
    assert.deepEqual(r2.outcome, { kind: 'incomplete', reason: 'interrupted' });
  });

  test('a loop that must detour through a state where an action is disabled to be fair', () => {
    // Component {1, 2, 3}: 1 -a0-> 2 -a0-> 1 and 1 -a1-> 3 -a1-> 1; action 2 leaves it from 1 and
    // 2 and is disabled at 3. No action is enabled in all three states, so the component is fair,
    // but the loop 1 -> 2 -> 1 would keep action 2 enabled and never take it: the lasso must go
    // through 3 instead.
    const m = new Labelled([
      { edges: [[0, 1]], pending: 0, ready: 0 },
      {
        edges: [
          [0, 2],
          [1, 3],
          [2, 4],
        ],
        pending: 1,
        ready: 1,
      },
      {
        edges: [
          [0, 1],
          [2, 4],
        ],
        pending: 1,
        ready: 0,
      },
      { edges: [[1, 1]], pending: 1, ready: 0 },
      { edges: [], pending: 0, ready: 0 },
    ]);
    const r = explore(m, opts());
    assert.equal(r.outcome.kind, 'violated');
    if (r.outcome.kind !== 'violated') return;
    assert.equal(r.outcome.loopStart, 1);
    assert.deepEqual(r.outcome.path, [0, 1, 1]);
    assert.equal(unmetBits(m, r.outcome.path, 1), 1);
  });
});

/** Reference: SCCs of the subgraph on `member` nodes by mutual reachability. */
function reach(succ: number[][], member: boolean[]): boolean[][] {
  const n = succ.length;
  return succ.map((_, u) => {
    const seen = new Array<boolean>(n).fill(false);
    if (!member[u]) return seen;
    const stack = [u];
    while (stack.length > 0) {
      const x = stack.pop()!;
      for (const y of succ[x]) {
        if (member[y] && !seen[y]) {
          seen[y] = true;
          stack.push(y);
        }
      }
    }
    return seen;
  });
}

const graphArb = fc
  .integer({ min: 1, max: 24 })
  .chain((m) =>
    fc.tuple(
      fc.array(fc.array(fc.nat(m - 1), { maxLength: 3 }), { minLength: m, maxLength: m }),
      fc.array(fc.boolean(), { minLength: m, maxLength: m }),
    ),
  );

describe('fair cycles: strongly connected components', () => {
  test('Tarjan agrees with mutual reachability, emits components in reverse topological order', () => {
    fc.assert(
      fc.property(graphArb, ([succ, member]) => {
        const n = succ.length;
        const off = new Int32Array(n + 1);
        succ.forEach((l, v) => {
          off[v + 1] = off[v] + l.length;
        });
        const tgt = Int32Array.from(succ.flat());
        const mask = Int32Array.from(member, (b) => (b ? 4 : 2));
        const t = new Tarjan(n);
        t.run(off, tgt, mask, 4);
        const r = reach(succ, member);
        for (let u = 0; u < n; u++) {
          assert.equal(t.comp[u] >= 0, member[u], `node ${u}: a component iff a member`);
          for (let v = 0; v < n; v++) {
            if (!member[u] || !member[v]) continue;
            const same = u === v || (r[u][v] && r[v][u]);
            assert.equal(t.comp[u] === t.comp[v], same, `${u} and ${v}`);
          }
        }
        // Each component is one contiguous range of order[].
        assert.equal(t.start[t.comps], member.filter(Boolean).length);
        for (let c = 0; c < t.comps; c++) {
          for (let i = t.start[c]; i < t.start[c + 1]; i++) assert.equal(t.comp[t.order[i]], c);
        }
        succ.forEach((l, u) => {
          for (const w of l) if (member[u] && member[w]) assert.ok(t.comp[w] <= t.comp[u]);
        });
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('Tarjan needs no recursion: a path of 10^6 states', () => {
    const n = 1_000_000;
    const off = new Int32Array(n + 1);
    for (let v = 0; v < n; v++) off[v + 1] = off[v] + 1;
    // v -> v + 1, and the last back to the first: one component of every state.
    const tgt = Int32Array.from({ length: n }, (_, v) => (v + 1) % n);
    const all = new Int32Array(n).fill(1);
    const t = new Tarjan(n);
    t.run(off, tgt, all, 1);
    assert.equal(t.comps, 1);
    // Without the back edge (the last state has no edge): a million single components.
    off[n] = n - 1;
    t.run(off, tgt, all, 1);
    assert.equal(t.comps, n);
  });
});

/** Random labelled graphs: actions 0..3, obligation bits 0..1. */
const labelledArb = fc.integer({ min: 1, max: 12 }).chain((m) =>
  fc.array(
    fc.record({
      edges: fc
        .uniqueArray(fc.tuple(fc.nat(3), fc.nat(m - 1)), { selector: ([a]) => a, maxLength: 4 })
        .map((l) => l as [number, number][]),
      pending: fc.nat(3),
      ready: fc.nat(3),
    }),
    { minLength: m, maxLength: m },
  ),
);

/** Reference verdict: some bit, some component of its pending subgraph (reachable part) that is nontrivial, ready somewhere and weakly fair. */
function referenceViolated(nodes: Node[]): boolean {
  const succ = nodes.map((n) => n.edges.map(([, t]) => t));
  const reachable = reach(
    succ,
    nodes.map(() => true),
  )[0];
  reachable[0] = true;
  for (let b = 0; b < 2; b++) {
    const member = nodes.map((n, i) => reachable[i] && ((n.pending >> b) & 1) === 1);
    const r = reach(succ, member);
    const done = new Set<number>();
    for (let u = 0; u < nodes.length; u++) {
      if (!member[u] || done.has(u)) continue;
      const comp = nodes.map((_, v) => v).filter((v) => v === u || (r[u][v] && r[v][u]));
      for (const v of comp) done.add(v);
      const inside = (v: number) => comp.includes(v);
      const internal = comp.flatMap((v) => nodes[v].edges.filter(([, t]) => inside(t)).map(([a]) => a));
      if (internal.length === 0) continue;
      if (!comp.some((v) => ((nodes[v].ready >> b) & 1) === 1)) continue;
      const everywhere = [0, 1, 2, 3].filter((a) => comp.every((v) => nodes[v].edges.some(([x]) => x === a)));
      if (everywhere.every((a) => internal.includes(a))) return true;
    }
  }
  return false;
}

describe('fair cycles: random labelled graphs', () => {
  test('the verdict agrees with a reachability-based reference, and every lasso replays as a fair violation', () => {
    fc.assert(
      fc.property(labelledArb, fc.constantFrom('bfs' as const, 'dfs' as const), (nodes, strategy) => {
        const m = new Labelled(nodes);
        const r = explore(m, opts({ strategy }));
        const expected = referenceViolated(nodes);
        assert.equal(r.outcome.kind, expected ? 'violated' : 'holds');
        if (r.outcome.kind !== 'violated') return;
        assert.equal(r.outcome.code, LIVE);
        assert.notEqual(unmetBits(m, r.outcome.path, r.outcome.loopStart!), 0, 'the lasso is a violation');
        assert.equal(lassoViolation(m, r.outcome.path, r.outcome.loopStart!), LIVE);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('fair cycles: replay and printing', () => {
  const trace = JSON.parse(
    readFileSync(new URL('../regressions/seed-004.before.trace.json', import.meta.url), 'utf8'),
  ) as { scenario: string; variant: Record<string, string>; steps: { action: number }[]; path: number[] };
  trace.path = trace.steps.map((st) => st.action);
  const model = () =>
    buildModel(loadScenario(trace.scenario).scenario, withKnobs(DEFAULT_VARIANT, trace.variant, 'trace'));

  test('replay rejects a loop that does not close, and a loopStart out of range', () => {
    assert.throws(
      () => replay(model(), trace.path, 0),
      (e: unknown) => e instanceof UserError && /the loop does not close/.test(e.message),
    );
    for (const bad of [-1, trace.path.length, 1.5]) {
      assert.throws(
        () => replay(model(), trace.path, bad),
        (e: unknown) => e instanceof UserError && /loopStart/.test(e.message),
      );
    }
    // Without loopStart, as before.
    assert.equal(replay(model(), trace.path).entries.length, trace.path.length);
    assert.equal(lassoViolation(model(), trace.path, 0), 0, 'the real model declares no obligations yet');
  });

  test('the loop marker goes before the first step of the loop; without a loop, the text is unchanged', () => {
    const entries = replay(model(), trace.path).entries;
    const paint = {
      dim: (s: string) => s,
      bold: (s: string) => s,
      green: (s: string) => s,
      red: (s: string) => s,
      cyan: (s: string) => s,
    };
    const plain = renderLasso(entries, paint);
    const k = 3;
    const looped = renderLasso(entries, paint, k).split('\n');
    const at = looped.findIndex((l) => l.startsWith('── loop'));
    assert.equal(looped[at], `── loop: steps ${k + 1}..${entries.length} repeat forever ──`);
    assert.match(looped[at + 1], new RegExp(`^\\s*${k + 1}\\. `));
    assert.match(looped[at - 1 - countChangeLines(looped, at)], new RegExp(`^\\s*${k}\\. `));
    assert.deepEqual(looped.filter((_, i) => i !== at).join('\n'), plain);
    assert.equal(
      renderLasso(entries, paint, 0).split('\n')[0],
      `── loop: steps 1..${entries.length} repeat forever ──`,
    );
  });
});

/** The change lines just above line `at` (they do not start with a step number). */
function countChangeLines(lines: string[], at: number): number {
  let k = 0;
  while (at - 1 - k >= 0 && !/^\s*\d+\. /.test(lines[at - 1 - k])) k++;
  return k;
}
