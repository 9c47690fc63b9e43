/**
 * The simulator on the model (src/sim/simulate.ts, experiment.ts): the chooser's order rule, common
 * random numbers, a workload's configured rate recovered within its interval, determinism, an
 * interrupted experiment, and each seed's before/after direction as the seed's discussion states
 * it (../shared/seeds, kvm-semantics.md). Durations are short: the directions, not the figures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { presetsOf, resolveVariant } from '../../src/scenarios/variants.ts';
import { CompiledCosts, resolveEvent } from '../../src/sim/costs.ts';
import { type ExperimentOptions, runExperiment } from '../../src/sim/experiment.ts';
import type { SimResult } from '../../src/sim/result.ts';
import { buildSimModel } from '../../src/sim/sim-model.ts';
import { TimeOrderedChooser } from '../../src/sim/simulate.ts';
import { workloadSources } from '../../src/sim/sources.ts';

const intel = loadCostTable('intel-skylake-sp');
const amd = loadCostTable('amd-epyc');

function opts(sc: Scenario, o: Partial<ExperimentOptions> = {}): ExperimentOptions {
  return {
    costs: sc.machine.features.avic ? amd : intel,
    seed: 7,
    replications: 3,
    scenarioHash: () => 'sha256:test',
    ...o,
  };
}

function run(name: string, o: Partial<ExperimentOptions> = {}, edit?: (sc: Scenario) => Scenario): SimResult {
  const base = loadScenario(name).scenario;
  const sc = edit ? edit(base) : base;
  const variants = presetsOf(sc).map((p) => resolveVariant(sc, p));
  return runExperiment(sc, variants, opts(sc, o), `builtin:${name}`).result;
}

function metric(r: SimResult, variant: string, name: string) {
  const v = r.variants.find((x) => x.name === variant);
  assert.ok(v, `variant ${variant}`);
  const m = v.metrics.find((x) => x.name === name);
  assert.ok(m, `${variant} has no ${name} (has ${v.metrics.map((x) => x.name).join(', ')})`);
  return m;
}

test('the chooser takes the earliest start; at equal times the hardware first, then first in, first out', () => {
  const { scenario: sc } = loadScenario('sim-003-icr-fastpath');
  const sm = buildSimModel(sc, resolveVariant(sc, 'before').variant, 'x');
  const costs = new CompiledCosts(intel, sm.keys, 2);
  const events = new CompiledCosts(intel, ['vmexit'], 2, resolveEvent);
  const ch = new TimeOrderedChooser(sm, costs, events, workloadSources(sc.workload!, 2, 2.5, 1, 0), {
    clockGHz: 2.5,
    warmup: 0,
    duration: 1e9,
    strandedBound: 1e9,
  });
  const s = new Uint32Array(sm.model.words);
  sm.model.init(s);
  ch.start(s);
  const A = sm.model.actors.length;
  // Two threads and a pCPU's dispatch all ready at time 0: the dispatch (hardware) goes first.
  const acts = Int32Array.from([0, 1, A]);
  assert.equal(ch.choose(s, acts, 3), 2);
  // The two threads, both ready at time 0: the one that became enabled first (actor 0, enabled
  // before actor 1 in the first call) goes first, whatever the order of the list.
  const two = Int32Array.from([1, 0]);
  assert.equal(two[ch.choose(s, two, 2)], 0);
  assert.equal(ch.choose(s, new Int32Array(0), 0), -1);
});

test('common random numbers: every variant sees the same IPI arrivals in each replication', () => {
  const r = run('sim-003-icr-fastpath', { durationNs: 2e6, warmupNs: 1e5, replications: 5 });
  assert.deepEqual(metric(r, 'before', 'icr_writes').values, metric(r, 'after', 'icr_writes').values);
  // ... and different replications see different ones.
  assert.notEqual(new Set(metric(r, 'before', 'icr_writes').values).size, 1);
});

test('a Poisson source at 50 kHz is recovered: ICR writes per second within 4 standard errors of 50000', () => {
  // With IPI virtualization the sender never leaves the guest, so every arrival is one ICR write.
  // A Poisson count over T has variance rate * T: 4 standard errors of the mean of n replications
  // leave a chance of about 6e-5 that a correct simulator fails here.
  const n = 8;
  const seconds = 4e-3;
  const r = run('sim-003-icr-ipiv', { durationNs: seconds * 1e9, warmupNs: 0, replications: n });
  const m = metric(r, 'before', 'icr_writes');
  const se = Math.sqrt(50_000 / seconds / n);
  assert.ok(Math.abs(m.ci.mean - 50_000) < 4 * se, `${m.ci.mean} (standard error ${se})`);
  assert.equal(metric(r, 'before', 'vm_exits').ci.mean, 0);
});

test('the same seed gives the same result, another seed another one', () => {
  const a = JSON.stringify(run('sim-001-overcommit', { durationNs: 2e6, warmupNs: 1e5, replications: 2 }));
  const b = JSON.stringify(run('sim-001-overcommit', { durationNs: 2e6, warmupNs: 1e5, replications: 2 }));
  const c = JSON.stringify(
    run('sim-001-overcommit', { durationNs: 2e6, warmupNs: 1e5, replications: 2, seed: 8 }),
  );
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('an interrupted experiment keeps what it measured and says so', () => {
  const { scenario: sc } = loadScenario('sim-000-harvest');
  const variants = presetsOf(sc).map((p) => resolveVariant(sc, p));
  let polls = 0;
  const run0 = runExperiment(sc, variants, opts(sc, { interrupted: () => ++polls > 1 }), 'x');
  assert.equal(run0.interrupted, true);
  assert.equal(run0.result.variants.length, 1);
  assert.ok(run0.steps > 0);
});

test('seed 000: a 64-bit harvest loads 4 words where the 32-bit one loads 8 chunks, and costs fewer cycles', () => {
  const r = run('sim-000-harvest', { durationNs: 2e6, warmupNs: 1e5 });
  assert.equal(metric(r, 'u32-interleaved', 'loads_per_harvest').ci.mean, 8);
  assert.equal(metric(r, 'u64-loads-then-xchg', 'loads_per_harvest').ci.mean, 4);
  const d = r.differences.find((x) => x.metric === 'cycles_per_harvest')!;
  assert.ok(d.ci.hi < 0, `cycles per harvest: ${d.ci.lo}..${d.ci.hi}`);
});

test('seed 001: SN at every put that is not blocking removes spurious notifications and adds a PIR scan per load', () => {
  const r = run('sim-001-overcommit', { durationNs: 10e6, warmupNs: 1e6 });
  const spurious = r.differences.find((x) => x.metric === 'spurious_notifications')!;
  assert.ok(spurious.ci.hi < 0, `spurious: ${spurious.ci.lo}..${spurious.ci.hi}`);
  assert.ok(metric(r, 'before', 'pi_wrong_vcpu').ci.mean > 0);
  assert.equal(metric(r, 'after', 'pi_wrong_vcpu').ci.mean, 0);
  const scans = r.differences.find((x) => x.metric === 'pir_scans_at_load')!;
  assert.ok(scans.ci.lo > 0);
});

test('seed 002: two write acquisitions of apicv_update_lock per IRQ window before, none after (PIT_REINJ set)', () => {
  const r = run('sim-002-irq-window', { durationNs: 1e6, warmupNs: 1e5 });
  assert.equal(metric(r, 'before', 'apicv_update_lock_write_per_window').ci.mean, 2);
  assert.equal(metric(r, 'after', 'apicv_update_lock_write_per_window').ci.mean, 0);
});

test('seed 003: the fastpath shortens the ICR write to the handler; with IPIv no write exits', () => {
  const r = run('sim-003-icr-fastpath', { durationNs: 2e6, warmupNs: 1e5 });
  const d = r.differences.find((x) => x.metric === 'latency_mean_cycles')!;
  assert.ok(d.ci.hi < 0, `${d.ci.lo}..${d.ci.hi}`);
  assert.ok(metric(r, 'before', 'vm_exits').ci.mean > 0);
  const v = run('sim-003-icr-ipiv', { durationNs: 2e6, warmupNs: 1e5 });
  assert.equal(metric(v, 'before', 'vm_exits').ci.mean, 0);
  assert.ok(metric(v, 'before', 'latency_mean').ci.mean < metric(r, 'after', 'latency_mean').ci.mean);
});

test('seed 004: before, vectors posted in preemption are stranded; after, none waits past the next VM entry', () => {
  const r = run('sim-004-preempted-posting', { durationNs: 30e6, warmupNs: 2e6, replications: 4 });
  assert.ok(metric(r, 'before', 'stranded').ci.mean > 0);
  assert.equal(metric(r, 'after', 'stranded').ci.mean, 0);
  // After: at most the off-CPU time (one 1 ms slice of the other thread) and the way back in.
  assert.ok(metric(r, 'after', 'latency_max').ci.mean < 1.5e6);
});
