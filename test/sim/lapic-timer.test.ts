/**
 * A guest's LAPIC timer as a simulation source (workload `timers`, docs/sim.md "LAPIC timers"): the
 * host's hrtimer fires at the model's own next expiry of the timer (hw/timer.ts through
 * kvm/lapic-timer.ts, apic_timer_fn -> apic_timer_expired) and posts the LVT vector, whose delivery
 * latency is measured like a device's. A periodic timer of period T over a measured time D expires
 * D / T times (SDM Vol. 3A 11.5.4: periodic mode reloads the initial count at each expiry), give or
 * take one at the edges.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadCostTable } from '../../src/cli/costs.ts';
import { UserError } from '../../src/errors.ts';
import { DEFAULT_VARIANT } from '../../src/model/kvm/variants.ts';
import { TIMER_BLOCK } from '../../src/model/platform/timer-block.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { runExperiment } from '../../src/sim/experiment.ts';
import type { SimResult } from '../../src/sim/result.ts';
import { check, withEndCheck } from '../check/support.ts';

const intel = loadCostTable('intel-skylake-sp');

/** One vCPU running in guest mode on pCPU 0 whose guest has a periodic timer. */
function timerScenario(timer: object, machine: object = {}): string {
  return JSON.stringify({
    name: 'timer',
    description: 'a guest LAPIC timer',
    source: 'test',
    machine: { pcpus: 1, lapicTimer: true, vcpus: [{ pcpu: 0, running: true, autoEoi: true }], ...machine },
    actors: [],
    workload: { duration: '1ms', timers: [{ vcpu: 0, vector: '0xec', ...timer }] },
  });
}

function simulate(sc: Scenario, durationNs: number, warmupNs = 0): SimResult {
  return runExperiment(
    sc,
    [{ name: 'current', variant: DEFAULT_VARIANT }],
    { costs: intel, seed: 1, replications: 1, durationNs, warmupNs, scenarioHash: () => 'sha256:test' },
    'timer.json: at workload',
  ).result;
}

function value(r: SimResult, name: string): number {
  const m = r.variants[0].metrics.find((x) => x.name === name);
  assert.ok(m, `no ${name}`);
  return m.ci.mean;
}

