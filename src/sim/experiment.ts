/**
 * A simulation experiment (docs/sim.md, "Statistics"): a scenario run under each variant for the
 * same replications. Replication r of every variant draws from the same streams (seed, r, source),
 * so the variants see common random numbers and a before/after difference is a paired one, with its
 * own Student t interval. Every figure below is computed from the runs; none is stored.
 */
import { drive } from '../drive/drive.ts';
import type { Variant } from '../model/kvm/variants.ts';
import { EVENT_NAMES, EXIT_REASON, EXIT_REASON_NAMES } from '../model/platform/events.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { CompiledCosts, type CostTable, resolveEvent } from './costs.ts';
import type { Difference, LatencySummary, Metric, SimResult, VariantResult } from './result.ts';
import { SIM_FORMAT_VERSION } from './result.ts';
import { buildSimModel, checkTimerClock, type SimModel } from './sim-model.ts';
import { type ReplicationOptions, TimeOrderedChooser } from './simulate.ts';
import { nsToCycles, workloadSources } from './sources.ts';
import { confidenceInterval, LogHistogram, pairedDifference, Welford } from './stats.ts';
import type { Timeline } from './timeline.ts';

export interface ExperimentOptions {
  costs: CostTable;
  seed: number;
  replications: number;
  /** Override the workload's duration and warm-up (ns). */
  durationNs?: number;
  warmupNs?: number;
  /** A vector waiting longer than this is stranded (ns; default: the workload's). */
  strandedNs?: number;
  /** A timeline of replication 0 of a variant, when wanted. */
  timelineFor?: (variant: string) => Timeline | undefined;
  interrupted?: () => boolean;
  /**
   * The scenario's hash for the result (the CLI's sha256 of its canonical JSON; src/sim stays free
   * of node: imports).
   */
  scenarioHash: (sc: Scenario) => string;
  /** Called after each replication (progress). */
  onReplication?: (variant: string, replication: number, steps: number) => void;
}

export interface NamedVariant {
  name: string;
  variant: Variant;
}

/** One replication's figures: metric name -> value, exits by reason, the latency histogram. */
export interface ReplicationFigures {
  values: Map<string, { unit: string; value: number }>;
  exits: Map<string, number>;
  latency: LogHistogram;
  steps: number;
  events: number;
  /** Simulated cycles measured (less than the duration when interrupted). */
  measuredCycles: number;
  interrupted: boolean;
}

/** The cost table compiled for a model: its step keys and the event kinds. */
export function compileSimCosts(sm: SimModel, t: CostTable): { steps: CompiledCosts; events: CompiledCosts } {
  const v = sm.model.w.machine.vcpus.length;
  return {
    steps: new CompiledCosts(t, sm.keys, v),
    events: new CompiledCosts(t, Object.values(EVENT_NAMES), v, resolveEvent),
  };
}

/** Runs replication `rep` of one variant's model; returns its figures. */
export function runReplication(
  sm: SimModel,
  compiled: { steps: CompiledCosts; events: CompiledCosts },
  o: ExperimentOptions,
  rep: number,
  timeline?: Timeline,
): ReplicationFigures {
  const clock = o.costs.clockGHz.value;
  const w = sm.workload;
  const durationNs = o.durationNs ?? w.duration;
  const warmupNs = o.warmupNs ?? w.warmup;
  const ro: ReplicationOptions = {
    clockGHz: clock,
    warmup: nsToCycles(warmupNs, clock),
    duration: nsToCycles(durationNs, clock),
    strandedBound: nsToCycles(o.strandedNs ?? w.stranded, clock),
    timeline,
  };
  const sources = workloadSources(w, sm.model.w.machine.vcpus.length, clock, o.seed, rep);
  const ch = new TimeOrderedChooser(sm, compiled.steps, compiled.events, sources, ro);
  const poll = o.interrupted;
  const r = drive(sm.model, ch, {
    maxSteps: Number.POSITIVE_INFINITY,
    keepPath: false,
    sink: ch,
    stepped: (a) => ch.stepped(a),
    interrupted: poll === undefined ? undefined : () => (ch.steps & 0xffff) === 0 && poll(),
    start: (s) => ch.start(s),
  });
  const interrupted = r.end === 'interrupted';
  // A schedule that ends early (nothing left to do) has still been measured to the end.
  if (!interrupted && !ch.finished) ch.advanceTo(ro.warmup + ro.duration);
  ch.finish();
  const measured = Math.max(0, ch.now - ro.warmup);
  return {
    ...figures(sm, ch, measured, clock, ro.strandedBound, interrupted),
    steps: r.steps,
    events: ch.events,
  };
}

function sumKeys(sm: SimModel, arr: Float64Array, test: (key: string) => boolean): number {
  let s = 0;
  for (let i = 0; i < sm.keys.length; i++) if (test(sm.keys[i])) s += arr[i];
  return s;
}

