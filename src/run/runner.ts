/**
 * The step-by-step runner: executes a scenario's steps in order on one World and, after each step,
 * lets the hardware react until nothing more happens on its own (a pCPU taking a pending physical
 * interrupt, a recognized virtual interrupt being delivered, a guest handler's EOI). Every step and
 * every reaction becomes one trace entry with the events it produced and the fields it changed.
 */
import { hex } from '../model/hw/bits.ts';
import { PID, piClearSn, piControlLo, piNv, piSetOn, piSetSn, piTestOn, piTestSn } from '../model/hw/pid.ts';
import { EV, type EventKind, EXIT_REASON, EXIT_REASON_NAMES, type Sink } from '../model/system/events.ts';
import { type Change, diffWorlds, findField, formatValue, readField } from '../model/system/fields.ts';
import {
  guestEoi,
  guestHlt,
  guestSelfIpi,
  guestSetIf,
  guestWriteIcr,
  guestWriteTpr,
  hostEoi,
  hostSetIf,
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
import { initWorld, pcpuApicId, type World } from '../model/system/world.ts';
import { machineOf } from '../scenarios/loader.ts';
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

const EVENT_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(EV).map(([k, v]) => [v, k.toLowerCase()]),
);

class RecordingSink implements Sink {
  events: TraceEvent[] = [];
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.events.push({ kind: EVENT_NAME[kind], a, b, c, d });
  }
}

const DELIVERY_MODE = { fixed: 0, lowest: 1, smi: 2, nmi: 4, init: 5, sipi: 6 } as const;
const SHORTHAND = { none: 0, self: 1, all: 2, others: 3 } as const;

/** Applies one scenario step to the World; returns the actor and a description. */
function applyStep(w: World, sink: Sink, st: Step): { actor: string; action: string } {
  switch (st.do) {
    case 'device.post': {
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
      guestWriteTpr(w, sink, st.vcpu, st.value);
      return { actor: `vcpu${st.vcpu}`, action: `guest writes TPR ${hex(st.value)}` };
    case 'guest.eoi':
      guestEoi(w, sink, st.vcpu);
      return { actor: `vcpu${st.vcpu}`, action: 'guest writes EOI' };
    case 'guest.selfIpi':
      guestSelfIpi(w, sink, st.vcpu, st.vector);
      return { actor: `vcpu${st.vcpu}`, action: `guest writes SELF_IPI ${hex(st.vector)}` };
    case 'guest.icr': {
      guestWriteIcr(w, sink, st.vcpu, {
        vector: st.vector ?? 0,
        deliveryMode: DELIVERY_MODE[st.deliveryMode],
        logical: st.destMode === 'logical',
        levelTriggered: st.trigger === 'level',
        shorthand: SHORTHAND[st.shorthand],
        dest: st.dest ?? 0,
      });
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
    case 'vm.entry':
      vmEntry(w, sink, st.vcpu, st.pcpu);
      return { actor: `vcpu${st.vcpu}`, action: `VM entry on pcpu${st.pcpu}` };
    case 'vm.exit':
      vmExit(w, sink, st.vcpu, EXIT_REASON.HLT, 0);
      return { actor: `vcpu${st.vcpu}`, action: 'VM exit' };
    case 'pid.set': {
      const pid = w.L.pid[st.vcpu];
      if (st.on === true) piSetOn(w.m, pid);
      if (st.on === false) w.m[pid + PID.CONTROL] &= ~1;
      if (st.sn === true) piSetSn(w.m, pid);
      if (st.sn === false) piClearSn(w.m, pid);
      if (st.nv !== undefined)
        w.m[pid + PID.CONTROL] = piControlLo(piTestOn(w.m, pid), piTestSn(w.m, pid), st.nv);
      const parts = [
        st.on !== undefined ? `ON=${st.on ? 1 : 0}` : '',
        st.sn !== undefined ? `SN=${st.sn ? 1 : 0}` : '',
        st.nv !== undefined ? `NV=${hex(piNv(w.m, pid))}` : '',
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
  }
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
        parts.push(`virtual-interrupt delivery: guest handler ${hex(e.b)} runs`);
        break;
      case 'eoi':
        parts.push(e.a >= 0 ? `guest handler writes EOI (${hex(e.b)})` : `EOI ${hex(e.b)}`);
        break;
      case 'vmexit':
        parts.push(`VM exit ${EXIT_REASON_NAMES[e.c] ?? e.c} (${hex(e.d)})`);
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

/** Runs a scenario to the end and checks its expectations. */
export function runScenario(sc: Scenario): RunResult {
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
    const { actor, action } = applyStep(w, sink, st);
    const extra = describeReaction(sink.events.filter((e) => e.kind === 'vmexit'));
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
    const gotText = formatValue(found.field, got);
    let wantText: string;
    if (Array.isArray(want))
      wantText = formatValue(
        found.field,
        [...want].sort((a, b) => a - b),
      );
    else if (typeof want === 'boolean') wantText = want ? '1' : '0';
    else if (typeof want === 'number' && found.field.kind === 'index1')
      wantText = want < 0 ? 'none' : String(want);
    else if (typeof want === 'number' && found.field.kind === 'bool') wantText = want ? '1' : '0';
    else wantText = formatValue(found.field, want as number | string);
    out.push({ what: name, ok: gotText === wantText, expected: wantText, actual: gotText });
  }
  return out;
}