describe('a LAPIC timer as a simulation source', () => {
  test('a periodic timer of period T over a measured time D delivers D / T interrupts, give or take one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20_000, max: 500_000 }),
        fc.integer({ min: 1, max: 40 }).map((k) => k * 250_000),
        fc.integer({ min: 0, max: 300_000 }),
        (period, duration, warmup) => {
          const sc = parseScenarioText(timerScenario({ period: `${period}ns` }), 'timer.json');
          const r = simulate(sc, duration, warmup);
          const secs = duration / 1e9;
          const expected = duration / period;
          const delivered = value(r, 'deliveries') * secs;
          const expired = value(r, 'timer_expirations') * secs;
          // Whole counts within one of D / T: the expiries kT (k >= 1) in the measured window, and
          // their deliveries a latency later.
          const lo = Math.floor(expected) - 1;
          const hi = Math.ceil(expected);
          for (const [what, n] of [
            ['expirations', expired],
            ['deliveries', delivered],
          ] as const)
            assert.ok(
              Math.abs(n - Math.round(n)) < 1e-6 && Math.round(n) >= lo && Math.round(n) <= hi,
              `T=${period} D=${duration} W=${warmup}: ${n} ${what}, D/T = ${expected}`,
            );
        },
      ),
      { numRuns: 12 },
    );
  });

  test('its delivery latency is measured: every delivery has one, at least the path from the expiry to the handler', () => {
    const sc = parseScenarioText(timerScenario({ period: '100us' }), 'timer.json');
    const r = simulate(sc, 5e6);
    const lat = r.variants[0].latency;
    assert.equal(lat.count, Math.round(value(r, 'deliveries') * 5e-3));
    assert.ok(lat.count >= 49);
    // The hrtimer's interrupt, the notification IPI's flight and posted-interrupt processing all
    // come before the guest's handler (the cost table's own primitives).
    const p = intel.primitives;
    const floor =
      p.host_irq_entry_exit.cycles + p.ipi_icr_to_irr.cycles + p.posted_interrupt_processing.cycles;
    assert.ok(value(r, 'latency_mean_cycles') >= floor, `${value(r, 'latency_mean_cycles')} < ${floor}`);
    assert.ok(Number.isFinite(lat.max) && lat.max >= lat.mean);
  });

  test('one-shot and TSC-deadline timers: the guest re-arms from its handler, one intercepted write per expiry', () => {
    for (const mode of ['one-shot', 'tsc-deadline']) {
      const sc = parseScenarioText(timerScenario({ period: '50us', mode }), 'timer.json');
      const r = simulate(sc, 2e6);
      const n = (name: string) => value(r, name) * 2e-3;
      // Re-armed one period after each expiry: the same grid as a periodic timer (40 in 2 ms).
      assert.ok(Math.abs(n('timer_expirations') - 40) <= 1, `${mode}: ${n('timer_expirations')}`);
      assert.ok(Math.abs(n('deliveries') - 40) <= 1, `${mode}: ${n('deliveries')}`);
      // x2APIC: KVM intercepts WRMSR 838H (initial count) and 6E0H (IA32_TSC_DEADLINE).
      const msr = r.variants[0].exitsByReason.find((e) => e.name === 'MSR_WRITE');
      assert.ok(msr, `${mode}: no MSR_WRITE exits`);
      assert.ok(
        Math.abs(msr.ci.mean * 2e-3 - n('timer_expirations')) <= 1,
        `${mode}: ${msr.ci.mean * 2e-3} exits`,
      );
    }
    // A periodic timer reloads itself: no exit at all.
    const periodic = simulate(parseScenarioText(timerScenario({ period: '50us' }), 'timer.json'), 2e6);
    assert.equal(value(periodic, 'vm_exits'), 0);
  });

  test('a run longer than the model’s 32-bit timer clock is a one-line error naming the file', () => {
    const sc = parseScenarioText(timerScenario({ period: '1ms' }), 'timer.json');
    assert.throws(
      () => simulate(sc, 4.3e9),
      (e: unknown) =>
        e instanceof UserError && /^timer\.json: at workload\.timers: .*below 4\.29s$/.test(e.message),
    );
  });

  test('a timer source needs the machine’s LAPIC timer', () => {
    assert.throws(
      () => parseScenarioText(timerScenario({ period: '100us' }, { lapicTimer: false }), 'timer.json'),
      (e: unknown) =>
        e instanceof UserError &&
        e.message ===
          'timer.json: at workload.timers[0]: a LAPIC timer source needs "lapicTimer": true in machine',
    );
  });
});

describe('timer.expire in the checker', () => {
  test('the hrtimer posts the vector once the guest armed the timer, and waits while it is not armed', () => {
    const scenario = (armed: boolean) =>
      parseScenarioText(
        JSON.stringify({
          name: 'hrtimer',
          description: 'the guest arms its timer; the hrtimer fires it',
          source: 'test',
          machine: { pcpus: 1, lapicTimer: true, vcpus: [{ pcpu: 0, running: true, autoEoi: true }] },
          steps: armed
            ? [{ do: 'guest.timer', vcpu: 0, vector: '0xec', mode: 'one-shot', divide: 1, initialCount: 50 }]
            : [],
          actors: [{ name: 'hrtimer', steps: [{ do: 'timer.expire', vcpu: 0 }] }],
        }),
        'hrtimer.json',
      );
    const m = buildModel(scenario(true), DEFAULT_VARIANT);
    const fired = m.w.L.extra.get('timer.vcpu0')!;
    const w = withEndCheck(m, (s) => s[fired + TIMER_BLOCK.FIRED] === 1);
    const r = check(w.model);
    assert.equal(r.outcome.kind, 'holds', JSON.stringify(r.outcome));
    assert.ok(w.ends.count > 0);
    // Not armed: the hrtimer's step never becomes enabled, so nothing fires.
    const idle = buildModel(scenario(false), DEFAULT_VARIANT);
    const actor = idle.actorBase[idle.actors.findIndex((a) => a.name === 'hrtimer')];
    const wi = withEndCheck(idle, (s) => s[fired + TIMER_BLOCK.FIRED] === 0 && s[actor] === 0);
    assert.equal(check(wi.model).outcome.kind, 'holds');
    assert.ok(wi.ends.count > 0);
  });
});
