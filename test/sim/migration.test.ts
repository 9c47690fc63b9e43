/**
 * vCPU migration in the simulator (workload overcommit.migration; sched.ts emitMigrate and
 * emitSchedIn): the host scheduler moves a vCPU's thread to the other pCPU's run queue, and its
 * next sched-in there goes through KVM's own load (vmx_vcpu_pi_load: NDST rewritten, a blocked
 * vCPU taken off the old pCPU's wake-up list). Two halting vCPUs on two pCPUs, each woken by a
 * device's postings. What the mechanism implies:
 * - the balancer moves each thread at the configured rate;
 * - notifications still reach the vCPU's current pCPU: whenever a vCPU runs in guest mode its
 *   descriptor's NDST names the pCPU it runs on, the checker's wake-up-list invariant holds
 *   (a vCPU on a list has NV the wake-up vector and NDST that list's pCPU) and no notification is
 *   processed against the wrong vCPU; nothing is stranded;
 * - and those checks can fail: with checklist X4's mutation (ndstWhileBlocked: rewritten, the bug
 *   fixed in Nov 2019) a blocked vCPU scheduled in on another pCPU keeps its old list entry while
 *   NDST moves, which the wake-up-list invariant sees at the first such migration; without
 *   migration the mutation is harmless.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { drive } from '../../src/drive/drive.ts';
import { apicIdFromNdst, piNdst } from '../../src/model/hw/pid.ts';
import { KVM_VCPU, MODE_IN_GUEST } from '../../src/model/kvm/state.ts';
import { pcpuApicId } from '../../src/model/platform/world.ts';
import { propertyCode } from '../../src/model/system/properties.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { resolveVariant } from '../../src/scenarios/variants.ts';
import { compileSimCosts, runExperiment } from '../../src/sim/experiment.ts';
import { buildSimModel } from '../../src/sim/sim-model.ts';
import { TimeOrderedChooser } from '../../src/sim/simulate.ts';
import { workloadSources } from '../../src/sim/sources.ts';

const intel = loadCostTable('intel-skylake-sp');
const CLOCK = intel.clockGHz.value;
const DURATION_MS = 10;

function scenario(migration?: string, pcpus = 2): Scenario {
  return parseScenarioText(
    JSON.stringify({
      name: 'migration',
      description: 'two halting vCPUs whose threads move between two pCPUs',
      source: 'test',
      machine: {
        pcpus,
        vcpus: [0, 1].map((x) => ({ pcpu: x % pcpus, running: x < pcpus, autoEoi: true })),
      },
      actors: [0, 1].map((x) => ({
        name: `vcpu${x}`,
        vcpu: x,
        repeat: true,
        steps: [{ do: 'guest.hlt' }, { do: 'kvm.enter' }],
      })),
      workload: {
        duration: `${DURATION_MS}ms`,
        warmup: '0ms',
        devices: [
          { rate: '20kHz', vector: '0x41', vcpu: 0 },
          { rate: '20kHz', vector: '0x42', vcpu: 1 },
        ],
        halts: [{ vcpu: 'all', busy: '20us' }],
        ...(migration === undefined ? {} : { overcommit: { vcpusPerPcpu: 1, timeSlice: '1ms', migration } }),
      },
    }),
    'migration.json',
  );
}

/**
 * Replication `rep` of the scenario under `variant`, with the checker's wake-up-list and
 * wrong-vCPU properties monitored at every step, and after every step the check that a vCPU in
 * guest mode has NDST naming its pCPU. Returns how the run ended and what it saw.
 */
