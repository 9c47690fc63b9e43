/**
 * Turns a scenario's actors into programs of atomic steps for one variant, and the scenario into a
 * checkable SystemModel.
 */
import { hex } from '../model/hw/bits.ts';
import { inhibitBit } from '../model/kvm/apicv.ts';
import { apicvInhibited, kvmEmulatedEoi } from '../model/kvm/apicv-inhibit.ts';
import { emitStartAssignment, KVM_ASSIGN_EXTRA } from '../model/kvm/assignment.ts';
import { emitAvicDevicePost, emitAvicLoad, emitAvicPut } from '../model/kvm/avic.ts';
import { emitAvicPiUpdateIrte, emitIrqSetAffinity, irListExtra } from '../model/kvm/avic-irte.ts';
import { emitCreateVcpu, vmcbExtra } from '../model/kvm/avic-vmcb.ts';
import { emitHaltAndBlock } from '../model/kvm/block.ts';
import { emitDeliverPostedInterrupt, emitKick } from '../model/kvm/deliver.ts';
import { emitAsyncExitHandler, emitEnterGuest, emitExit } from '../model/kvm/enter-guest.ts';
import { emitIcrBroadcast, emitIcrWrite, kvmIcrTargets } from '../model/kvm/fastpath.ts';
import { GA_LOG_COST_EXTRA } from '../model/kvm/ga-log-cost.ts';
import { guestApicWrite } from '../model/kvm/guest-apic.ts';
import {
  emitIoapicEoiHandler,
  guestIoapicLine,
  guestIoapicMask,
  guestIoapicReg,
  guestIoapicWrite,
  ioapicEoiExtra,
} from '../model/kvm/guest-ioapic.ts';
import { type HarvestCost, harvestCost } from '../model/kvm/harvest.ts';
import { emitEnableIrqWindow, emitInhibitIoctl, emitIrqWindowExit } from '../model/kvm/irq-window.ts';
import {
  kvmTimerExpire,
  kvmTimerHandled,
  kvmTimerNextExpiry,
  kvmTimerRearm,
} from '../model/kvm/lapic-timer.ts';
import { emitLock, emitUnlock, LockTable, locksExtra } from '../model/kvm/locks.ts';
import { emitPiLoad, emitPiPut } from '../model/kvm/posted-intr.ts';
import { emitPostedMsiHandler, postedMsiBlockName, vtdPostMsi } from '../model/kvm/posted-msi.ts';
import { type MemoryModel, NEXT, ProgramBuilder } from '../model/kvm/program.ts';
import { emitMigrate, emitSchedIn, schedRqExtra } from '../model/kvm/sched.ts';
import { DEFAULT_VARIANT, type Variant } from '../model/kvm/variants.ts';
import { emitVtdSetAffinity, emitVtdSetVcpuAffinity, vtdIrteExtra } from '../model/kvm/vtd-irte-mode.ts';
import { avicGuestEoi, avicGuestSelfIpi, avicGuestTpr } from '../model/platform/avic-steps.ts';
import { EXIT_REASON } from '../model/platform/events.ts';
import {
  guestEndStiShadow,
  guestEoi,
  guestIret,
  guestSelfIpi,
  guestSetIf,
  guestWriteTpr,
  vcpuNmiArrives,
  vtdPostTo,
} from '../model/platform/hardware.ts';
import { timerBlockName } from '../model/platform/timer-block.ts';
import { vcpuRunningOn, type World } from '../model/platform/world.ts';
import { PROPERTY_NAMES, propertyCode } from '../model/system/properties.ts';
import { type ActorProgram, SystemModel } from '../model/system/system.ts';
import { machineOf } from './machine.ts';
import type { ActorStep, Scenario } from './schema.ts';
import { emitScriptStep, guestIoapicWriteFields, SCRIPT_FN } from './script.ts';

/**
 * Emits one scenario step. `pcpu` is the pCPU the actor's vCPU is loaded on at this point of its
 * program (from the machine's start and the kvm.load and guest.hlt steps before it).
 */
