/**
 * Trace events by name. A step reports an event to its sink as a kind and four numbers, so that
 * the checker's hot path allocates nothing (src/model/platform/events.ts says what each number is);
 * a trace entry keeps them so (`{ kind, a, b, c, d }`, the JSON that docs/cli.md documents). This
 * is the one place that reads those positions: every renderer (the text's reaction line, the SVG,
 * run's expectations) decodes an event here and reads it by name.
 */
/** One event a step emitted, by name, with its operands as the step gave them (the trace JSON). */
export interface TraceEvent {
  kind: string;
  a: number;
  b: number;
  c: number;
  d: number;
}

export type Event =
  /** VT-d posted `vector` into vCPU `vcpu`'s descriptor, and sent a notification if `notified`. */
  | { kind: 'vtd_post'; vcpu: number; vector: number; notified: boolean }
  /** IPIv: `sender`'s CPU posted `vector` to `vcpu`. */
  | { kind: 'ipiv_post'; vcpu: number; vector: number; notified: boolean; sender: number }
  /** A LAPIC accepted `vector`; `forVcpu` is the vCPU a notification is meant for, or null. */
  | { kind: 'phys_irq'; pcpu: number; vector: number; forVcpu: number | null }
  /** A physical interrupt to an APIC ID no pCPU has. */
  | { kind: 'phys_irq_dropped'; apicId: number; vector: number }
  /** Posted-interrupt processing on `pcpu` against `vcpu`'s descriptor; `highest` moved, or null (PIR empty). */
  | { kind: 'pi_process'; pcpu: number; vcpu: number; highest: number | null }
  /** A notification meant for the vCPUs `meantFor` (the bitmask `mask`) was processed against `vcpu`'s descriptor. */
  | { kind: 'pi_wrong_vcpu'; pcpu: number; vcpu: number; meantFor: number[]; mask: number }
  /**
   * `vector`'s guest handler runs on `vcpu` (`avic`: from an AVIC backing page; `nmi`: an NMI
   * injection, whose handler is vector 2).
   */
  | { kind: 'deliver'; vcpu: number; vector: number; avic: boolean; nmi: boolean; injected: boolean }
  /** A guest's virtual EOI (`vcpu`), or a host EOI (`pcpu`). */
  | { kind: 'eoi'; vcpu: number | null; pcpu: number | null; vector: number }
  /** A VM exit of `vcpu` from `pcpu` (null: it was not in guest mode). */
  | { kind: 'vmexit'; vcpu: number; pcpu: number | null; reason: number; qualification: number }
  | { kind: 'vmentry'; vcpu: number; pcpu: number }
  | { kind: 'host_irq'; pcpu: number; vector: number }
  | { kind: 'spurious'; pcpu: number; vector: number }
  | { kind: 'self_ipi'; vcpu: number; vector: number }
  | { kind: 'illegal_vector'; vcpu: number; vector: number }
  /** kvm_vcpu_wake_up on `vcpu`; `woken`: a thread blocked in kvm_vcpu_block was woken. */
  | { kind: 'wake_up'; vcpu: number; woken: boolean }
  /**
   * An AVIC doorbell rung for `forVcpu` reached `pcpu` (null: no pCPU has that APIC ID), where
   * `running` runs in guest mode (null: none) and recognized `recognized` (null: nothing).
   */
  | {
      kind: 'avic_doorbell';
      pcpu: number | null;
      running: number | null;
      recognized: number | null;
      forVcpu: number;
    }
  /** The AMD IOMMU posted `vector` to `vcpu` through GA-mode IRTE `irte`, with `outcome` (hw/avic.ts GA_POST). */
  | { kind: 'ga_post'; vcpu: number; vector: number; outcome: number; irte: number }
  /** The GA-log handler consumed an entry: woke `vcpu` (null: the GATag names none). */
  | { kind: 'ga_log'; vcpu: number | null; gaTag: number; deviceId: number; wasHalted: boolean }
  /** An event of a kind this decoder does not know (a newer model), with its numbers. */
  | { kind: 'other'; name: string; a: number; b: number; c: number; d: number };

const orNull = (x: number) => (x < 0 ? null : x);

/** The vCPU indices set in a bitmask. */
function vcpusIn(mask: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < 32; x++) if ((mask >>> x) & 1) out.push(x);
  return out;
}

/** A recorded event, by name. */
export function decodeEvent(e: TraceEvent): Event {
  const { a, b, c, d } = e;
  switch (e.kind) {
    case 'vtd_post':
      return { kind: e.kind, vcpu: a, vector: b, notified: c !== 0 };
    case 'ipiv_post':
      return { kind: e.kind, vcpu: a, vector: b, notified: c !== 0, sender: d };
    case 'phys_irq':
      return { kind: e.kind, pcpu: a, vector: b, forVcpu: c > 0 ? c - 1 : null };
    case 'phys_irq_dropped':
      return { kind: e.kind, apicId: a, vector: b };
    case 'pi_process':
      return { kind: e.kind, pcpu: a, vcpu: b, highest: orNull(c) };
    case 'pi_wrong_vcpu':
      return { kind: e.kind, pcpu: a, vcpu: b, meantFor: vcpusIn(c), mask: c };
    case 'deliver':
      return { kind: e.kind, vcpu: a, vector: b, avic: c === 1, nmi: c === 2, injected: c === 3 };
    case 'eoi':
      return a >= 0
        ? { kind: e.kind, vcpu: a, pcpu: null, vector: b }
        : { kind: e.kind, vcpu: null, pcpu: -1 - a, vector: b };
    case 'vmexit':
      return { kind: e.kind, vcpu: a, pcpu: orNull(b), reason: c, qualification: d };
    case 'vmentry':
      return { kind: e.kind, vcpu: a, pcpu: b };
    case 'host_irq':
    case 'spurious':
      return { kind: e.kind, pcpu: a, vector: b };
    case 'self_ipi':
    case 'illegal_vector':
      return { kind: e.kind, vcpu: a, vector: b };
    case 'wake_up':
      return { kind: e.kind, vcpu: a, woken: b === 1 };
    case 'avic_doorbell':
      return { kind: e.kind, pcpu: orNull(a), running: orNull(b), recognized: orNull(c), forVcpu: d };
    case 'ga_post':
      return { kind: e.kind, vcpu: a, vector: b, outcome: c, irte: d };
    case 'ga_log':
      return { kind: e.kind, vcpu: orNull(a), gaTag: b, deviceId: c, wasHalted: d === 1 };
    default:
      return { kind: 'other', name: e.kind, a, b, c, d };
  }
}