function monitored(sc: Scenario, variant: string, rep: number) {
  const v = resolveVariant(sc, variant).variant;
  const sm = buildSimModel(sc, v, 'migration.json');
  // The same programs, built with the properties the simulator does not check.
  sm.model = buildModel(sm.scenario, v, ['wakeup-list', 'no-wrong-vcpu']);
  const c = compileSimCosts(sm, intel);
  const ch = new TimeOrderedChooser(sm, c.steps, c.events, workloadSources(sc.workload!, 2, CLOCK, 5, rep), {
    clockGHz: CLOCK,
    warmup: 0,
    duration: DURATION_MS * 1e6 * CLOCK,
    strandedBound: 1e6 * CLOCK,
  });
  const w = sm.model.w;
  let state: Uint32Array | null = null;
  let ndstElsewhere = 0;
  let inGuestChecks = 0;
  const r = drive(sm.model, ch, {
    maxSteps: Number.POSITIVE_INFINITY,
    keepPath: false,
    sink: ch,
    start: (s) => {
      state = s;
      ch.start(s);
    },
    stepped: (a) => {
      ch.stepped(a);
      const s = state!;
      for (let x = 0; x < 2; x++) {
        const k = w.L.kvmVcpu[x];
        if (s[k + KVM_VCPU.MODE] !== MODE_IN_GUEST) continue;
        inGuestChecks++;
        const p = s[k + KVM_VCPU.LOADED] - 1;
        if (apicIdFromNdst(piNdst(s, w.L.pid[x]), w.machine.x2apic) !== pcpuApicId(p)) ndstElsewhere++;
      }
    },
  });
  return { end: r.end, violation: r.violation, migrations: ch.migrations, ndstElsewhere, inGuestChecks, ch };
}

test('the balancer moves each thread at the configured rate, and the moves take vCPUs to the other pCPU', () => {
  const sc = scenario('5kHz');
  const r = runExperiment(
    sc,
    [resolveVariant(sc, 'current')],
    { costs: intel, seed: 5, replications: 4, scenarioHash: () => 'x' },
    'test',
  ).result;
  const metric = (n: string) => r.variants[0].metrics.find((m) => m.name === n)!;
  // Two Poisson sources at 5 kHz over 10 ms: 100 moves each; 4 standard errors of the mean.
  const moves = metric('sched_migrate_task').ci.mean;
  const se = Math.sqrt(10_000 / (DURATION_MS * 1e-3) / 4);
  assert.ok(Math.abs(moves - 10_000) < 4 * se, `${moves} moves per second`);
  // A sched-in lands on the other pCPU after an odd number of moves: some, never more than moves.
  for (const [i, m] of metric('vcpu_migrations').values.entries()) {
    assert.ok(m > 0 && m <= metric('sched_migrate_task').values[i], `${m} migrations`);
  }
  assert.deepEqual(
    metric('stranded').values,
    metric('stranded').values.map(() => 0),
  );
});

test('with migration, notifications reach the current pCPU: NDST follows the vCPU, wake-up lists agree, nothing processed against the wrong vCPU', () => {
  for (const rep of [0, 1]) {
    const m = monitored(scenario('5kHz'), 'current', rep);
    assert.equal(m.violation, 0, `replication ${rep}: violation ${m.violation}`);
    assert.ok(m.migrations > 20, `replication ${rep}: ${m.migrations} migrations`);
    assert.ok(m.inGuestChecks > 0);
    assert.equal(m.ndstElsewhere, 0);
    assert.equal(m.ch.meas.wrongVcpuProcessing, 0);
  }
});

test("checklist X4's mutation breaks the wake-up lists only when threads migrate", () => {
  const wakeupList = propertyCode('wakeup-list');
  for (const rep of [0, 1]) {
    assert.equal(monitored(scenario(), 'ndstWhileBlocked=rewritten', rep).violation, 0);
    const m = monitored(scenario('5kHz'), 'ndstWhileBlocked=rewritten', rep);
    assert.equal(m.end, 'violation');
    assert.equal(m.violation, wakeupList);
  }
});

test('migration needs a second pCPU: a one-line error naming the field', () => {
  const sc = scenario('5kHz', 1);
  assert.throws(
    () => buildSimModel(sc, resolveVariant(sc, 'current').variant, 'migration.json'),
    /^UserError: migration\.json\.overcommit\.migration: .*machine\.pcpus must be at least 2$/,
  );
});