const HARVEST_FIRST = /\/READ_ONCE\(pir\[0\]\)$/;
const HARVEST_LOAD = /\/READ_ONCE\(pir\[\d+\]\)$/;
const HARVEST_XCHG = /\/(arch_)?xchg\(pir\[\d+\]\)$/;

function figures(
  sm: SimModel,
  ch: TimeOrderedChooser,
  measured: number,
  clock: number,
  bound: number,
  interrupted: boolean,
): Omit<ReplicationFigures, 'steps' | 'events'> {
  const values = new Map<string, { unit: string; value: number }>();
  const secs = measured / clock / 1e9;
  const put = (name: string, unit: string, value: number) => values.set(name, { unit, value });
  const perSec = (n: number) => (secs > 0 ? n / secs : Number.NaN);
  const m = ch.meas;
  let exitsTotal = 0;
  const exits = new Map<string, number>();
  for (let r = 0; r < m.exits.length; r++) {
    if (m.exits[r] === 0) continue;
    exitsTotal += m.exits[r];
    exits.set(EXIT_REASON_NAMES[r] ?? `reason ${r}`, perSec(m.exits[r]));
  }
  put('vm_exits', '1/s', perSec(exitsTotal));
  let sent = 0;
  for (let v = 0; v < 256; v++) sent += m.notificationsSent[v];
  put('notification_ipis_sent', '1/s', perSec(sent));
  const host = m.hostNotifications();
  put('kvm_posted_intr_ipis', '1/s', perSec(host.kvm_posted_intr_ipis));
  put('kvm_posted_intr_wakeup_ipis', '1/s', perSec(host.kvm_posted_intr_wakeup_ipis));
  put('pi_wrong_vcpu', '1/s', perSec(m.wrongVcpuProcessing));
  put('spurious_notifications', '1/s', perSec(host.kvm_posted_intr_ipis + m.wrongVcpuProcessing));
  put('deliveries', '1/s', perSec(m.deliveries));
  const lat = m.latency;
  if (lat.count > 0) {
    put('latency_mean', 'ns', lat.mean / clock);
    put('latency_mean_cycles', 'cycles', lat.mean);
    put('latency_p50', 'ns', lat.percentile(0.5) / clock);
    put('latency_p99', 'ns', lat.percentile(0.99) / clock);
    put('latency_max', 'ns', lat.max / clock);
  }
  put('stranded', 'count', ch.strandedDelivered + m.stranded(bound));
  const kind = (k: string) => {
    const i = sm.stepKinds.indexOf(k);
    return i < 0 ? 0 : ch.kindCount[i];
  };
  const windows = kind('svm.irqWindow.open');
  if (ch.writeLock.acquisitions + ch.readLock.acquisitions > 0 || windows > 0) {
    put('apicv_update_lock_write', '1/s', perSec(ch.writeLock.acquisitions));
    put('apicv_update_lock_read', '1/s', perSec(ch.readLock.acquisitions));
    if (ch.writeLock.wait.n > 0) put('apicv_update_lock_write_wait', 'ns', ch.writeLock.wait.mean / clock);
    if (ch.writeLock.hold.n > 0) put('apicv_update_lock_write_hold', 'ns', ch.writeLock.hold.mean / clock);
    if (ch.readLock.wait.n > 0) put('apicv_update_lock_read_wait', 'ns', ch.readLock.wait.mean / clock);
  }
  if (windows > 0) {
    put('irq_windows', '1/s', perSec(windows));
    put('apicv_update_lock_write_per_window', 'count', ch.writeLock.acquisitions / windows);
  }
  const harvests = sumKeys(sm, ch.keyCount, (k) => HARVEST_FIRST.test(k));
  if (harvests > 0) {
    put('harvests', '1/s', perSec(harvests));
    put('loads_per_harvest', 'count', sumKeys(sm, ch.keyCount, (k) => HARVEST_LOAD.test(k)) / harvests);
    put('xchgs_per_harvest', 'count', sumKeys(sm, ch.keyCount, (k) => HARVEST_XCHG.test(k)) / harvests);
    put(
      'cycles_per_harvest',
      'cycles',
      sumKeys(sm, ch.keyCycles, (k) => HARVEST_LOAD.test(k) || HARVEST_XCHG.test(k)) / harvests,
    );
  }
  // Host posted MSI (docs/sim.md, "Host posted MSI"): notifications as /proc/interrupts counts
  // them (PMN), the interrupts their handlers took out of PIR, and the notification path's cycles
  // per interrupt, the drivers' own handlers not included.
  if (sm.postedMsi.pir.some((o) => o >= 0)) {
    put('posted_msi_notifications', '1/s', perSec(host.posted_msi));
    put('posted_msi_irqs', '1/s', perSec(ch.msiIrqs));
    if (host.posted_msi > 0) put('posted_msi_irqs_per_notification', 'count', ch.msiIrqs / host.posted_msi);
    if (ch.msiIrqs > 0) {
      put('posted_msi_cycles_per_irq', 'cycles', ch.msiCycles / ch.msiIrqs);
      put('posted_msi_handler_cycles_per_irq', 'cycles', ch.msiHandlerCycles / ch.msiIrqs);
    }
  }
  const scans = sumKeys(sm, ch.keyCount, (k) => k === 'vmx_vcpu_pi_load/pi_is_pir_empty');
  if (scans > 0) put('pir_scans_at_load', '1/s', perSec(scans));
  // A workload's LAPIC timers: their hrtimers' expirations (each posts the timer's vector).
  const expirations = kind('timer.expire');
  if (sm.timers.length > 0) put('timer_expirations', '1/s', perSec(expirations));
  const icr = kind('guest.icr');
  if (icr > 0) put('icr_writes', '1/s', perSec(icr));
  haltFigures(sm, ch, put, perSec, clock);
  if (sm.workload.overcommit?.migration !== undefined) {
    // Moves by the balancer (the sched_migrate_task tracepoint), and sched-ins on another pCPU
    // than the last (kvm_arch_vcpu_load with vcpu->cpu != cpu): a move takes effect at the next.
    put('sched_migrate_task', '1/s', perSec(kind('sched.migrate')));
    put('vcpu_migrations', '1/s', perSec(ch.migrations));
  }
  // Each pCPU's time: guest, exit handling, host interrupt work, idle (averaged over pCPUs), and
  // the cycles per second spent outside the guest on behalf of the VM.
  const P = sm.model.w.machine.pcpus;
  const total = [0, 0, 0, 0];
  for (let p = 0; p < P; p++) for (let k = 0; k < 4; k++) total[k] += ch.shares.cycles[p * 4 + k];
  const all = total[0] + total[1] + total[2] + total[3];
  // Each pCPU's own shares too (the issue asks for each pCPU's; with one pCPU they are the totals).
  if (P > 1)
    for (let p = 0; p < P; p++) {
      const c = ch.shares.cycles;
      const t = c[p * 4] + c[p * 4 + 1] + c[p * 4 + 2] + c[p * 4 + 3];
      if (t === 0) continue;
      put(`pcpu${p}_guest_share`, 'share', c[p * 4] / t);
      put(`pcpu${p}_exit_handling_share`, 'share', c[p * 4 + 1] / t);
      put(`pcpu${p}_host_share`, 'share', c[p * 4 + 2] / t);
    }
  if (all > 0) {
    put('guest_share', 'share', total[0] / all);
    put('exit_handling_share', 'share', total[1] / all);
    put('host_share', 'share', total[2] / all);
    put('idle_share', 'share', total[3] / all);
    put('kvm_cycles', 'cycles/s', perSec(total[1] + total[2]));
  }
  return { values, exits, latency: lat, measuredCycles: measured, interrupted };
}

