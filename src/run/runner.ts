/**
 * The step-by-step runner: executes a scenario's steps in order on one World and, after each step,
 * lets the hardware react until nothing more happens on its own (a pCPU taking a pending physical
 * interrupt, a recognized virtual interrupt being delivered, a guest handler's EOI). Every step and
 * every reaction becomes one trace entry with the events it produced and the fields it changed.
 */
import { UserError } from '../errors.ts';
import { GA_POST } from '../model/hw/avic.ts';
import { hex } from '../model/hw/bits.ts';
import {
  ndstForApicId,
  PID,
  piClearSn,
  piControlLo,
  piNv,
  piSetOn,
  piSetSn,
  piTestOn,
  piTestSn,
} from '../model/hw/pid.ts';
import {
  AVIC_IPI_FAILURE_NAMES,
  avicAutoEoiEnabled,
  avicDeliverEnabled,
  avicDeliverStep,
  avicDevicePost,
  avicGuestEoi,
  avicGuestIcr,
  avicGuestSelfIpi,
  avicGuestTpr,
  avicLoad,
  avicPut,
  avicSoftwareDeliver,
  gaLogInterrupt,
  gaLogInterruptPending,
} from '../model/system/avic-steps.ts';
import {
  EVENT_NAMES,
  type EventKind,
  EXIT_REASON,
  EXIT_REASON_NAMES,
  type Sink,
} from '../model/system/events.ts';
import {
  type Change,
  diffWorlds,
  type FieldValue,
  findField,
  formatValue,
  readField,
} from '../model/system/fields.ts';
import {
  guestEoi,
  guestHlt,
  guestSelfIpi,
  guestSetIf,
  guestWriteIcr,
  guestWriteTpr,
  hostEoi,
  hostSetIf,
  type IcrWrite,
  pcpuDispatch,
  pcpuDispatchEnabled,
  sendPhysicalInterrupt,
  vcpuAutoEoiEnabled,
  vcpuDeliver,
  vcpuDeliverEnabled,
  vmEntry,
  vmExit,
  vtdPostTo,
} from '../model/system/hardware.ts';
import { ioapicLineStep, ioapicMaskStep } from '../model/system/ioapic-steps.ts';
import { PCPU, VCPU } from '../model/system/layout.ts';
import { initWorld, pcpuApicId, runningVcpu, vcpuRunningOn, type World } from '../model/system/world.ts';
import { expectedFieldValue, machineOf } from '../scenarios/loader.ts';
import type { Scenario, Step } from '../scenarios/schema.ts';

