/**
 * Halts in the simulator (workload halts: idle, guestPoll, hostPoll; src/sim/halts.ts). One vCPU
 * alternates busy periods and idle periods, with HLT exiting; a device posts to it as a Poisson
 * source. The expectations come from the mechanisms:
 * - KVM's halt polling (kvm_vcpu_halt): a halt is a successful poll when a wake event comes within
 *   the window, which for Poisson arrivals at rate r (memoryless, whatever the busy period did)
 *   has probability 1 - exp(-r * window); those halts are not scheduled out, so with a window
 *   longer than the mean gap schedule-outs fall and successful polls rise; the polling time is the
 *   halt_poll_*_ns stats;
 * - the guest's haltpoll: an interrupt within the guest's poll ends the idle period with no HLT,
 *   so HLT exits are exactly the polls that ran out, and the share that did not is again
 *   1 - exp(-r * window);
 * - idle: with no other interrupt, each idle period ends by the guest's timer, one interrupt per
 *   halt, so a cycle takes busy + idle on average (plus the exit and wake-up paths).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { resolveVariant } from '../../src/scenarios/variants.ts';
import { runExperiment } from '../../src/sim/experiment.ts';
import type { SimResult } from '../../src/sim/result.ts';
import { buildSimModel } from '../../src/sim/sim-model.ts';

const DURATION_MS = 20;
const REPS = 3;

function scenario(halt: Record<string, string>, device?: string, hlt = true): Scenario {
  return parseScenarioText(
    JSON.stringify({
      name: 'halts',
      description: 'a halting vCPU',
      source: 'test',
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true, autoEoi: true }] },
      actors: [
        {
          name: 'vcpu0',
          vcpu: 0,
          repeat: true,
          steps: hlt ? [{ do: 'guest.hlt' }, { do: 'kvm.enter' }] : [{ do: 'kvm.exit' }, { do: 'kvm.enter' }],
        },
      ],
      workload: {
        duration: `${DURATION_MS}ms`,
        warmup: '1ms',
        devices: device === undefined ? [] : [{ rate: device, vector: '0x41', vcpu: 0 }],
        halts: [{ vcpu: 0, ...halt }],
      },
    }),
    'halts.json',
  );
}

function run(sc: Scenario): SimResult {
  const v = resolveVariant(sc, 'current');
  const costs = loadCostTable('intel-skylake-sp');
  return runExperiment(sc, [v], { costs, seed: 11, replications: REPS, scenarioHash: () => 'x' }, 'test')
    .result;
}

/** The metric's replications, as counts (or ns) over the measured time. */
function totals(r: SimResult, name: string): number[] {
  const m = r.variants[0].metrics.find((x) => x.name === name);
  assert.ok(m, `no ${name} (has ${r.variants[0].metrics.map((x) => x.name).join(', ')})`);
  return m.values.map((v) => v * DURATION_MS * 1e-3);
}
const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);