function emitStep(
  b: ProgramBuilder,
  v: Variant,
  sc: Scenario,
  vcpu: number,
  st: ActorStep,
  pcpu: number,
): void {
  const inGuest = (w: World) => vcpuRunningOn(w, vcpu) >= 0;
  const avic = b.avic;
  switch (st.do) {
    case 'kvm.load':
      emitSchedIn(b, vcpu, st.pcpu, (p, then) =>
        avic ? emitAvicLoad(b, vcpu, p, then) : emitPiLoad(b, v, vcpu, p, then),
      );
      return;
    case 'sched.migrate':
      emitMigrate(b, st.vcpu, sc.machine.pcpus);
      return;
    case 'kvm.put':
      if (b.avic) emitAvicPut(b, v, vcpu, st.preempted);
      else emitPiPut(b, v, vcpu, st.preempted);
      return;
    case 'kvm.enter':
      emitEnterGuest(b, v, vcpu);
      return;
    case 'kvm.exit':
      emitExit(b, vcpu, EXIT_REASON[st.reason]);
      return;
    case 'kvm.deliver':
      emitDeliverPostedInterrupt(b, v, st.vcpu, st.vector);
      return;
    case 'device.post': {
      if (b.avic) {
        // The schema asks for a GA-mode IRTE on an AVIC machine.
        emitAvicDevicePost(b, st.irte!);
        return;
      }
      const e =
        st.irte !== undefined
          ? sc.machine.irtes[st.irte]
          : { vcpu: st.vcpu!, vector: st.vector!, urg: st.urg ?? false };
      b.step('VT-d', `post ${hex(e.vector)} to vcpu${e.vcpu}`, (w, _a, sink) => {
        vtdPostTo(w, sink, e.vcpu, e.vector, e.urg);
        return NEXT;
      });
      return;
    }
    case 'device.postMsi': {
      const p = st.pcpu;
      const name = postedMsiBlockName(p);
      b.step('iommu', `post MSI ${hex(st.vector)} to pcpu${p}`, (w, _a, sink) => {
        vtdPostMsi(w, sink, w.L.extra.get(name)!, p, st.vector);
        return NEXT;
      });
      return;
    }
    case 'timer.expire': {
      const x = st.vcpu;
      const name = timerBlockName(x);
      b.step(
        'apic_timer_fn',
        `apic_timer_expired vcpu${x}`,
        (w, _a, sink) => {
          kvmTimerExpire(w, sink, x);
          return NEXT;
        },
        (w) => kvmTimerNextExpiry(w.m, w.L.extra.get(name)!) >= 0,
      );
      return;
    }
    case 'guest.timerRearm': {
      b.step(
        'guest',
        `re-arm timer +${st.period}`,
        (w, _a, sink) => {
          kvmTimerRearm(w, sink, vcpu, st.period);
          return NEXT;
        },
        (w) => inGuest(w) && kvmTimerHandled(w, vcpu),
      );
      return;
    }
    case 'guest.tpr':
      b.step(
        'guest',
        `write TPR ${hex(st.value)}`,
        (w, _a, sink) => {
          if (avic) avicGuestTpr(w, sink, vcpu, st.value);
          else guestWriteTpr(w, sink, vcpu, st.value);
          return NEXT;
        },
        inGuest,
      );
      return;
    case 'guest.eoi':
      b.step(
        'guest',
        'write EOI',
        (w, _a, sink) => {
          if (avic) avicGuestEoi(w, sink, vcpu);
          // While APICv is inhibited the write is not virtualized: the exit and KVM's emulation
          // (apic_set_eoi); this thread's exit handler then re-enters (decision 0235).
          else if (b.apicvInhibitable && apicvInhibited(w, vcpu)) kvmEmulatedEoi(w, sink, vcpu);
          else guestEoi(w, sink, vcpu);
          return NEXT;
        },
        inGuest,
      );
      return;
    case 'guest.apicWrite': {
      const hi = st.hi ?? 0;
      // One step from the exit to the end of KVM's emulation (kvm_lapic_reg_write or
      // kvm_set_apic_base, then kvm_recalculate_apic_map and the VM-wide APICv update); the
      // thread's exit handler re-enters.
      b.step(
        'guest',
        `write ${st.reg} ${hi !== 0 ? `${hex(hi)}:` : ''}${hex(st.value)}`,
        (w, _a, sink) => {
          guestApicWrite(w, sink, vcpu, st.reg, st.value, hi);
          return NEXT;
        },
        inGuest,
      );
      return;
    }
    case 'guestIoapic.line':
      // kvm_set_irq -> kvm_ioapic_set_irq: the line, ioapic_service and the delivery to the vCPUs
      // (kvm_irq_delivery_to_apic) all under ioapic->lock, so one step.
      b.step(
        'kvm_ioapic_set_irq',
        `line ${st.pin} ${st.level ? 'asserted' : 'deasserted'}`,
        (w, _a, sink) => {
          guestIoapicLine(w, sink, st.pin, st.level);
          return NEXT;
        },
      );
      return;
    case 'guestIoapic.mask':
      b.step('host', `${st.masked ? 'masks' : 'unmasks'} guest I/O APIC pin ${st.pin}`, (w, _a, sink) => {
        guestIoapicMask(w, sink, st.pin, st.masked);
        return NEXT;
      });
      return;
    case 'guestIoapic.write': {
      // The guest's MMIO write: the exit, then ioapic_mmio_write -> ioapic_write_indirect under
      // ioapic->lock (the entry, Remote IRR kept for a level entry, ioapic_service of an asserted
      // level line) and the rescan of the EOI-exit bitmaps, one step; the thread's exit handler
      // re-enters.
      const { wr, what } = guestIoapicWriteFields(st);
      b.step(
        'ioapic_write_indirect',
        `pin ${st.pin}: ${what}`,
        (w, _a, sink) => {
          guestIoapicWrite(w, sink, vcpu, st.pin, wr);
          return NEXT;
        },
        inGuest,
      );
      return;
    }
    case 'guestIoapic.reg':
      // IOREGSEL/IOWIN through ioapic_mmio_read/ioapic_mmio_write, under ioapic->lock: one step from
      // the exit; the thread's exit handler re-enters.
      b.step(
        st.write === undefined ? 'ioapic_read_indirect' : 'ioapic_write_indirect',
        st.write === undefined ? `read ${hex(st.index)}` : `write ${hex(st.write)} to ${hex(st.index)}`,
        (w, _a, sink) => {
          guestIoapicReg(w, sink, vcpu, st.index, st.write);
          return NEXT;
        },
        inGuest,
      );
      return;
    case 'guest.selfIpi':
      b.step(
        'guest',
        `SELF_IPI ${hex(st.vector)}`,
        (w, _a, sink) => {
          if (avic) avicGuestSelfIpi(w, sink, vcpu, st.vector);
          else guestSelfIpi(w, sink, vcpu, st.vector);
          return NEXT;
        },
        inGuest,
      );
      return;
    case 'guest.icr': {
      const machine = machineOf(sc);
      if (st.shorthand === 'others') {
        const icr = {
          vector: st.vector,
          deliveryMode: 0,
          logical: false,
          levelTriggered: false,
          shorthand: 3,
          dest: 0,
        };
        emitIcrBroadcast(b, v, vcpu, kvmIcrTargets(machine, vcpu, icr), st.vector);
        return;
      }
      const dest = st.dest!;
      const target = machine.vcpus.findIndex((c) => c.apicId === dest);
      emitIcrWrite(b, v, vcpu, target, dest, st.vector);
      return;
    }
    case 'guest.hlt':
      emitHaltAndBlock(b, v, vcpu, st.wakeOn ?? pcpu);
      return;
    case 'kvm.injectNmi': {
      const t = st.vcpu;
      // kvm_inject_nmi: nmi_queued++ and KVM_REQ_NMI (process_nmi's collapse applied at once), then
      // kvm_vcpu_kick, which wakes a blocked target or forces a running one out to inject it.
      b.step('kvm_inject_nmi', `queue NMI for vcpu${t}`, (w) => {
        vcpuNmiArrives(w, t);
        return NEXT;
      });
      emitKick(b, t, -1);
      return;
    }
    case 'guest.iret':
      b.step(
        'guest',
        'IRET',
        (w) => {
          guestIret(w, vcpu);
          return NEXT;
        },
        inGuest,
      );
      return;
    case 'kvm.inhibit':
      emitInhibitIoctl(b, v, inhibitBit(st.reason), st.set);
      return;
    case 'svm.irqWindow.open':
      emitEnableIrqWindow(b, v, vcpu);
      return;
    case 'svm.irqWindow.close':
      emitIrqWindowExit(b, v, vcpu);
      return;
    case 'lock':
      emitLock(b, 'spin_lock', st.lock);
      return;
    case 'unlock':
      emitUnlock(b, 'spin_unlock', st.lock);
      return;
    case 'avic.updateIrte':
      emitAvicPiUpdateIrte(b, v, st.irte, sc.machine.irtes[st.irte].vcpu);
      return;
    case 'host.irqSetAffinity':
      if (b.avic) emitIrqSetAffinity(b, st.irte);
      else emitVtdSetAffinity(b, v, st.irte);
      return;
    case 'vtd.irqSetVcpuAffinity':
      emitVtdSetVcpuAffinity(b, v, st.irte, st.post);
      return;
    case 'kvm.createVcpu':
      emitCreateVcpu(b, v, vcpu);
      return;
    case 'kvm.startAssignment':
      emitStartAssignment(b, v, sc.machine.vcpus.length);
      return;
    case 'guest.sti':
    case 'guest.cli':
      b.step(
        'guest',
        st.do === 'guest.sti' ? 'STI' : 'CLI',
        (w) => {
          guestSetIf(w, vcpu, st.do === 'guest.sti');
          return NEXT;
        },
        inGuest,
      );
      // The instruction after STI, whatever it is, completes as a step of its own: until then no
      // interrupt is taken (SDM Vol. 3A 6.8.3), and other actors may run meanwhile.
      if (st.do === 'guest.sti')
        b.step(
          'guest',
          'next instruction (STI shadow ends)',
          (w) => {
            guestEndStiShadow(w, vcpu);
            return NEXT;
          },
          inGuest,
        );
      return;
  }
}

