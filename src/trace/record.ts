/**
 * The trace of one schedule, as every driver records it: one entry per action, with who acted (the
 * actor, its vCPU, the kernel function and label of the step), the events the step emitted, the
 * fields it read with the values it saw, and the fields it changed. Recording runs each step once
 * through a recording view of the state (reads.ts), so a read step shows what it read: seed-004's
 * `pi_test_on` says it saw ON=0. Never on the checker's or simulator's hot path.
 */
import { GA_POST } from '../model/hw/avic.ts';
import { hex } from '../model/hw/bits.ts';
import { ACTOR } from '../model/kvm/program.ts';
import { AVIC_IPI_FAILURE_NAMES } from '../model/platform/avic-steps.ts';
import {
  EVENT_NAMES,
  type EventKind,
  EXIT_REASON,
  EXIT_REASON_NAMES,
  type Sink,
} from '../model/platform/events.ts';
import { type Change, describeStore, diffWorlds, formatValue, readField } from '../model/platform/fields.ts';
import type { Layout } from '../model/platform/layout.ts';
import type { SystemModel } from '../model/system/system.ts';
import { decodeEvent, type Event, type TraceEvent } from './events.ts';
import { recordingView, UnrecordedAccess } from './reads.ts';

/** A field a step read, with the value it had when the step read it. */
export interface FieldRead {
  field: string;
  value: string;
}

export interface TraceEntry {
  n: number;
  /** Who acted: an actor's name ("vcpu0", "device", "script"), or a CPU for hardware ("pcpu1"). */
  actor: string;
  /** The vCPU the step acts as or on (an actor's own vCPU, a guest interrupt's vCPU), or null. */
  vcpu: number | null;
  /** The kernel function, or the hardware unit ("lapic", "guest", "VT-d"). */
  fn: string;
  /** The step inside it ("pi_test_on"), or what the hardware did. */
  label: string;
  /** What happened, in words: "fn: label" for a program step, the events for a hardware reaction. */
  action: string;
  /** The hardware's own action (a CPU taking an interrupt, a guest handler, a drain), not a program step. */
  hardware: boolean;
  /** The index of the scenario step this entry belongs to (script or actor step), or null. */
  step: number | null;
  note?: string;
  events: TraceEvent[];
  reads: FieldRead[];
  changes: Change[];
}

/** A sink that keeps every event as a record (not a hot path). */
export class RecordingSink implements Sink {
  events: TraceEvent[] = [];
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.events.push({ kind: EVENT_NAMES[kind], a, b, c, d });
  }
}

/** Per word of a layout, the scalar fields stored in it (for reads); built once per model. */
const fieldsByWord = new WeakMap<
  Layout,
  Map<number, { prefix: string; base: number; f: Layout['blocks'][number]['fields'][number] }[]>
>();

function wordFields(L: Layout) {
  let m = fieldsByWord.get(L);
  if (m !== undefined) return m;
  m = new Map();
  for (const b of L.blocks)
    for (const f of b.fields) {
      const n = f.kind === 'reg256' ? 8 : 1;
      for (let i = 0; i < n; i++) {
        const o = b.base + f.offset + i;
        const list = m.get(o) ?? [];
        if (!list.some((e) => e.f === f && e.base === b.base))
          list.push({ prefix: b.prefix, base: b.base, f });
        m.set(o, list);
      }
    }
  fieldsByWord.set(L, m);
  return m;
}

/** The named fields held in the words `reads`, with their values in `before`, in layout order. */
export function readFields(L: Layout, before: Uint32Array, reads: Iterable<number>): FieldRead[] {
  const byWord = wordFields(L);
  const seen = new Set<string>();
  const out: FieldRead[] = [];
  for (const o of [...reads].sort((x, y) => x - y)) {
    for (const { prefix, base, f } of byWord.get(o) ?? []) {
      const field = `${prefix}.${f.name}`;
      if (seen.has(field)) continue;
      seen.add(field);
      out.push({ field, value: formatValue(f, readField(before, base, f)) });
    }
  }
  return out;
}

/**
 * Applies `action` to `s` in place and returns its trace entry (numbered `n`) and the violation
 * code of the step monitors. The step runs on a recording view of a copy of the state; a step
 * that uses an access the view does not record runs again on the state itself, without reads.
 */
export function recordStep(
  model: SystemModel,
  s: Uint32Array,
  action: number,
  n: number,
  step: number | null = null,
  note?: string,
): { entry: TraceEntry; violation: number } {
  const d = model.describe(s, action);
  const before = s.slice();
  let rec = new RecordingSink();
  let violation: number;
  let reads: FieldRead[] = [];
  try {
    const scratch = s.slice();
    const { view, rec: r } = recordingView(scratch);
    violation = model.step(view, action, rec);
    s.set(scratch);
    reads = readFields(model.w.L, before, r.reads);
  } catch (e) {
    if (!(e instanceof UnrecordedAccess)) throw e;
    s.set(before);
    rec = new RecordingSink();
    violation = model.step(s, action, rec);
  }
  model.w.m = s;
  const isProgram = action < model.actors.length;
  const reaction = describeReaction(
    isProgram ? rec.events.filter((e) => STEP_DETAIL.has(e.kind)) : rec.events,
  );
  // A script step is named by what it does ("guest writes EOI"); a KVM step by function and label.
  const what = d.fn === 'script' ? d.label : `${d.fn}: ${d.label}`;
  const entry: TraceEntry = {
    n,
    actor: d.actor,
    vcpu: d.vcpu >= 0 ? d.vcpu : null,
    fn: d.fn,
    label: d.label,
    hardware: !isProgram,
    action: isProgram
      ? reaction && !what.startsWith('VM exit')
        ? `${what}; ${reaction}`
        : what
      : reaction || what,
    step: isProgram ? step : null,
    events: rec.events,
    reads,
    changes: [...diffWorlds(model.w.L, before, s), ...bufferedStores(model, action, before, s)],
  };
  if (note !== undefined) entry.note = note;
  return { entry, violation };
}