/**
 * The halts, named as KVM's statistics name them (halt_exits, halt_attempted_poll,
 * halt_successful_poll, halt_poll_success_ns, halt_poll_fail_ns, halt_wait_ns; times as ns per
 * second of measured time), the halts in which the thread was scheduled out (the kvm_vcpu_wakeup
 * tracepoint's `waited`), and the guest's polls that ended the idle period or ran out into HLT.
 */
function haltFigures(
  sm: SimModel,
  ch: TimeOrderedChooser,
  put: (name: string, unit: string, value: number) => void,
  perSec: (n: number) => number,
  clock: number,
): void {
  if (!ch.halts.active) return;
  const c = ch.halts.counts;
  put('halt_exits', '1/s', perSec(ch.meas.exits[EXIT_REASON.HLT]));
  put('halt_waited', '1/s', perSec(c.waited));
  put('halt_wait_ns', 'ns/s', perSec(c.halt_wait / clock));
  if (sm.halt.hostPollNs.some((ns) => ns > 0)) {
    put('halt_attempted_poll', '1/s', perSec(c.halt_attempted_poll));
    put('halt_successful_poll', '1/s', perSec(c.halt_successful_poll));
    put('halt_poll_success_ns', 'ns/s', perSec(c.halt_poll_success / clock));
    put('halt_poll_fail_ns', 'ns/s', perSec(c.halt_poll_fail / clock));
  }
  if (sm.halt.guestPollNs.some((ns) => ns > 0)) {
    put('guest_poll_success', '1/s', perSec(c.guest_poll_success));
    put('guest_poll_fail', '1/s', perSec(c.guest_poll_fail));
  }
}

function metricOf(name: string, unit: string, values: number[]): Metric {
  const w = new Welford();
  for (const v of values) w.add(v);
  return { name, unit, ci: confidenceInterval(w), values };
}