export interface TraceEvent {
  kind: string;
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface TraceEntry {
  n: number;
  /** Who acted: "vcpu0", "iommu", "pcpu1", "host". */
  actor: string;
  /** What it did, in words. */
  action: string;
  /** The scenario step index, or null for a hardware reaction. */
  step: number | null;
  note?: string;
  events: TraceEvent[];
  changes: Change[];
}

export interface ExpectationResult {
  what: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface RunResult {
  scenario: string;
  entries: TraceEntry[];
  expectations: ExpectationResult[];
  ok: boolean;
  world: World;
}

/** A sink that keeps every event as a record (runner and counterexample replay; not a hot path). */
export class RecordingSink implements Sink {
  events: TraceEvent[] = [];
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.events.push({ kind: EVENT_NAMES[kind], a, b, c, d });
  }
}

const DELIVERY_MODE = { fixed: 0, lowest: 1, smi: 2, nmi: 4, init: 5, sipi: 6 } as const;
const SHORTHAND = { none: 0, self: 1, all: 2, others: 3 } as const;

/**
 * Applies one scenario step to the World; returns the actor and a description. A step that the
 * state at that point makes impossible (a VM exit of a vCPU that is not in guest mode, a VM entry
 * on a pCPU that already runs a vCPU) is a UserError naming the step: `where` is "<file>: steps[i]".
 */
function applyStep(w: World, sink: Sink, st: Step, where: string): { actor: string; action: string } {
  const avic = w.L.avic !== undefined;
  switch (st.do) {
    case 'device.post': {
      if (avic) {
        // The loader lets only the IRTE form through on an AVIC machine.
        const e = w.machine.irtes[st.irte!];
        avicDevicePost(w, sink, st.irte!);
        return { actor: 'iommu', action: `post ${hex(e.vector)} to vcpu${e.vcpu} via GA IRTE ${st.irte}` };
      }
      const e =
        st.irte !== undefined
          ? w.machine.irtes[st.irte]
          : { vcpu: st.vcpu!, vector: st.vector!, urg: st.urg ?? false };
      vtdPostTo(w, sink, e.vcpu, e.vector, e.urg);
      const via = st.irte !== undefined ? ` via IRTE ${st.irte}` : '';
      return {
        actor: 'iommu',
        action: `post ${hex(e.vector)} to vcpu${e.vcpu}${via}${e.urg ? ' (URG)' : ''}`,
      };
    }
    case 'guest.tpr':
      if (avic) avicGuestTpr(w, sink, st.vcpu, st.value);
      else guestWriteTpr(w, sink, st.vcpu, st.value);
      return { actor: `vcpu${st.vcpu}`, action: `guest writes TPR ${hex(st.value)}` };
    case 'guest.eoi':
      if (avic) avicGuestEoi(w, sink, st.vcpu);
      else guestEoi(w, sink, st.vcpu);
      return { actor: `vcpu${st.vcpu}`, action: 'guest writes EOI' };
    case 'guest.selfIpi':
      if (avic) avicGuestSelfIpi(w, sink, st.vcpu, st.vector);
      else guestSelfIpi(w, sink, st.vcpu, st.vector);
      return { actor: `vcpu${st.vcpu}`, action: `guest writes SELF_IPI ${hex(st.vector)}` };
    case 'guest.icr': {
      const icr: IcrWrite = {
        vector: st.vector ?? 0,
        deliveryMode: DELIVERY_MODE[st.deliveryMode],
        logical: st.destMode === 'logical',
        levelTriggered: st.trigger === 'level',
        shorthand: SHORTHAND[st.shorthand],
        dest: st.dest ?? 0,
      };
      if (avic) avicGuestIcr(w, sink, st.vcpu, icr);
      else guestWriteIcr(w, sink, st.vcpu, icr);
      const to = st.shorthand === 'none' ? `dest ${st.dest}` : `shorthand ${st.shorthand}`;
      return {
        actor: `vcpu${st.vcpu}`,
        action: `guest writes ICR: ${st.deliveryMode} ${hex(st.vector ?? 0)} ${to}`,
      };
    }
    case 'guest.sti':
    case 'guest.cli':
      guestSetIf(w, st.vcpu, st.do === 'guest.sti');
      return { actor: `vcpu${st.vcpu}`, action: st.do === 'guest.sti' ? 'guest STI' : 'guest CLI' };
    case 'guest.hlt':
      guestHlt(w, st.vcpu);
      return { actor: `vcpu${st.vcpu}`, action: 'guest HLT' };
    case 'vm.entry': {
      const x = st.vcpu;
      const p = st.pcpu;
      const on = vcpuRunningOn(w, x);
      if (on >= 0) throw new UserError(`${where}: vcpu${x} already runs in guest mode on pcpu${on}`);
      const other = runningVcpu(w, p);
      if (other >= 0) throw new UserError(`${where}: pcpu${p} already runs vcpu${other} in guest mode`);
      // A VMCS is current on one pCPU at a time: before loading it on another pCPU, KVM VMCLEARs it
      // on the old one (vmx_vcpu_load_vmcs, loaded_vmcs_clear).
      const was = w.m[w.L.vcpu[x] + VCPU.PCPU] - 1;
      if (was >= 0 && was !== p && w.m[w.L.pcpu[was] + PCPU.VMCS] === x + 1)
        w.m[w.L.pcpu[was] + PCPU.VMCS] = 0;
      vmEntry(w, sink, x, p);
      return { actor: `vcpu${x}`, action: `VM entry on pcpu${p}` };
    }
    case 'vm.exit':
      if (vcpuRunningOn(w, st.vcpu) < 0)
        throw new UserError(`${where}: vcpu${st.vcpu} is not running in guest mode`);
      vmExit(w, sink, st.vcpu, EXIT_REASON[st.reason], 0);
      return { actor: `vcpu${st.vcpu}`, action: `VM exit ${st.reason}` };
    case 'pid.set': {
      const pid = w.L.pid[st.vcpu];
      if (st.on === true) piSetOn(w.m, pid);
      if (st.on === false) w.m[pid + PID.CONTROL] &= ~1;
      if (st.sn === true) piSetSn(w.m, pid);
      if (st.sn === false) piClearSn(w.m, pid);
      if (st.nv !== undefined)
        w.m[pid + PID.CONTROL] = piControlLo(piTestOn(w.m, pid), piTestSn(w.m, pid), st.nv);
      if (st.ndst !== undefined) w.m[pid + PID.NDST] = ndstForApicId(pcpuApicId(st.ndst), w.machine.x2apic);
      const parts = [
        st.on !== undefined ? `ON=${st.on ? 1 : 0}` : '',
        st.sn !== undefined ? `SN=${st.sn ? 1 : 0}` : '',
        st.nv !== undefined ? `NV=${hex(piNv(w.m, pid))}` : '',
        st.ndst !== undefined ? `NDST=pcpu${st.ndst}` : '',
      ].filter(Boolean);
      return { actor: 'host', action: `software sets vcpu${st.vcpu} PID ${parts.join(' ')}` };
    }
    case 'cpu.interrupt':
      sendPhysicalInterrupt(w, sink, pcpuApicId(st.pcpu), st.vector, -1);
      return { actor: `pcpu${st.pcpu}`, action: `physical interrupt ${hex(st.vector)} arrives` };
    case 'ioapic.line':
      ioapicLineStep(w, sink, st.pin, st.level);
      return { actor: 'ioapic', action: `line ${st.pin} ${st.level ? 'asserted' : 'deasserted'}` };
    case 'ioapic.mask':
      ioapicMaskStep(w, sink, st.pin, st.masked);
      return { actor: 'host', action: `${st.masked ? 'masks' : 'unmasks'} I/O APIC pin ${st.pin}` };
    case 'host.sti':
    case 'host.cli':
      hostSetIf(w, st.pcpu, st.do === 'host.sti');
      return {
        actor: `pcpu${st.pcpu}`,
        action: st.do === 'host.sti' ? 'host enables IRQs' : 'host disables IRQs',
      };
    case 'host.eoi':
      hostEoi(w, sink, st.pcpu);
      return { actor: `pcpu${st.pcpu}`, action: 'host writes EOI' };
    case 'avic.load': {
      // KVM loads a vCPU on sched-in, in root mode: neither the vCPU nor the pCPU runs a guest.
      const on = vcpuRunningOn(w, st.vcpu);
      if (on >= 0)
        throw new UserError(
          `${where}: vcpu${st.vcpu} runs in guest mode on pcpu${on}: avic.load needs it in root mode`,
        );
      const other = runningVcpu(w, st.pcpu);
      if (other >= 0) throw new UserError(`${where}: pcpu${st.pcpu} already runs vcpu${other} in guest mode`);
      avicLoad(w, sink, st.vcpu, st.pcpu);
      return { actor: 'host', action: `avic_vcpu_load: vcpu${st.vcpu} on pcpu${st.pcpu}` };
    }
    case 'avic.put': {
      const on = vcpuRunningOn(w, st.vcpu);
      if (on >= 0)
        throw new UserError(
          `${where}: vcpu${st.vcpu} runs in guest mode on pcpu${on}: avic.put needs it in root mode`,
        );
      avicPut(w, sink, st.vcpu, st.blocking);
      return {
        actor: 'host',
        action: `avic_vcpu_put: vcpu${st.vcpu}${st.blocking ? ' blocks (GA log on)' : ' is put (preempted)'}`,
      };
    }
    case 'avic.deliver': {
      const rang = avicSoftwareDeliver(w, sink, st.vcpu, st.vector, st.trigger === 'level');
      const to = `KVM delivers ${hex(st.vector)} (${st.trigger}) to vcpu${st.vcpu}`;
      return {
        actor: 'host',
        action: rang ? to : `${to}; vcpu${st.vcpu} is not in guest mode: kvm_vcpu_wake_up`,
      };
    }
  }
}

/** Event kinds whose description is added to the line of the step that produced them. */
const STEP_DETAIL = new Set(['vmexit', 'ga_post', 'avic_doorbell']);

const GA_POST_TEXT: Record<number, string> = {
  [GA_POST.NOT_GA]: 'the IRTE is not in GA mode: nothing posted',
  [GA_POST.DOORBELL]: 'IsRun=1',
  [GA_POST.LOGGED]: 'IsRun=0, GALogIntr=1: GA log entry, GA-log interrupt raised',
  [GA_POST.SILENT]: 'IsRun=0, GALogIntr=0: IRR set silently',
  [GA_POST.LOG_DROPPED]: 'IsRun=0, GALogIntr=1, but the GA log is full or stopped: entry dropped',
};

function describeDoorbell(e: TraceEvent): string {
  if (e.a < 0) return `doorbell for vcpu${e.d}: no pCPU has that APIC ID`;
  if (e.b < 0) return `doorbell to pcpu${e.a}: pcpu${e.a} is not in guest mode, nothing happens`;
  const what = e.c >= 0 ? `recognizes ${hex(e.c)}` : 'nothing deliverable';
  const other = e.b === e.d ? '' : ` (rung for vcpu${e.d})`;
  return `doorbell to pcpu${e.a}: vcpu${e.b} re-evaluates its backing page, ${what}${other}`;
}

/** Describes a hardware reaction from the events it produced. */
export function describeReaction(events: TraceEvent[]): string {
  const parts: string[] = [];
  for (const e of events) {
    switch (e.kind) {
      case 'pi_process':
        parts.push(
          `posted-interrupt processing on vcpu${e.b}'s PID${e.c >= 0 ? ` (highest ${hex(e.c)})` : ' (PIR empty)'}`,
        );
        break;
      case 'pi_wrong_vcpu':
        parts.push(`notification meant for vCPU mask 0x${e.c.toString(16)} processed against vcpu${e.b}`);
        break;
      case 'deliver':
        parts.push(
          e.c === 1
            ? `AVIC delivery from the backing page: guest handler ${hex(e.b)} runs`
            : `virtual-interrupt delivery: guest handler ${hex(e.b)} runs`,
        );
        break;
      case 'eoi':
        parts.push(e.a >= 0 ? `guest handler writes EOI (${hex(e.b)})` : `EOI ${hex(e.b)}`);
        break;
      case 'vmexit':
        parts.push(
          e.c === EXIT_REASON.AVIC_INCOMPLETE_IPI
            ? `VM exit AVIC_INCOMPLETE_IPI (${AVIC_IPI_FAILURE_NAMES[e.d] ?? e.d})`
            : `VM exit ${EXIT_REASON_NAMES[e.c] ?? e.c} (${hex(e.d)})`,
        );
        break;
      case 'avic_doorbell':
        parts.push(describeDoorbell(e));
        break;
      case 'ga_post':
        parts.push(GA_POST_TEXT[e.c] ?? `GA posting outcome ${e.c}`);
        break;
      case 'ga_log':
        parts.push(
          e.a >= 0
            ? `GA log: wake vcpu${e.a}${e.d === 1 ? '' : ' (it was not halted)'}`
            : `GA log: GATag 0x${e.b.toString(16)} names no vCPU`,
        );
        break;
      case 'host_irq':
        parts.push(`host handler for ${hex(e.b)} runs`);
        break;
      case 'spurious':
        parts.push(`spurious interrupt ${hex(e.b)}`);
        break;
    }
  }
  return parts.join('; ');
}

/** Fires one hardware reaction if any is enabled; returns its actor or null. */
function reactOnce(w: World, sink: Sink): string | null {
  for (let p = 0; p < w.machine.pcpus; p++) {
    if (pcpuDispatchEnabled(w, p)) {
      pcpuDispatch(w, sink, p);
      return `pcpu${p}`;
    }
  }
  if (w.L.avic !== undefined) return reactAvic(w, sink);
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    if (vcpuDeliverEnabled(w, x)) {
      vcpuDeliver(w, sink, x);
      return `vcpu${x}`;
    }
    if (vcpuAutoEoiEnabled(w, x)) {
      guestEoi(w, sink, x);
      return `vcpu${x}`;
    }
  }
  return null;
}

