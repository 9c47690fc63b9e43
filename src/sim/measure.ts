/**
 * What a simulation measures from the model's trace events (src/model/platform/events.ts), named as
 * `perf kvm stat` and the kernel's counters name them (docs/sim.md, "Measurements"):
 * - VM exits by basic exit reason (EXIT_REASON_NAMES: EXTERNAL_INTERRUPT, HLT, MSR_WRITE, ...);
 * - notification IPIs sent: physical interrupts with a posted-interrupt notification vector
 *   (POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR, POSTED_MSI_NOTIFICATION_VECTOR);
 * - notifications taken by the host, by vector, as /proc/interrupts counts them (arch/x86/kernel/
 *   irq.c: kvm_posted_intr_ipis for PIN, kvm_posted_intr_wakeup_ipis for PIW), and posted-interrupt
 *   processing against the wrong vCPU (PI_WRONG_VCPU): seed 001's two kinds of spurious
 *   notification;
 * - delivery latency, from the first posting of a vector to its guest handler (later postings of a
 *   pending vector coalesce into the same PIR or IRR bit), in a LogHistogram;
 * - vectors stranded: posted and not delivered for longer than a bound.
 * The sink allocates nothing per event. Events before `measuring` is set (the warm-up) update the
 * posting times but are not counted.
 */

import { POSTED_MSI_NOTIFICATION_VECTOR } from '../model/kvm/posted-msi.ts';
import { EV, type EventKind, EXIT_REASON_NAMES, type Sink } from '../model/platform/events.ts';
import { POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR } from '../model/platform/machine.ts';
import { LogHistogram, Welford } from './stats.ts';

/** Exit reasons are below 0x500 (VMX basic reasons < 100, SVM AVIC codes 0x401, 0x402). */
const REASONS = 0x500;

export class Measurements implements Sink {
  /** Simulated time of the step being executed, in cycles (the driver sets it). */
  now = 0;
  /** False during the warm-up. */
  measuring = false;
  readonly exits = new Float64Array(REASONS);
  /** Notification IPIs sent, by vector (index 0..255). */
  readonly notificationsSent = new Float64Array(256);
  /** Host interrupt handlers run, by vector: [0xf2] is kvm_posted_intr_ipis, [0xf1] the wake-ups. */
  readonly hostIrqs = new Float64Array(256);
  wrongVcpuProcessing = 0;
  postedInterruptProcessing = 0;
  spuriousIrqs = 0;
  deliveries = 0;
  readonly latency = new LogHistogram();
  /** Per (vCPU, vector): the time of the first posting not yet delivered, NaN when none. */
  private readonly postedAt: Float64Array;
  readonly vcpus: number;

  constructor(vcpus: number) {
    this.vcpus = vcpus;
    this.postedAt = new Float64Array(vcpus * 256).fill(Number.NaN);
  }

  /**
   * A vector posted to a vCPU at `now`: by a software sender (which emits no event of its own) or
   * by the IOMMU or IPIv (called from their events). The first posting of a pending vector counts.
   */
  posted(vcpu: number, vector: number): void {
    const i = vcpu * 256 + vector;
    if (Number.isNaN(this.postedAt[i])) this.postedAt[i] = this.now;
  }

  ev(kind: EventKind, a: number, b: number, c: number, _d: number): void {
    switch (kind) {
      case EV.VTD_POST:
      case EV.IPIV_POST:
      case EV.GA_POST:
        // VT-d posting to a host posted-MSI descriptor names a pCPU as -1 - p: not a vCPU's vector.
        if (a >= 0) this.posted(a, b);
        return;
      case EV.DELIVER: {
        const i = a * 256 + b;
        const t = this.postedAt[i];
        this.postedAt[i] = Number.NaN;
        if (!this.measuring) return;
        this.deliveries++;
        if (!Number.isNaN(t)) this.latency.record(this.now - t);
        return;
      }
    }
    if (!this.measuring) return;
    switch (kind) {
      case EV.VMEXIT:
        if (c >= 0 && c < REASONS) this.exits[c]++;
        return;
      case EV.PHYS_IRQ:
        if (
          b === POSTED_INTR_VECTOR ||
          b === POSTED_INTR_WAKEUP_VECTOR ||
          b === POSTED_MSI_NOTIFICATION_VECTOR
        )
          this.notificationsSent[b]++;
        return;
      case EV.HOST_IRQ:
        this.hostIrqs[b & 0xff]++;
        return;
      case EV.SPURIOUS:
        this.spuriousIrqs++;
        return;
      case EV.PI_WRONG_VCPU:
        this.wrongVcpuProcessing++;
        return;
      case EV.PI_PROCESS:
        this.postedInterruptProcessing++;
        return;
    }
  }

  /** When the pending posting of vector on vcpu was first made (NaN: none pending). */
  postedTime(vcpu: number, vector: number): number {
    return this.postedAt[vcpu * 256 + vector];
  }

