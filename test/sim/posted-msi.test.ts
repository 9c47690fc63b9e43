/**
 * Host posted MSI in simulated time (sim-000-posted-msi; docs/sim.md "Host posted MSI"): each
 * device posts at its own rate, the drivers' handler times are paid once per interrupt, and the
 * loop limit (MAX_POSTED_MSI_COALESCING_LOOP) acts through the postings that arrive while the
 * handlers of a round run (arch/x86/kernel/irq.c sysvec_posted_msi_notification: a later round
 * finds them without another notification). The directions come from that mechanism, not from a
 * run: a higher limit never gives fewer interrupts per notification; without handler time a round
 * after the first rarely finds anything, so the limit barely moves the notifications.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostTable } from '../../src/cli/costs.ts';
import { drive } from '../../src/drive/drive.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import type { Scenario } from '../../src/scenarios/schema.ts';
import { presetsOf, resolveVariant } from '../../src/scenarios/variants.ts';
import { compileSimCosts, runExperiment } from '../../src/sim/experiment.ts';
import { formatSuiteTable } from '../../src/sim/report-text.ts';
import type { SimResult } from '../../src/sim/result.ts';
import { buildSimModel } from '../../src/sim/sim-model.ts';
import { TimeOrderedChooser } from '../../src/sim/simulate.ts';
import { workloadSources } from '../../src/sim/sources.ts';
import { pairedDifference } from '../../src/sim/stats.ts';
import { SUITE } from '../../src/sim/suite.ts';

const intel = loadCostTable('intel-skylake-sp');
const base = loadScenario('sim-000-posted-msi').scenario;

/** The scenario with every device's handler taking `handler` ns. */
function withHandler(handler: number): Scenario {
  return {
    ...base,
    workload: { ...base.workload!, devices: base.workload!.devices.map((d) => ({ ...d, handler })) },
  };
}

function run(sc: Scenario, replications = 4): SimResult {
  return runExperiment(
    sc,
    presetsOf(sc).map((p) => resolveVariant(sc, p)),
    {
      costs: intel,
      seed: 3,
      replications,
      durationNs: 2e6,
      warmupNs: 2e5,
      scenarioHash: () => 'sha256:test',
    },
    'builtin:sim-000-posted-msi',
  ).result;
}