/**
 * The reactions of an AVIC machine after physical dispatch: the host's GA-log interrupt handler,
 * then for each vCPU guest delivery from its backing page and its handler's EOI.
 */
function reactAvic(w: World, sink: Sink): string | null {
  if (gaLogInterruptPending(w)) {
    gaLogInterrupt(w, sink);
    return 'host';
  }
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    if (avicDeliverEnabled(w, x)) {
      avicDeliverStep(w, sink, x);
      return `vcpu${x}`;
    }
    if (avicAutoEoiEnabled(w, x)) {
      avicGuestEoi(w, sink, x);
      return `vcpu${x}`;
    }
  }
  return null;
}

/**
 * Runs a scenario to the end and checks its expectations. `file` names the scenario in the
 * UserError of a step that cannot happen in the state the previous steps left.
 */
export function runScenario(sc: Scenario, file: string = sc.name): RunResult {
  const w = initWorld(machineOf(sc));
  const entries: TraceEntry[] = [];
  const record = (
    actor: string,
    action: string,
    step: number | null,
    note: string | undefined,
    before: Uint32Array,
    sink: RecordingSink,
  ) => {
    entries.push({
      n: entries.length + 1,
      actor,
      action,
      step,
      note,
      events: sink.events,
      changes: diffWorlds(w.L, before, w.m),
    });
  };
  const settle = () => {
    // A bound on reactions per step: each reaction consumes a pending interrupt, so a correct
    // model reaches quiescence long before this.
    for (let i = 0; i < 10_000; i++) {
      const before = w.m.slice();
      const sink = new RecordingSink();
      const actor = reactOnce(w, sink);
      if (actor === null) return;
      record(actor, describeReaction(sink.events), null, undefined, before, sink);
    }
    throw new Error('hardware reactions did not reach quiescence within 10000 steps');
  };
  settle();
  sc.steps.forEach((st, i) => {
    const before = w.m.slice();
    const sink = new RecordingSink();
    const { actor, action } = applyStep(w, sink, st, `${file}: steps[${i}]`);
    // A guest operation that exits says so ("guest writes EOI; VM exit MSR_WRITE (0x80b)"), and an
    // AVIC step names the doorbells it rang and what a GA-mode posting did; a vm.exit step's own
    // action already names its exit.
    const extra =
      st.do === 'vm.exit' ? '' : describeReaction(sink.events.filter((e) => STEP_DETAIL.has(e.kind)));
    record(actor, extra ? `${action}; ${extra}` : action, i, st.note, before, sink);
    settle();
  });
  const expectations = checkExpectations(sc, w, entries);
  return { scenario: sc.name, entries, expectations, ok: expectations.every((e) => e.ok), world: w };
}

