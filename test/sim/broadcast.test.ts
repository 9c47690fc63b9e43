/**
 * Broadcast guest IPIs in the simulator (workload ipis[].pattern broadcast; fastpath.ts
 * emitIcrBroadcast): one ICR write with shorthand all-excluding-self reaches every other vCPU, so
 * N vCPUs get N - 1 deliveries per write; IPI virtualization does not virtualize a shorthand (SDM
 * Vol. 3C "IPI Virtualization": physical, fixed, no shorthand only), so under IPIv each write is
 * an APIC-write exit; and KVM's exit fastpath declines a shorthand (1e9e2622a149: no shorthand,
 * physical, fixed), so the fastpath knob changes nothing for a broadcast while it does for a
 * single-target IPI.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { presetsOf, resolveVariant } from '../../src/scenarios/variants.ts';
import { runExperiment } from '../../src/sim/experiment.ts';
import type { SimResult } from '../../src/sim/result.ts';

const NV = 4;
const DURATION_S = 2e-3;

function scenario(features: Record<string, boolean>, pattern: 'broadcast' | 'single'): Scenario {
  return parseScenarioText(
    JSON.stringify({
      name: 'broadcast',
      description: 'broadcast guest IPIs',
      source: 'test',
      machine: {
        pcpus: NV,
        features,
        vcpus: Array.from({ length: NV }, (_, p) => ({ pcpu: p, running: true, autoEoi: true })),
      },
      actors: Array.from({ length: NV }, (_, x) => ({ name: `vcpu${x}`, vcpu: x })),
      presets: { before: { icrWrite: 'full-exit' }, after: { icrWrite: 'fastpath' } },
      workload: {
        duration: `${DURATION_S * 1e3}ms`,
        warmup: '50us',
        // Periodic, every 100 us: far apart next to an IPI's latency, so no write finds its vector
        // still pending in a target (which would coalesce two deliveries into one).
        ipis: [
          {
            rate: '10kHz',
            arrivals: 'periodic',
            vector: '0x62',
            pattern,
            from: 1,
            ...(pattern === 'single' ? { to: 2 } : {}),
          },
        ],
      },
    }),
    'broadcast.json',
  );
}

function run(sc: Scenario): SimResult {
  const variants = presetsOf(sc).map((p) => resolveVariant(sc, p));
  const costs = loadCostTable(sc.machine.features.avic ? 'amd-epyc' : 'intel-skylake-sp');
  return runExperiment(sc, variants, { costs, seed: 3, replications: 2, scenarioHash: () => 'x' }, 'test')
    .result;
}

/** A per-second metric of replication r, as a count over the measured time. */
function count(r: SimResult, variant: string, name: string, rep = 0): number {
  const v = r.variants.find((x) => x.name === variant)!;
  const m = v.metrics.find((x) => x.name === name) ?? v.exitsByReason.find((x) => x.name === name);
  return m === undefined ? 0 : Math.round(m.values[rep] * DURATION_S);
}

const MACHINES: [string, Record<string, boolean>][] = [
  ['APICv', {}],
  ['APICv with IPIv', { ipiv: true }],
  ['AVIC', { apicv: false, vtdPosting: false, avic: true }],
];

for (const [what, features] of MACHINES)
  test(`${what}: a broadcast to ${NV - 1} other vCPUs delivers ${NV - 1} interrupts per ICR write`, () => {
    const r = run(scenario(features, 'broadcast'));
    for (const variant of ['before', 'after'])
      for (const rep of [0, 1]) {
        const writes = count(r, variant, 'icr_writes', rep);
        assert.equal(writes, 20, `${variant}: writes every 100 us for 2 ms`);
        assert.equal(count(r, variant, 'deliveries', rep), (NV - 1) * writes, variant);
      }
  });

test('IPIv: a broadcast ICR write is not virtualized and exits (APIC write at 300H); a unicast one does not', () => {
  const b = run(scenario({ ipiv: true }, 'broadcast'));
  assert.equal(count(b, 'after', 'APIC_WRITE'), count(b, 'after', 'icr_writes'));
  assert.equal(count(b, 'after', 'MSR_WRITE'), 0);
  const s = run(scenario({ ipiv: true }, 'single'));
  assert.equal(count(s, 'after', 'vm_exits'), 0);
});

test('the exit fastpath declines a shorthand: full-exit and fastpath cost a broadcast the same, not a unicast', () => {
  const b = run(scenario({}, 'broadcast'));
  assert.equal(count(b, 'after', 'MSR_WRITE'), count(b, 'after', 'icr_writes'));
  const latency = (r: SimResult, v: string) => r.variants.find((x) => x.name === v)!.latency;
  assert.deepEqual(latency(b, 'after'), latency(b, 'before'));
  const s = run(scenario({}, 'single'));
  assert.ok(
    latency(s, 'after').mean < latency(s, 'before').mean,
    `unicast: fastpath ${latency(s, 'after').mean} ns, full exit ${latency(s, 'before').mean} ns`,
  );
});