function values(r: SimResult, limit: number, name: string): number[] {
  const m = r.variants.find((v) => v.name === `limit-${limit}`)!.metrics.find((x) => x.name === name);
  assert.ok(m, `limit-${limit} has no ${name}`);
  return m.values;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('each host posted-MSI device posts at its own rate, and only the devices take arrivals', () => {
  const sc = base;
  const sm = buildSimModel(sc, resolveVariant(sc, 'limit-3').variant, 'x');
  const handler = sm.model.actors.findIndex((a) => a.name === 'posted-msi-pcpu0');
  // The model adds the notification handler after the scenario's actors: it is no device.
  assert.equal(sm.actorSource[handler], -1);
  assert.equal(sm.postedMsi.pcpuOf[handler], 0);
  const clock = intel.clockGHz.value;
  const c = compileSimCosts(sm, intel);
  const duration = 2e6 * clock;
  const ch = new TimeOrderedChooser(sm, c.steps, c.events, workloadSources(sm.workload, 1, clock, 5, 0), {
    clockGHz: clock,
    warmup: 0,
    duration,
    strandedBound: duration,
  });
  drive(sm.model, ch, {
    maxSteps: Number.POSITIVE_INFINITY,
    keepPath: false,
    sink: ch,
    stepped: (a) => ch.stepped(a),
    start: (s) => ch.start(s),
  });
  // Poisson at 500 kHz for 2 ms: 1000 posts each, within 4 standard deviations (sqrt 1000).
  for (const d of sc.workload!.devices) {
    const k = sm.keys.indexOf(`iommu/post MSI 0x${d.vector.toString(16)} to pcpu0`);
    assert.ok(k >= 0, `no posting step for ${d.name}`);
    assert.ok(Math.abs(ch.keyCount[k] - 1000) < 4 * Math.sqrt(1000), `${d.name}: ${ch.keyCount[k]} posts`);
  }
});

test("each interrupt pays its driver's handler once: handler cycles per interrupt are the workload's time", () => {
  const r = run(base, 2);
  for (const limit of [1, 3, 6])
    for (const v of values(r, limit, 'posted_msi_handler_cycles_per_irq'))
      assert.ok(Math.abs(v - 250 * intel.clockGHz.value) < 1e-6, `limit ${limit}: ${v}`);
});

test('a higher loop limit never gives fewer interrupts per notification, and 6 gives clearly more than 1', () => {
  const r = run(base);
  for (let n = 1; n < 6; n++) {
    const d = pairedDifference(
      values(r, n + 1, 'posted_msi_irqs_per_notification'),
      values(r, n, 'posted_msi_irqs_per_notification'),
    );
    assert.ok(d.hi >= 0, `limit ${n + 1} against ${n}: ${d.mean} ± ${d.halfWidth}`);
  }
  const gain = pairedDifference(
    values(r, 6, 'posted_msi_irqs_per_notification'),
    values(r, 1, 'posted_msi_irqs_per_notification'),
  );
  assert.ok(gain.lo > 0, `6 against 1: ${gain.mean} ± ${gain.halfWidth}`);
  // Fewer notifications for the same postings means fewer notification-path cycles per interrupt.
  assert.ok(
    mean(values(r, 6, 'posted_msi_cycles_per_irq')) < mean(values(r, 1, 'posted_msi_cycles_per_irq')),
  );
});

test('without handler time the loop limit barely moves the notifications; with it, it does', () => {
  const change = (r: SimResult, from: number, to: number) =>
    (mean(values(r, from, 'posted_msi_notifications')) - mean(values(r, to, 'posted_msi_notifications'))) /
    mean(values(r, from, 'posted_msi_notifications'));
  const none = run(withHandler(0));
  const timed = run(base);
  // Without handler time a second round finds only what was posted during the first round's few
  // loads and exchanges; a third finds (almost) nothing.
  assert.ok(
    Math.abs(change(none, 1, 6)) < change(timed, 1, 6) / 5,
    `${change(none, 1, 6)} vs ${change(timed, 1, 6)}`,
  );
  assert.ok(Math.abs(change(none, 3, 6)) < 0.005, `3 to 6 without handler time: ${change(none, 3, 6)}`);
  assert.ok(change(timed, 3, 6) > 0.01, `3 to 6 with handler time: ${change(timed, 3, 6)}`);
});

test('the --all table of the loop-limit sweep names each point’s preset in its own column', () => {
  const entry = SUITE.find((e) => e.scenario === 'sim-000-posted-msi')!;
  const rows = entry.sweep!.points.slice(0, 3).map((p) => {
    const sc = p.apply(base);
    const result = runExperiment(
      sc,
      p.presets!.map((n) => resolveVariant(sc, n)),
      {
        costs: intel,
        seed: 1,
        replications: 2,
        durationNs: 2e5,
        warmupNs: 0,
        scenarioHash: () => 'sha256:test',
      },
      'builtin:sim-000-posted-msi',
    ).result;
    return { entry, point: p.label, result };
  });
  const lines = formatSuiteTable({ rows, results: rows.map((r) => r.result), interrupted: false }).split(
    '\n',
  );
  assert.ok(
    lines.some((l) => /^ {2}loop limit\s+metric\s+unit\s+variant\s+mean ± 95%\s*$/.test(l)),
    lines.join('\n'),
  );
  for (const n of [1, 2, 3])
    assert.ok(
      lines.some((l) =>
        new RegExp(`^  ${n}\\s+posted_msi_irqs_per_notification\\s+count\\s+limit-${n}\\s+\\S`).test(l),
      ),
      lines.join('\n'),
    );
});