function list(vs: readonly (number | string)[]): string {
  return `[${vs.map((v) => (typeof v === 'number' ? hex(v) : v)).join(', ')}]`;
}

function checkExpectations(sc: Scenario, w: World, entries: TraceEntry[]): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  const events = entries.flatMap((e) => e.events);
  for (const [k, want] of Object.entries(sc.expect.delivered ?? {})) {
    const got = events.filter((e) => e.kind === 'deliver' && e.a === Number(k)).map((e) => e.b);
    out.push({
      what: `vcpu${k} handlers ran`,
      ok: list(got) === list(want),
      expected: list(want),
      actual: list(got),
    });
  }
  for (const [k, want] of Object.entries(sc.expect.hostIrqs ?? {})) {
    const got = events.filter((e) => e.kind === 'host_irq' && e.a === Number(k)).map((e) => e.b);
    out.push({
      what: `pcpu${k} host handlers ran`,
      ok: list(got) === list(want),
      expected: list(want),
      actual: list(got),
    });
  }
  for (const [k, want] of Object.entries(sc.expect.exits ?? {})) {
    const got = events
      .filter((e) => e.kind === 'vmexit' && e.a === Number(k))
      .map((e) => EXIT_REASON_NAMES[e.c] ?? String(e.c));
    out.push({
      what: `vcpu${k} VM exits`,
      ok: list(got) === list(want),
      expected: list(want),
      actual: list(got),
    });
  }
  for (const [name, want] of Object.entries(sc.expect.state ?? {})) {
    const found = findField(w.L, name);
    if (!found) {
      out.push({ what: name, ok: false, expected: String(want), actual: 'no such field' });
      continue;
    }
    const got = readField(w.m, found.block.base, found.field);
    const actual = formatValue(found.field, got);
    // Values are compared, not their text: ["0x31", 49] is the set {0x31}, "0x32" and 50 are the
    // same byte, "recognized|VID" and "VID|recognized" the same flags.
    const e = expectedFieldValue(found.field, want);
    if ('error' in e) {
      out.push({ what: name, ok: false, expected: `${JSON.stringify(want)} (${e.error})`, actual });
      continue;
    }
    out.push({
      what: name,
      ok: sameValue(got, e.value),
      expected: formatValue(found.field, e.value),
      actual,
    });
  }
  return out;
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}