export function buildPrograms(
  sc: Scenario,
  v: Variant,
  memory: MemoryModel = 'sc',
  locks: LockTable = new LockTable(),
): ActorProgram[] {
  return buildProgramsWithCosts(sc, v, memory, locks).programs;
}

/** The first step of a software posting: S1 with APICv, the vIRR update without. */
const POSTING_LABELS = new Set(['pi_test_and_set_pir', 'kvm_lapic_set_irr']);

/** The cost of one guest ICR write up to the posting: steps and full barriers from the exit to S1. */
export interface PostingPathCost {
  actor: string;
  steps: number;
  barriers: number;
}

function buildProgramsWithCosts(
  sc: Scenario,
  v: Variant,
  memory: MemoryModel = 'sc',
  locks: LockTable = new LockTable(),
): { programs: ActorProgram[]; costs: PostingPathCost[] } {
  const costs: PostingPathCost[] = [];
  // Actor indices in the model: the script, when there is one, is actor 0.
  const first = sc.steps.length > 0 ? 1 : 0;
  const programs: ActorProgram[] = (sc.actors ?? []).map((a, actorIndex): ActorProgram => {
    const b = new ProgramBuilder(sc.machine.features, memory);
    b.dynamicAssignment = assignsLate(sc);
    b.apicvInhibitable = apicvInhibitable(sc);
    b.kickReentersAtOnce = b.apicvInhibitable;
    b.locks = locks;
    b.actor = first + actorIndex;
    b.avicIrList = routedIrtes(sc) !== undefined;
    b.avicVmcb = createsVcpu(sc);
    const moved = migratedVcpus(sc);
    if (moved.length > 0) {
      b.rqPcpus = sc.machine.pcpus;
      b.migrated = moved;
    }
    const icrStarts: number[] = [];
    const stepOfPc: number[] = [];
    let pcpu = a.vcpu === undefined ? -1 : sc.machine.vcpus[a.vcpu].pcpu;
    for (const [j, st] of a.steps.entries()) {
      if (st.do === 'guest.icr') icrStarts.push(b.code.length);
      emitStep(b, v, sc, a.vcpu ?? -1, st, pcpu);
      while (stepOfPc.length < b.code.length) stepOfPc.push(j);
      if (st.do === 'kvm.load') pcpu = st.pcpu;
      if (st.do === 'guest.hlt' && st.wakeOn !== undefined) pcpu = st.wakeOn;
    }
    if (a.repeat && a.steps.length > 0) b.step('actor', 'repeat', () => 0);
    // A vCPU thread ends with the handler of the VM exits its steps do not ask for, behind a step
    // that is never enabled: the end of the scenario's steps.
    let asyncExit = -1;
    if (a.vcpu !== undefined) {
      b.step(
        'thread',
        'done',
        () => NEXT,
        () => false,
      );
      b.code[b.code.length - 1].final = true;
      asyncExit = b.code.length;
      emitAsyncExitHandler(
        b,
        v,
        a.vcpu,
        sc.machine.guestIoapic.length > 0 ? emitIoapicEoiHandler : undefined,
      );
    }
    const code = b.build();
    for (const start of icrStarts) {
      let steps = 0;
      let barriers = 0;
      let pc = start;
      for (; pc < code.length && !POSTING_LABELS.has(code[pc].label); pc++) {
        steps++;
        barriers += code[pc].barriers ?? 0;
      }
      if (pc < code.length) costs.push({ actor: a.name, steps, barriers });
    }
    return {
      name: a.name,
      vcpu: a.vcpu ?? -1,
      code,
      asyncExit,
      stepOfPc,
      notes: a.steps.map((st) => st.note),
    };
  });
  // The script (`steps`) is actor 0: its steps fire in order under `irqlab run`'s chooser.
  if (sc.steps.length > 0) programs.unshift(scriptProgram(sc, v, memory));
  for (const p of postedMsiPcpus(sc)) {
    const b = new ProgramBuilder(sc.machine.features, memory);
    emitPostedMsiHandler(b, v, p);
    programs.push({ name: `posted-msi-pcpu${p}`, vcpu: -1, code: b.build(), asyncExit: -1 });
  }
  return { programs, costs };
}

