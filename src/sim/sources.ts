/**
 * The environment's random sources of a workload, in simulated cycles: each device, IPI pattern,
 * halting vCPU, migration and userspace-exit process and the PIT gets its own stream, numbered by
 * its fixed position in the workload (the order below), never by the order of events. So every
 * variant run on the same workload, seed and replication draws the same numbers from each source:
 * common random numbers (docs/decisions/0151-random-streams.md).
 *
 * Stream numbers: devices 0.., then IPI patterns, then halts (one per vCPU a pattern covers), then
 * per vCPU its migration and its userspace-exit process, then the PIT's ticks and its IF=0 windows.
 */
import type { Workload } from '../scenarios/workload.ts';
import { type Arrivals, BurstyArrivals, PeriodicArrivals, PoissonArrivals, Stream } from './random.ts';

export type SourceKind = 'device' | 'ipi' | 'halt' | 'migration' | 'userspace-exit' | 'pit' | 'pit-window';

export interface EnvSource {
  kind: SourceKind;
  /** Shown in output and the timeline: "device 0 (nic)", "ipi 1", "halt vcpu2", "pit". */
  name: string;
  /** The index of the workload entry it comes from (devices[i], ipis[i], halts[i]), or the vCPU. */
  entry: number;
  /** The vCPU it concerns, or -1. */
  vcpu: number;
  /** The stream's source number (its position, see above). */
  source: number;
  rng: Stream;
  /** When its events happen, for event sources; absent for duration draws (halts, PIT windows). */
  arrivals?: Arrivals;
  /** Mean durations in cycles, for duration draws: busy and idle (halts), window (PIT). */
  meanA?: number;
  meanB?: number;
}

interface ArrivalSpec {
  rate: number;
  arrivals: 'poisson' | 'periodic' | 'bursty';
  jitter?: number;
  on?: number;
  off?: number;
}

/** Simulated time is counted in cycles of the cost table's clock. */
export function nsToCycles(ns: number, clockGHz: number): number {
  return ns * clockGHz;
}

function arrivalsOf(a: ArrivalSpec, rng: Stream, clockGHz: number): Arrivals {
  const gap = (1e9 / a.rate) * clockGHz;
  switch (a.arrivals) {
    case 'poisson':
      return new PoissonArrivals(rng, gap);
    case 'periodic':
      return new PeriodicArrivals(rng, gap, nsToCycles(a.jitter ?? 0, clockGHz));
    case 'bursty':
      return new BurstyArrivals(rng, gap, nsToCycles(a.on!, clockGHz), nsToCycles(a.off!, clockGHz));
  }
}

/** Every random source of the workload for one replication, in stream order. */
export function workloadSources(
  w: Workload,
  vcpus: number,
  clockGHz: number,
  seed: number,
  replication: number,
): EnvSource[] {
  const out: EnvSource[] = [];
  const add = (s: Omit<EnvSource, 'source' | 'rng'>, make?: (rng: Stream) => Arrivals) => {
    const source = out.length;
    const rng = new Stream(seed, replication, source);
    out.push({ ...s, source, rng, arrivals: make?.(rng) });
  };
  w.devices.forEach((d, i) => {
    add(
      { kind: 'device', name: `device ${i}${d.name ? ` (${d.name})` : ''}`, entry: i, vcpu: d.vcpu ?? -1 },
      (rng) => arrivalsOf(d, rng, clockGHz),
    );
  });
  w.ipis.forEach((p, i) => {
    add(
      {
        kind: 'ipi',
        name: `ipi ${i}${p.name ? ` (${p.name})` : ''}`,
        entry: i,
        vcpu: p.from === 'any' ? -1 : p.from,
      },
      (rng) => arrivalsOf(p, rng, clockGHz),
    );
  });
  w.halts.forEach((h, i) => {
    const which = h.vcpu === 'all' ? Array.from({ length: vcpus }, (_, x) => x) : [h.vcpu];
    for (const x of which)
      add({
        kind: 'halt',
        name: `halt vcpu${x}`,
        entry: i,
        vcpu: x,
        meanA: nsToCycles(h.busy, clockGHz),
        meanB: h.idle === undefined ? undefined : nsToCycles(h.idle, clockGHz),
      });
  });
  const oc = w.overcommit;
  for (let x = 0; x < vcpus; x++) {
    if (oc?.migration !== undefined) {
      const r = oc.migration;
      add({ kind: 'migration', name: `migration vcpu${x}`, entry: x, vcpu: x }, (rng) =>
        arrivalsOf({ rate: r, arrivals: 'poisson' }, rng, clockGHz),
      );
    }
    if (oc?.userspaceExits !== undefined) {
      const r = oc.userspaceExits;
      // Drawn as run times: the guest exits to userspace after an exponential time in guest mode.
      add({
        kind: 'userspace-exit',
        name: `userspace exits vcpu${x}`,
        entry: x,
        vcpu: x,
        meanA: (1e9 / r) * clockGHz,
      });
    }
  }
  if (w.pit) {
    const p = w.pit;
    const which = p.vcpu === 'all' ? Array.from({ length: vcpus }, (_, x) => x) : [p.vcpu];
    for (const x of which)
      add({ kind: 'pit', name: which.length > 1 ? `pit vcpu${x}` : 'pit', entry: 0, vcpu: x }, (rng) =>
        arrivalsOf({ rate: p.rate, arrivals: 'periodic' }, rng, clockGHz),
      );
    add({
      kind: 'pit-window',
      name: 'pit IF=0 window',
      entry: 0,
      vcpu: -1,
      meanA: nsToCycles(p.window, clockGHz),
    });
  }
  return out;
}
