/**
 * overcommit.preemption false in the simulator: the host never takes a running vCPU off its pCPU,
 * so threads sharing a pCPU run until they halt. Two halting vCPUs, each woken by a device's
 * postings: on one shared pCPU a vCPU woken while the other runs waits for that one's HLT (its
 * remaining busy period, exponential with the busy period's mean of 20 us), so the slow tail of the
 * latency is tens of microseconds; on a pCPU each, it is the wake-up path's few microseconds. A
 * scenario that preempts, or a thread with nothing that ends its run, contradicts the workload: a
 * one-line error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { resolveVariant } from '../../src/scenarios/variants.ts';
import { runExperiment } from '../../src/sim/experiment.ts';
import { buildSimModel } from '../../src/sim/sim-model.ts';

function scenario(pcpus: number, halts = true, preemptedPut = false, hostPoll = '0ns'): Scenario {
  return parseScenarioText(
    JSON.stringify({
      name: 'no-preemption',
      description: 'two halting vCPUs, without preemption',
      source: 'test',
      machine: { pcpus, vcpus: [0, 1].map(() => ({ pcpu: -1, autoEoi: true })) },
      actors: [0, 1].map((x) => ({
        name: `vcpu${x}`,
        vcpu: x,
        repeat: true,
        steps: [
          { do: 'kvm.load', pcpu: x % pcpus },
          { do: 'kvm.enter' },
          preemptedPut ? { do: 'kvm.exit', reason: 'EXTERNAL_INTERRUPT' } : { do: 'guest.hlt' },
          ...(preemptedPut ? [{ do: 'kvm.put', preempted: true }] : []),
        ],
      })),
      workload: {
        duration: '20ms',
        warmup: '1ms',
        devices: [
          { rate: '20kHz', vector: '0x41', vcpu: 0 },
          { rate: '20kHz', vector: '0x42', vcpu: 1 },
        ],
        ...(halts ? { halts: [{ vcpu: 'all', busy: '20us', hostPoll }] } : {}),
        overcommit: { vcpusPerPcpu: 2 / pcpus, timeSlice: '1ms', preemption: false },
      },
    }),
    'no-preemption.json',
  );
}

function run(sc: Scenario) {
  return runExperiment(
    sc,
    [resolveVariant(sc, 'current')],
    { costs: loadCostTable('intel-skylake-sp'), seed: 9, replications: 3, scenarioHash: () => 'x' },
    'test',
  ).result.variants[0];
}

function p99(sc: Scenario): number {
  return run(sc).latency.p99;
}

test('without preemption a vCPU woken on a shared pCPU waits for the other to halt', () => {
  const shared = p99(scenario(1));
  const own = p99(scenario(2));
  assert.ok(shared > 20_000, `shared pCPU: p99 ${shared} ns`);
  assert.ok(own < 10_000, `a pCPU each: p99 ${own} ns`);
});

test("KVM's halt polling yields the pCPU when the other vCPU waits to be scheduled in there", () => {
  // A 1 ms window, interrupts every 50 us on average: a poll that ran out would take 1 ms and
  // happen about once in e^20 halts. On the shared pCPU polls fail all the same, and quickly,
  // because the other thread becomes runnable there (kvm_vcpu_can_poll: single_task_running).
  const v = run(scenario(1, true, false, '1ms'));
  const total = (n: string) => v.metrics.find((m) => m.name === n)!.ci.mean;
  const failed = total('halt_attempted_poll') - total('halt_successful_poll');
  assert.ok(
    failed > 0.05 * total('halt_attempted_poll'),
    `${failed} of ${total('halt_attempted_poll')} polls failed`,
  );
  const meanFailedNs = total('halt_poll_fail_ns') / failed;
  assert.ok(meanFailedNs < 100_000, `a failed poll lasted ${meanFailedNs} ns on average`);
  // And the woken vCPU's wait stays that of the other's busy period, not of its polls.
  assert.ok(v.latency.p99 < 150_000, `p99 ${v.latency.p99} ns`);
});

test('preemption false refuses a preempted put, and a thread that would never leave its guest', () => {
  const build = (sc: Scenario) => () => buildSimModel(sc, resolveVariant(sc, 'current').variant, 'np.json');
  assert.throws(
    build(scenario(1, true, true)),
    /^UserError: np\.json\.overcommit\.preemption: false, but actor vcpu0 steps\[3\] is a preempted kvm\.put/,
  );
  assert.throws(
    build(scenario(1, false)),
    /^UserError: np\.json\.overcommit\.preemption: false, and actor vcpu0 \(vcpu0\) has no halts, userspaceExits or pit/,
  );
});
