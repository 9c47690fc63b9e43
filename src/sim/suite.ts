/**
 * The built-in simulation scenarios as `irqlab sim --all` runs them: each seed's change as a
 * measured cost (issue 11, docs/sim.md "Each seed as a measured cost"). An entry names its
 * scenario, the figures its table shows and, for a sweep, the points it runs (the scenario with
 * a parameter changed: a posting rate, a vCPU count).
 */
import { loadScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { presetsOf, resolveVariant } from '../scenarios/variants.ts';
import { type ExperimentOptions, runExperiment } from './experiment.ts';
import type { SimResult } from './result.ts';

export interface SweepPoint {
  label: string;
  apply: (sc: Scenario) => Scenario;
  /** The presets run at this point (default: all of the scenario's). */
  presets?: string[];
}

export interface SuiteEntry {
  seed: string;
  scenario: string;
  what: string;
  /** The metrics the table shows, in order. */
  metrics: string[];
  /** What the sweep varies, and its points (none: the scenario as it is). */
  sweep?: { what: string; points: SweepPoint[] };
}

/** Every device of the workload posts at `rate` events per second. */
function deviceRate(rate: number, label: string): SweepPoint {
  return {
    label,
    apply: (sc) => ({
      ...sc,
      workload: { ...sc.workload!, devices: sc.workload!.devices.map((d) => ({ ...d, rate })) },
    }),
  };
}

/** n vCPUs, each on its own pCPU, each running the first actor's program. */
function vcpus(n: number): SweepPoint {
  return {
    label: String(n),
    apply: (sc) => {
      const proto = sc.actors![0];
      return {
        ...sc,
        machine: {
          ...sc.machine,
          pcpus: n,
          vcpus: Array.from({ length: n }, (_, x) => ({ ...sc.machine.vcpus[0], pcpu: x })),
        },
        actors: Array.from({ length: n }, (_, x) => ({ ...proto, name: `vcpu${x}`, vcpu: x })),
      };
    },
  };
}

/** The scenario as it is, run with one of its presets (a sweep over a knob's values). */
function preset(name: string, label: string): SweepPoint {
  return { label, apply: (sc) => sc, presets: [name] };
}

export const SUITE: SuiteEntry[] = [
  {
    seed: '000',
    scenario: 'sim-000-harvest',
    what: 'PIR harvest: 32-bit chunks read and exchanged one by one, or 64-bit loads then an xchg of the non-zero words',
    metrics: ['loads_per_harvest', 'xchgs_per_harvest', 'cycles_per_harvest', 'harvests'],
    sweep: {
      what: 'posting rate per device',
      points: [deviceRate(10e3, '10kHz'), deviceRate(100e3, '100kHz'), deviceRate(1e6, '1MHz')],
    },
  },
  {
    seed: '000',
    scenario: 'sim-000-posted-msi',
    what: 'host posted MSI: handle_pending_pir rounds per notification (MAX_POSTED_MSI_COALESCING_LOOP, the kernel’s 3) under four device queues at 500 kHz each whose handlers take 250 ns',
    metrics: [
      'posted_msi_irqs_per_notification',
      'posted_msi_notifications',
      'posted_msi_cycles_per_irq',
      'posted_msi_irqs',
    ],
    sweep: {
      what: 'loop limit',
      points: [1, 2, 3, 4, 5, 6].map((n) => preset(`limit-${n}`, String(n))),
    },
  },
  {
    seed: '001',
    scenario: 'sim-001-overcommit',
    what: 'SN at every put that is not blocking: spurious notifications against a PIR scan at each load',
    metrics: [
      'spurious_notifications',
      'kvm_posted_intr_ipis',
      'pi_wrong_vcpu',
      'pir_scans_at_load',
      'kvm_cycles',
      'latency_mean',
    ],
  },
  {
    seed: '002',
    scenario: 'sim-002-irq-window',
    what: 'the IRQ window inhibit: apicv_update_lock for write at each window, or a counter',
    metrics: [
      'apicv_update_lock_write_per_window',
      'apicv_update_lock_write_wait',
      'apicv_update_lock_read',
      'exit_handling_share',
      'guest_share',
    ],
    sweep: { what: 'vCPUs', points: [vcpus(2), vcpus(4), vcpus(8), vcpus(16)] },
  },
  {
    seed: '003',
    scenario: 'sim-003-icr-fastpath',
    what: 'the x2APIC ICR write: full exit path or IRQs-off fastpath (no IPI virtualization)',
    metrics: ['latency_mean_cycles', 'latency_mean', 'kvm_cycles', 'vm_exits'],
  },
  {
    seed: '003',
    scenario: 'sim-003-icr-ipiv',
    what: 'the same IPIs with IPI virtualization: no exit on either path',
    metrics: ['latency_mean_cycles', 'latency_mean', 'kvm_cycles', 'vm_exits'],
  },
  {
    seed: '004',
    scenario: 'sim-004-preempted-posting',
    what: 'ON recomputed when SN is cleared at load: a vector posted during preemption waits for the next VM entry, not for an unrelated posting',
    metrics: ['latency_mean', 'latency_p99', 'latency_max', 'stranded'],
  },
];

export interface SuiteRow {
  entry: SuiteEntry;
  point?: string;
  result: SimResult;
}

export interface SuiteRun {
  rows: SuiteRow[];
  results: SimResult[];
  interrupted: boolean;
}

export function runSuite(options: (sc: Scenario) => ExperimentOptions, stop: () => boolean): SuiteRun {
  const rows: SuiteRow[] = [];
  for (const entry of SUITE) {
    const { scenario } = loadScenario(entry.scenario);
    const points: (SweepPoint | undefined)[] = entry.sweep?.points ?? [undefined];
    for (const p of points) {
      if (stop()) return { rows, results: rows.map((r) => r.result), interrupted: true };
      const sc = p ? p.apply(scenario) : scenario;
      const run = runExperiment(
        sc,
        (p?.presets ?? presetsOf(sc)).map((name) => resolveVariant(sc, name)),
        options(sc),
        `builtin:${entry.scenario}: at workload`,
      );
      const result: SimResult = p ? { ...run.result, point: `${entry.sweep!.what} ${p.label}` } : run.result;
      rows.push({ entry, point: p?.label, result });
      if (run.interrupted) return { rows, results: rows.map((r) => r.result), interrupted: true };
    }
  }
  return { rows, results: rows.map((r) => r.result), interrupted: false };
}