test('KVM halt polling: a window longer than the mean gap turns schedule-outs into successful polls', () => {
  // 20 kHz: a mean gap of 50 us. No polling, a 50 us window, a 200 us window.
  const none = run(scenario({ busy: '10us' }, '20kHz'));
  const w50 = run(scenario({ busy: '10us', hostPoll: '50us' }, '20kHz'));
  const w200 = run(scenario({ busy: '10us', hostPoll: '200us' }, '20kHz'));
  // Without polling nearly every halt is scheduled out (only a posting inside the exit path avoids it).
  assert.ok(sum(totals(none, 'halt_waited')) > 0.9 * sum(totals(none, 'halt_exits')));
  for (const [r, window] of [
    [w50, 50e-6],
    [w200, 200e-6],
  ] as const) {
    const attempted = sum(totals(r, 'halt_attempted_poll'));
    const success = sum(totals(r, 'halt_successful_poll'));
    const expected = 1 - Math.exp(-20_000 * window);
    const p = success / attempted;
    // 4 standard errors of a proportion over the halts counted, plus 0.02 for the exit path.
    const tol = 4 * Math.sqrt((expected * (1 - expected)) / attempted) + 0.02;
    assert.ok(
      Math.abs(p - expected) < tol,
      `window ${window}: ${p} of ${attempted} polls, expected ${expected}`,
    );
    // Every halt polls; a failed poll is a halt scheduled out.
    assert.ok(Math.abs(attempted - sum(totals(r, 'halt_exits'))) <= 2 * REPS);
    assert.ok(Math.abs(attempted - success - sum(totals(r, 'halt_waited'))) <= 2 * REPS);
  }
  assert.ok(sum(totals(w200, 'halt_waited')) < sum(totals(none, 'halt_waited')) / 10);
  // The polling costs CPU time: the pCPU stays out of the guest for the VM instead of going idle.
  const polled = (r: SimResult) =>
    sum(totals(r, 'halt_poll_success_ns')) + sum(totals(r, 'halt_poll_fail_ns'));
  assert.ok(polled(w200) > 0);
  const share = (r: SimResult, n: string) => r.variants[0].metrics.find((x) => x.name === n)!.ci.mean;
  assert.ok(share(w200, 'idle_share') < share(none, 'idle_share'));
  assert.ok(share(w200, 'exit_handling_share') > share(none, 'exit_handling_share'));
});

test("the guest's haltpoll: an interrupt inside the guest's poll ends the idle period without an HLT exit", () => {
  const r = run(scenario({ busy: '10us', guestPoll: '30us' }, '20kHz'));
  const fail = sum(totals(r, 'guest_poll_fail'));
  const success = sum(totals(r, 'guest_poll_success'));
  // Each HLT follows a poll that ran out.
  assert.ok(Math.abs(sum(totals(r, 'halt_exits')) - fail) <= 2 * REPS);
  const expected = 1 - Math.exp(-20_000 * 30e-6);
  const n = fail + success;
  const p = success / n;
  // The handler runs a posting's latency (a few us) after the arrival, so the effective window is
  // that much shorter: 0.05 more tolerance.
  const tol = 4 * Math.sqrt((expected * (1 - expected)) / n) + 0.05;
  assert.ok(
    Math.abs(p - expected) < tol,
    `${p} of ${n} idle periods ended in the poll, expected ${expected}`,
  );
});

test("idle: with no other interrupt each idle period ends by the guest's timer, after busy + idle", () => {
  const r = run(scenario({ busy: '10us', idle: '50us' }));
  const halts = totals(r, 'halt_exits');
  // One interrupt (the timer's) per halt.
  for (const [i, d] of totals(r, 'deliveries').entries()) assert.ok(Math.abs(d - halts[i]) <= 2);
  // A cycle is busy + idle on average, plus the exit, wake-up and entry paths (a few us).
  const perCycle = 60e-6;
  const cycles = (DURATION_MS * 1e-3) / perCycle;
  const mean = sum(halts) / REPS;
  assert.ok(mean > 0.75 * cycles && mean < 1.1 * cycles, `${mean} halts, ${cycles} cycles of 60 us`);
});

test('idle, guestPoll and hostPoll need a thread that halts: a one-line error naming the field', () => {
  const sc = scenario({ busy: '10us', hostPoll: '50us' }, '20kHz', false);
  assert.throws(
    () => buildSimModel(sc, resolveVariant(sc, 'current').variant, 'halts.json'),
    /^UserError: halts\.json\.halts\[0\]\.hostPoll: vcpu0 has no thread that halts/,
  );
});

test('a plain halt pattern no thread takes is refused too, not dropped', () => {
  const sc = scenario({ busy: '10us' }, '20kHz', false);
  assert.throws(
    () => buildSimModel(sc, resolveVariant(sc, 'current').variant, 'halts.json'),
    /^UserError: halts\.json\.halts\[0\]: vcpu0 has no thread that halts/,
  );
});