/** The scenario's `steps` as the program of the script actor (script.ts). */
function scriptProgram(sc: Scenario, v: Variant, memory: MemoryModel): ActorProgram {
  const b = new ProgramBuilder(sc.machine.features, memory);
  b.apicvInhibitable = apicvInhibitable(sc);
  b.kickReentersAtOnce = b.apicvInhibitable;
  const stepOfPc: number[] = [];
  const machine = machineOf(sc);
  // vCPUs whose STI shadow a VM exit kept, and the one whose re-entry ends it at the next step.
  const kept = new Set<number>();
  let endAfterEntry = -1;
  for (const [i, st] of sc.steps.entries()) {
    const start = b.code.length;
    emitScriptStep(b, v, machine, st);
    const prev = sc.steps[i - 1];
    // A VM exit of that vCPU right after STI that KVM resolves without completing the next
    // instruction (an EPT violation it maps and re-executes, an external interrupt or NMI between
    // instructions) leaves the shadow in the VMCS's interruptibility state (SDM Vol. 3C 24.4.2);
    // an exit KVM completes by emulation skips the instruction, which ends the shadow
    // (kvm_skip_emulated_instruction -> vmx_set_interrupt_shadow(vcpu, 0)).
    const exitsInShadow =
      st.do === 'vm.exit' &&
      prev?.do === 'guest.sti' &&
      st.vcpu === prev.vcpu &&
      SHADOW_KEEPING_EXITS.has(st.reason);
    if (exitsInShadow) kept.add(st.vcpu);
    if (prev?.do === 'guest.sti' && !exitsInShadow) endStiShadowFirst(b, start, prev.vcpu);
    // After the re-entry the guest runs at least one instruction before the next step.
    if (endAfterEntry >= 0) {
      endStiShadowFirst(b, start, endAfterEntry);
      endAfterEntry = -1;
    }
    if (st.do === 'vm.entry' && kept.delete(st.vcpu)) endAfterEntry = st.vcpu;
    while (stepOfPc.length < b.code.length) stepOfPc.push(i);
  }
  // A script that ends with STI: the guest goes on running, and its next instruction ends the shadow.
  if (sc.steps.at(-1)?.do === 'guest.sti') {
    const x = (sc.steps.at(-1) as { vcpu: number }).vcpu;
    b.step(SCRIPT_FN, 'guest executes its next instruction', (w) => {
      guestEndStiShadow(w, x);
      return NEXT;
    });
    const ins = b.code[b.code.length - 1];
    ins.actor = `vcpu${x}`;
    ins.vcpu = x;
    stepOfPc.push(sc.steps.length - 1);
  }
  return { name: SCRIPT_ACTOR, vcpu: -1, code: b.build(), stepOfPc, notes: sc.steps.map((st) => st.note) };
}