/**
 * The stores an actor's step put in its store buffer (x86-TSO): not yet visible, so diffWorlds
 * does not see them; listed as "(buffered)" changes, which the drain step later shows as real ones.
 */
function bufferedStores(
  model: SystemModel,
  action: number,
  before: Uint32Array,
  after: Uint32Array,
): Change[] {
  if (!model.tso || action >= model.actors.length) return [];
  const sb = model.actorBase[action] + ACTOR.SB;
  const out: Change[] = [];
  for (let i = before[sb]; i < after[sb]; i++) {
    const c = describeStore(model.w.L, after, after[sb + 1 + 2 * i] - 1, after[sb + 2 + 2 * i]);
    if (c !== undefined) out.push({ ...c, to: `${c.to} (buffered)` });
  }
  return out;
}

/**
 * Events whose description is added to the line of the program step that produced them: a VM exit
 * (with its reason as recorded), an AVIC doorbell, what a GA-mode posting did, a GA-log wake-up.
 */
const STEP_DETAIL = new Set(['vmexit', 'ga_post', 'avic_doorbell', 'ga_log']);

const GA_POST_TEXT: Record<number, string> = {
  [GA_POST.NOT_GA]: 'the IRTE is not in GA mode: nothing posted',
  [GA_POST.DOORBELL]: 'IsRun=1',
  [GA_POST.LOGGED]: 'IsRun=0, GALogIntr=1: GA log entry, GA-log interrupt raised',
  [GA_POST.SILENT]: 'IsRun=0, GALogIntr=0: IRR set silently',
  [GA_POST.LOG_DROPPED]: 'IsRun=0, GALogIntr=1, but the GA log is full or stopped: entry dropped',
};

function describeDoorbell(e: Extract<Event, { kind: 'avic_doorbell' }>): string {
  if (e.pcpu === null) return `doorbell for vcpu${e.forVcpu}: no pCPU has that APIC ID`;
  if (e.running === null)
    return `doorbell to pcpu${e.pcpu}: pcpu${e.pcpu} is not in guest mode, nothing happens`;
  const what = e.recognized !== null ? `recognizes ${hex(e.recognized)}` : 'nothing deliverable';
  const other = e.running === e.forVcpu ? '' : ` (rung for vcpu${e.forVcpu})`;
  return `doorbell to pcpu${e.pcpu}: vcpu${e.running} re-evaluates its backing page, ${what}${other}`;
}

/** The name of a VM exit's basic reason as the SDM and the APM write it. */
export function exitReasonName(reason: number): string {
  return EXIT_REASON_NAMES[reason] ?? String(reason);
}

/** Describes what a step's events did, in words ("VM exit HLT (0x0); host handler for 0xf2 runs"). */
export function describeReaction(events: readonly TraceEvent[]): string {
  return events
    .map((e) => describeEvent(decodeEvent(e)))
    .filter((t) => t !== undefined)
    .join('; ');
}

/** One event in words, for the events a step's line describes; undefined for the others. */
export function describeEvent(e: Event): string | undefined {
  switch (e.kind) {
    case 'pi_process':
      return `posted-interrupt processing on vcpu${e.vcpu}'s PID${e.highest !== null ? ` (highest ${hex(e.highest)})` : ' (PIR empty)'}`;
    case 'pi_wrong_vcpu':
      return `notification meant for vCPU mask 0x${e.mask.toString(16)} processed against vcpu${e.vcpu}`;
    case 'deliver':
      return e.avic
        ? `AVIC delivery from the backing page: guest handler ${hex(e.vector)} runs`
        : e.nmi
          ? `NMI injection: guest NMI handler (${hex(e.vector)}) runs`
          : e.injected
            ? `KVM's event injection at VM entry: guest handler ${hex(e.vector)} runs`
            : `virtual-interrupt delivery: guest handler ${hex(e.vector)} runs`;
    case 'eoi':
      return e.vcpu !== null ? `guest handler writes EOI (${hex(e.vector)})` : `EOI ${hex(e.vector)}`;
    case 'vmexit':
      return e.reason === EXIT_REASON.AVIC_INCOMPLETE_IPI
        ? `VM exit AVIC_INCOMPLETE_IPI (${AVIC_IPI_FAILURE_NAMES[e.qualification] ?? e.qualification})`
        : `VM exit ${exitReasonName(e.reason)} (${hex(e.qualification)})`;
    case 'avic_doorbell':
      return describeDoorbell(e);
    case 'ga_post':
      return GA_POST_TEXT[e.outcome] ?? `GA posting outcome ${e.outcome}`;
    case 'ga_log':
      return e.vcpu !== null
        ? `GA log: wake vcpu${e.vcpu}${e.wasHalted ? '' : ' (it was not halted)'}`
        : `GA log: GATag 0x${e.gaTag.toString(16)} names no vCPU`;
    case 'host_irq':
      return `host handler for ${hex(e.vector)} runs`;
    case 'spurious':
      return `spurious interrupt ${hex(e.vector)}`;
    default:
      return undefined;
  }
}