function latencySummary(h: LogHistogram, clock: number): LatencySummary {
  const edges: number[] = [];
  const counts: number[] = [];
  const oct = h.octaves();
  for (const b of oct) {
    if (edges.length === 0) edges.push(b.lo / clock);
    edges.push(b.hi / clock);
    counts.push(b.count);
  }
  return {
    unit: 'ns',
    count: h.count,
    mean: h.count > 0 ? h.mean / clock : Number.NaN,
    p50: h.percentile(0.5) / clock,
    p99: h.percentile(0.99) / clock,
    max: h.count > 0 ? h.max / clock : Number.NaN,
    histogram: { edges, counts },
  };
}

export interface ExperimentRun {
  result: SimResult;
  /** Model steps executed, all variants and replications. */
  steps: number;
  interrupted: boolean;
}

/** Runs every variant for o.replications replications and summarizes them. */
export function runExperiment(
  sc: Scenario,
  variants: readonly NamedVariant[],
  o: ExperimentOptions,
  where: string,
  file?: string,
): ExperimentRun {
  const clock = o.costs.clockGHz.value;
  const out: VariantResult[] = [];
  const perVariant: Map<string, number[]>[] = [];
  const units = new Map<string, string>();
  let steps = 0;
  let interrupted = false;
  for (const nv of variants) {
    if (interrupted) break;
    const sm = buildSimModel(sc, nv.variant, where);
    checkTimerClock(sm, (o.durationNs ?? sc.workload!.duration) + (o.warmupNs ?? sc.workload!.warmup), where);
    const compiled = compileSimCosts(sm, o.costs);
    const series = new Map<string, number[]>();
    const exitSeries = new Map<string, number[]>();
    const pooled = new LogHistogram();
    let reps = 0;
    for (let rep = 0; rep < o.replications; rep++) {
      const f = runReplication(sm, compiled, o, rep, rep === 0 ? o.timelineFor?.(nv.name) : undefined);
      steps += f.steps;
      reps++;
      for (const [k, v] of f.values) {
        units.set(k, v.unit);
        const l = series.get(k) ?? new Array<number>(rep).fill(Number.NaN);
        l.push(v.value);
        series.set(k, l);
      }
      for (const [, l] of series) if (l.length < reps) l.push(Number.NaN);
      for (const [k, v] of f.exits) {
        const l = exitSeries.get(k) ?? new Array<number>(rep).fill(0);
        l.push(v);
        exitSeries.set(k, l);
      }
      for (const [, l] of exitSeries) if (l.length < reps) l.push(0);
      pooled.merge(f.latency);
      o.onReplication?.(nv.name, rep, f.steps);
      // Interrupted: what this replication measured so far is kept, and the experiment ends.
      if (f.interrupted) {
        interrupted = true;
        break;
      }
    }
    if (reps === 0) break;
    // A latency metric is missing from a replication with no delivery: its mean is over the others.
    const metrics: Metric[] = [];
    for (const [k, l] of series)
      metrics.push(
        metricOf(
          k,
          units.get(k)!,
          l.filter((x) => !Number.isNaN(x)),
        ),
      );
    const exitsByReason = [...exitSeries].map(([k, l]) => metricOf(k, '1/s', l));
    perVariant.push(series);
    out.push({
      name: nv.name,
      knobs: { ...nv.variant } as unknown as Record<string, string>,
      metrics,
      exitsByReason,
      latency: latencySummary(pooled, clock),
    });
  }
  // Paired differences against the first variant, where both have a value in every replication.
  const differences: Difference[] = [];
  for (let j = 1; j < out.length; j++) {
    for (const [k, to] of perVariant[j]) {
      const from = perVariant[0].get(k);
      if (!from || from.length !== to.length || to.length < 2) continue;
      if (from.some(Number.isNaN) || to.some(Number.isNaN)) continue;
      differences.push({
        metric: k,
        unit: units.get(k)!,
        from: out[0].name,
        to: out[j].name,
        ci: pairedDifference(to, from),
      });
    }
  }
  const w = sc.workload!;
  return {
    result: {
      formatVersion: SIM_FORMAT_VERSION,
      kind: 'irqlab-sim',
      scenario: sc.name,
      ...(file === undefined ? {} : { file }),
      scenarioHash: o.scenarioHash(sc),
      seed: o.seed,
      replications: o.replications,
      durationNs: o.durationNs ?? w.duration,
      warmupNs: o.warmupNs ?? w.warmup,
      costs: {
        name: o.costs.name,
        cpu: o.costs.cpu,
        clockGHz: clock,
        primitives: Object.fromEntries(Object.entries(o.costs.primitives).map(([k, v]) => [k, v.cycles])),
      },
      variants: out,
      differences,
    },
    steps,
    interrupted,
  };
}