/**
 * The STI shadow in a script (SDM Vol. 3A 6.8.3): between two script steps a running guest has
 * executed at least one instruction, so the shadow a guest.sti leaves ends when the next step
 * starts; a guest step of that vCPU is itself the instruction (`sti; hlt` halts first, and the
 * pending interrupt then wakes it). The step's first instruction ends vCPU x's shadow before its
 * effect.
 */
function endStiShadowFirst(b: ProgramBuilder, start: number, x: number): void {
  const first = b.code[start];
  if (first === undefined) return;
  const inner = first.exec;
  first.exec = (w, a, sink) => {
    guestEndStiShadow(w, x);
    return inner(w, a, sink);
  };
}

/** Intel APICv that the guests' own APIC ID writes can inhibit (kvm/apicv-inhibit.ts). */
function apicvInhibitable(sc: Scenario): boolean {
  return sc.machine.features.apicv && !sc.machine.features.avic && sc.machine.apicRegisters;
}

/** VM exits right after STI that leave the STI shadow in place (see scriptProgram). */
const SHADOW_KEEPING_EXITS: ReadonlySet<string> = new Set([
  'EPT_VIOLATION',
  'EXTERNAL_INTERRUPT',
  'EXCEPTION_NMI',
]);

/** The name of the actor that runs a scenario's `steps`. */
export const SCRIPT_ACTOR = 'script';