  /** How many posted vectors have waited longer than `bound` cycles at `now` without delivery. */
  stranded(bound: number): number {
    let n = 0;
    for (let i = 0; i < this.postedAt.length; i++) {
      const t = this.postedAt[i];
      if (!Number.isNaN(t) && this.now - t > bound) n++;
    }
    return n;
  }

  /** VM exits by reason name, for output (reasons with no exit left out). */
  exitsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let r = 0; r < REASONS; r++)
      if (this.exits[r] > 0) out[EXIT_REASON_NAMES[r] ?? `reason ${r}`] = this.exits[r];
    return out;
  }

  /** The notifications the host took, as /proc/interrupts names them (PIN, PIW, posted MSI). */
  hostNotifications(): {
    kvm_posted_intr_ipis: number;
    kvm_posted_intr_wakeup_ipis: number;
    posted_msi: number;
  } {
    return {
      kvm_posted_intr_ipis: this.hostIrqs[POSTED_INTR_VECTOR],
      kvm_posted_intr_wakeup_ipis: this.hostIrqs[POSTED_INTR_WAKEUP_VECTOR],
      posted_msi: this.hostIrqs[POSTED_MSI_NOTIFICATION_VECTOR],
    };
  }
}

/**
 * Counts executions per step key (the keys a CompiledCosts was built from) and sums them by a
 * `*` pattern: `*\/down_write` gives apicv_update_lock write acquisitions, `pi_harvest_pir/arch_xchg(*)`
 * the xchgs of harvests.
 */
export class StepCounts {
  readonly keys: readonly string[];
  readonly counts: Float64Array;
  constructor(keys: readonly string[]) {
    this.keys = keys;
    this.counts = new Float64Array(keys.length);
  }
  add(i: number): void {
    this.counts[i]++;
  }
  sum(pattern: string): number {
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    let s = 0;
    this.keys.forEach((k, i) => {
      if (re.test(k)) s += this.counts[i];
    });
    return s;
  }
}

/** Where a pCPU's time goes (the host, guest and exit-handling shares), in cycles. */
export const CPU_TIME = { guest: 0, exitHandling: 1, host: 2, idle: 3 } as const;
export type CpuTimeKind = keyof typeof CPU_TIME;
const CPU_TIME_KINDS = Object.keys(CPU_TIME) as CpuTimeKind[];

export class CpuShares {
  /** cycles[p * 4 + kind]. */
  readonly cycles: Float64Array;
  readonly pcpus: number;
  constructor(pcpus: number) {
    this.pcpus = pcpus;
    this.cycles = new Float64Array(pcpus * CPU_TIME_KINDS.length);
  }
  add(pcpu: number, kind: number, cycles: number): void {
    this.cycles[pcpu * CPU_TIME_KINDS.length + kind] += cycles;
  }
  /** Each kind's share of pCPU p's accounted time (0..1; NaN when none was accounted). */
  shares(p: number): Record<CpuTimeKind, number> {
    const base = p * CPU_TIME_KINDS.length;
    let total = 0;
    for (let k = 0; k < CPU_TIME_KINDS.length; k++) total += this.cycles[base + k];
    const out = {} as Record<CpuTimeKind, number>;
    CPU_TIME_KINDS.forEach((k, i) => {
      out[k] = total === 0 ? Number.NaN : this.cycles[base + i] / total;
    });
    return out;
  }
}

/**
 * Acquisitions, hold and wait times of one lock (apicv_update_lock's read and write sides): the
 * driver reports when an actor starts waiting, acquires and releases. Hold and wait times go to
 * Welford accumulators; nothing is allocated per call.
 */
export class LockTimes {
  acquisitions = 0;
  readonly hold = new Welford();
  readonly wait = new Welford();
  private readonly waitingSince: Float64Array;
  private readonly heldSince: Float64Array;
  constructor(actors: number) {
    this.waitingSince = new Float64Array(actors).fill(Number.NaN);
    this.heldSince = new Float64Array(actors).fill(Number.NaN);
  }
  /** Actor a found the lock taken at time t (a second call while waiting keeps the first time). */
  blocked(a: number, t: number): void {
    if (Number.isNaN(this.waitingSince[a])) this.waitingSince[a] = t;
  }
  acquired(a: number, t: number): void {
    this.acquisitions++;
    const w = this.waitingSince[a];
    this.wait.add(Number.isNaN(w) ? 0 : t - w);
    this.waitingSince[a] = Number.NaN;
    this.heldSince[a] = t;
  }
  released(a: number, t: number): void {
    const h = this.heldSince[a];
    // Taken during the warm-up, before anything was measured: its hold is not counted.
    if (Number.isNaN(h)) return;
    this.hold.add(t - h);
    this.heldSince[a] = Number.NaN;
  }
}