/**
 * The IRTEs a scenario routes itself (avic.updateIrte), or undefined when it neither routes IRTEs
 * nor changes a host IRQ's affinity (then the AVIC paths take no locks).
 */
export function routedIrtes(sc: Scenario): number[] | undefined {
  const steps = (sc.actors ?? []).flatMap((a) => a.steps);
  if (!sc.machine.features.avic) return undefined;
  if (!steps.some((st) => st.do === 'avic.updateIrte' || st.do === 'host.irqSetAffinity')) return undefined;
  return steps.flatMap((st) => (st.do === 'avic.updateIrte' ? [st.irte] : []));
}

/** Whether the VM starts without an assigned device and an actor assigns one (assignment.ts). */
export function assignsLate(sc: Scenario): boolean {
  return (sc.actors ?? []).some((a) => a.steps.some((st) => st.do === 'kvm.startAssignment'));
}

/** A scenario about GA-log interrupts: its presets set avicGaLogIntr (ga-log-cost.ts). */
export function countsGaLog(sc: Scenario): boolean {
  return (
    sc.machine.features.avic && Object.values(sc.presets ?? {}).some((p) => Object.hasOwn(p, 'avicGaLogIntr'))
  );
}

/** Whether a VT-d scenario changes IRTE modes (vtd.irqSetVcpuAffinity, or a host affinity change). */
export function vtdIrteModes(sc: Scenario): boolean {
  if (sc.machine.features.avic) return false;
  const steps = (sc.actors ?? []).flatMap((a) => a.steps);
  return steps.some((st) => st.do === 'vtd.irqSetVcpuAffinity' || st.do === 'host.irqSetAffinity');
}

/** Whether an actor creates its vCPU (kvm.createVcpu; avic-vmcb.ts). */
/** The vCPUs whose threads a sched.migrate step moves between run queues (sched.ts). */
export function migratedVcpus(sc: Scenario): number[] {
  const out = new Set<number>();
  for (const a of sc.actors ?? []) for (const st of a.steps) if (st.do === 'sched.migrate') out.add(st.vcpu);
  return [...out].sort((p, q) => p - q);
}

export function createsVcpu(sc: Scenario): boolean {
  return (sc.actors ?? []).some((a) => a.steps.some((st) => st.do === 'kvm.createVcpu'));
}

function irListExtras(sc: Scenario) {
  const routed = routedIrtes(sc);
  return routed === undefined ? [] : [irListExtra(sc.machine.irtes.length, routed)];
}

/** The pCPUs into whose posted-MSI descriptor some actor posts, ascending (host posted MSI). */
export function postedMsiPcpus(sc: Scenario): number[] {
  const ps = new Set<number>();
  for (const a of sc.actors ?? []) for (const st of a.steps) if (st.do === 'device.postMsi') ps.add(st.pcpu);
  return [...ps].sort((x, y) => x - y);
}

export function postingPathCosts(sc: Scenario, v: Variant): PostingPathCost[] {
  return buildProgramsWithCosts(sc, v).costs;
}

/**
 * The PIR loads and exchanges of one harvest in the variant's shape (seed 000, checklist
 * S000-a), counted by running the emitted harvest steps (harvestCost): in the worst case, one
 * vector in each 32-bit chunk; and on the PIR each vCPU starts with (when non-empty).
 */
export interface HarvestCosts {
  shape: Variant['harvest'];
  worst: HarvestCost;
  start: (HarvestCost & { vcpu: number })[];
}

/** One vector in each 32-bit chunk of PIR: 0x01, 0x21, ..., 0xe1. */
export const HARVEST_WORST_CASE: readonly number[] = Array.from({ length: 8 }, (_, i) => 32 * i + 1);

/**
 * The harvest costs, for a scenario about harvesting: one whose presets set the `harvest` knob, or
 * a variant whose harvest is not today's. Undefined otherwise.
 */
export function harvestCosts(sc: Scenario, v: Variant): HarvestCosts | undefined {
  const named = Object.values(sc.presets ?? {}).some((p) => Object.hasOwn(p, 'harvest'));
  if (!named && v.harvest === DEFAULT_VARIANT.harvest) return undefined;
  return {
    shape: v.harvest,
    worst: harvestCost(v.harvest, HARVEST_WORST_CASE),
    start: sc.machine.vcpus
      .map((c, vcpu) => ({ vcpu, pir: c.pid.pir }))
      .filter((c) => c.pir.length > 0)
      .map((c) => ({ vcpu: c.vcpu, ...harvestCost(v.harvest, c.pir) })),
  };
}

/**
 * The checkable model of a scenario in one variant. The memory model is the caller's (the CLI's
 * --memory), else the scenario's `memory`, else sequential consistency.
 */
export function buildModel(
  sc: Scenario,
  v: Variant,
  properties?: readonly string[],
  memory?: MemoryModel,
): SystemModel {
  const props = (properties ?? sc.properties ?? PROPERTY_NAMES).map(propertyCode);
  const mm = memory ?? sc.memory ?? 'sc';
  const locks = new LockTable();
  const programs = buildPrograms(sc, v, mm, locks);
  return new SystemModel(machineOf(sc), programs, props, mm, {
    irqWindowCounted: v.irqWindowInhibit === 'counter',
    postedMsi: postedMsiPcpus(sc),
    extras: [
      ...(assignsLate(sc) ? [KVM_ASSIGN_EXTRA] : []),
      ...irListExtras(sc),
      ...(createsVcpu(sc) ? [vmcbExtra(sc.machine.vcpus.length)] : []),
      ...(migratedVcpus(sc).length > 0 ? [schedRqExtra(sc.machine.vcpus.length)] : []),
      ...(vtdIrteModes(sc) ? [vtdIrteExtra(sc.machine.irtes.length)] : []),
      ...(countsGaLog(sc) ? [GA_LOG_COST_EXTRA] : []),
      // Where a vCPU thread's EOI-induced exit waits for its handler (guest-ioapic.ts).
      ...(sc.machine.guestIoapic.length > 0 && (sc.actors ?? []).some((a) => a.vcpu !== undefined)
        ? [ioapicEoiExtra(sc.machine.vcpus.length)]
        : []),
      ...locksExtra(
        locks,
        programs.map((p) => p.name),
      ),
    ],
    locks: locks.names,
  });
}
