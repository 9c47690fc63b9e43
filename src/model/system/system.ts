/**
 * The whole checkable system: the hardware World, KVM's per-vCPU state, and actors running
 * programs of atomic steps, plus the hardware itself as actors that are always ready (each pCPU's
 * APIC dispatching a pending interrupt, each vCPU's virtual-interrupt delivery and handler EOI).
 * The checker and the runner drive the same `enabled` and `step`; the property monitors look only
 * at states and at trace events, never inside a step (ARCHITECTURE.md principle 5).
 */
import { AVIC_BACKING } from '../hw/avic.ts';
import { prioClass, regEmpty, regHighest, regTest } from '../hw/bits.ts';
import { LAPIC } from '../hw/lapic.ts';
import { PID, piNv } from '../hw/pid.ts';
import { VAPIC } from '../hw/vapic.ts';
import {
  activationMatchesCount,
  INHIBIT_DISABLED,
  KVM_APICV,
  KVM_APICV_BLOCK,
  KVM_APICV_EXTRA,
} from '../kvm/apicv.ts';
import { apicvInhibitable, kvmHandleInterruptWindow } from '../kvm/apicv-inhibit.ts';
import { irteAffinityHolds, irteGuestModeHolds } from '../kvm/avic-irte.ts';
import { avicVmcbHolds } from '../kvm/avic-vmcb.ts';
import { guestIoapicScan, kvmHandleEoiInduced } from '../kvm/guest-ioapic.ts';
import { LOCKS, LOCKS_BLOCK, lockOrderCycle } from '../kvm/locks.ts';
import { kvmHostHandler, ndstPcpu } from '../kvm/posted-intr.ts';
import {
  POSTED_MSI,
  POSTED_MSI_FIELDS,
  POSTED_MSI_NOTIFICATION_VECTOR,
  postedMsiBlockName,
  postedMsiInit,
  postedMsiLost,
  postedMsiNotification,
} from '../kvm/posted-msi.ts';
import { ACTOR, type Instr, type MemoryModel, NEXT } from '../kvm/program.ts';
import { KVM_VCPU, KVM_VCPU_FIELDS, TASK_INTERRUPTIBLE } from '../kvm/state.ts';
import { drainStoreBuffer, storeBufferEmpty, storeBufferFull } from '../kvm/tso.ts';
import { vtdIrteOwnerHolds } from '../kvm/vtd-irte-mode.ts';
import {
  avicAutoEoiEnabled,
  avicDeliverEnabled,
  avicDeliverStep,
  avicGuestEoi,
} from '../platform/avic-steps.ts';
import { EV, type EventKind, type Sink } from '../platform/events.ts';
import {
  guestEoi,
  pcpuDispatch,
  pcpuDispatchEnabled,
  vcpuAutoEoiEnabled,
  vcpuDeliver,
  vcpuDeliverEnabled,
  vcpuIrqWindowExit,
  vcpuIrqWindowExitEnabled,
  vcpuNmiDeliver,
  vcpuNmiEnabled,
} from '../platform/hardware.ts';
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import { VCPU, VCPU_F_IF, VCPU_F_NMI_BLOCKED, VCPU_NMI_PENDING_MASK } from '../platform/layout.ts';
import { type Machine, POSTED_INTR_VECTOR, POSTED_INTR_WAKEUP_VECTOR } from '../platform/machine.ts';
import { avicPage, initWorld, vcpuRunningOn, type World } from '../platform/world.ts';
import { PROP } from './properties.ts';

export interface ActorProgram {
  name: string;
  /** The vCPU whose thread this is, or -1 (a device or another context). */
  vcpu: number;
  code: Instr[];
  /**
   * For a vCPU thread: the pc of the handler for VM exits its steps did not ask for (-1 or absent:
   * none; the thread then stays where it was and its guest steps wait).
   */
  asyncExit?: number;
  /** Per pc: the index of the scenario step the instruction belongs to (-1: none), for traces. */
  stepOfPc?: readonly number[];
  /** Per scenario step index: its note, for traces. */
  notes?: readonly (string | undefined)[];
}

/** Records the first violation a step's events reveal; allocation-free. */
class MonitorSink implements Sink {
  violation = 0;
  w!: World;
  checkWrongVcpu = true;
  checkRvi = true;
  inner: Sink | null = null;
  checkActivation = true;
  checkIrqWindow = true;
  /** Offset of the VM's kvm.apicv block. */
  apicv = 0;
  /** Intel APICv can be inhibited while the machine runs (kvm/apicv-inhibit.ts apicvInhibitable). */
  runtimeInhibit = false;
  /** Bitmask of the vCPUs that left guest mode in this step. */
  exited = 0;
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.inner?.ev(kind, a, b, c, d);
    if (kind === EV.VMEXIT && b >= 0) this.exited |= 1 << a;
    if (this.violation !== 0) return;
    if (kind === EV.PI_WRONG_VCPU && this.checkWrongVcpu) this.violation = PROP.NO_WRONG_VCPU;
    if (kind === EV.VMENTRY) this.atEntry(a);
  }

  /** Monitors of a VM entry of vCPU a: RVI, then APICv activation, then IRQ windows. */
  private atEntry(a: number): void {
    const m = this.w.m;
    const k = this.w.L.kvmVcpu[a];
    // vcpu_enter_guest's sanity check: the vCPU's APICv state is the VM's (no per-vCPU inhibit
    // is modelled), which the request protocol of __kvm_set_or_clear_apicv_inhibit guarantees.
    const active = m[k + KVM_VCPU.APICV_ACTIVE] !== 0;
    if (this.checkActivation && active !== (m[this.apicv + KVM_APICV.INHIBITS] === 0)) {
      this.violation = PROP.APICV_ACTIVATION;
      return;
    }
    if (this.checkIrqWindow && active && m[k + KVM_VCPU.VINTR] !== 0) {
      this.violation = PROP.NO_IRQ_WINDOW_WITH_AVIC;
      return;
    }
    // RVI means something only with virtual-interrupt delivery: while APICv is inhibited at run
    // time KVM injects and leaves RVI alone (vmx_sync_pir_to_irr writes it only when
    // kvm_vcpu_apicv_active), so the check starts again with the reactivation.
    if (this.checkRvi && (active || !this.runtimeInhibit)) {
      const v = this.w.L.vapic[a];
      const highest = Math.max(0, regHighest(m, v + VAPIC.VIRR));
      if ((m[v + VAPIC.RVI] & 0xff) !== highest) this.violation = PROP.RVI_AT_ENTRY;
    }
  }
}

/** Options of a SystemModel beyond the machine, the programs and the properties. */
export interface SystemOptions {
  /**
   * The variant keeps apicv_nr_irq_window_req (irqWindowInhibit `counter`): apicv-activation then
   * also compares the inhibits with the count whenever no writer holds apicv_update_lock.
   */
  irqWindowCounted?: boolean;
  /**
   * The pCPUs whose device MSIs are posted (CONFIG_X86_POSTED_MSI): each gets a descriptor and the
   * notification handler; their actors are among the programs.
   */
  postedMsi?: readonly number[];
  /**
   * More blocks in the World that some KVM path needs (the VM's assigned-device count, lock words
   * and the lock-order graph), each initialised by its `init` once the World is laid out.
   */
  extras?: readonly (ExtraBlock & { init?: (w: World, base: number) => void })[];
  /** The names of the model's locks, by index (locks.ts); their block is among the extras. */
  locks?: readonly string[];
}

export class SystemModel {
  readonly words: number;
  readonly maxActions: number;
  readonly w: World;
  readonly actors: ActorProgram[];
  readonly actorBase: number[];
  private readonly initial: Uint32Array;
  private readonly sink = new MonitorSink();
  private readonly props: Set<number>;
  /** Per vCPU: the index of the actor that is its thread and has an exit handler, or -1. */
  private readonly vcpuActor: number[];

  /** x86-TSO: actors' store buffers, drained by an action of their own (tso.ts). */
  readonly tso: boolean;
  /** Offset of the VM-wide kvm.apicv block (apicv.ts). */
  readonly apicv: number;
  private readonly irqWindowCounted: boolean;

  /** Offsets of the posted-MSI blocks of the pCPUs that have one (host posted MSI, posted-msi.ts). */
  private readonly postedMsi: number[];
  /**
   * AMD AVIC: the guest-side hardware is the backing page's (avic-steps.ts). The properties that
   * speak of Intel structures (PIR, the notification vector, RVI, wake-up lists) have nothing to
   * look at there and hold trivially; no-lost-interrupt and no-lost-wakeup watch the same POSTED
   * and DELIVERED instrumentation, which the AVIC paths record too.
   */
  private readonly avic: boolean;
  /** Offset of the `locks` block (locks.ts), and how many locks it has (0: none). */
  readonly locks: number;
  readonly lockNames: readonly string[];

  constructor(
    machine: Machine,
    actors: ActorProgram[],
    properties: readonly number[],
    memory: MemoryModel = 'sc',
    options: SystemOptions = {},
  ) {
    this.tso = memory === 'tso';
    const postedMsi = options.postedMsi ?? [];
    this.avic = machine.features.avic;
    const extras: ExtraBlock[] = machine.vcpus.map((_, x) => ({
      name: `kvm.vcpu${x}`,
      prefix: `vcpu${x}`,
      size: KVM_VCPU.SIZE,
      fields: KVM_VCPU_FIELDS,
    }));
    extras.push(KVM_APICV_EXTRA);
    for (const p of postedMsi)
      extras.push({
        name: postedMsiBlockName(p),
        prefix: `pcpu${p}`,
        size: POSTED_MSI.SIZE,
        fields: POSTED_MSI_FIELDS,
      });
    for (const e of options.extras ?? []) extras.push(e);
    // Program counters and locals are not listed as fields: a trace line already names the step.
    const pcField: FieldDesc[] = [];
    for (const a of actors)
      extras.push({ name: `actor.${a.name}`, prefix: a.name, size: ACTOR.SIZE, fields: pcField });
    this.w = initWorld(machine, extras);
    for (const e of options.extras ?? []) e.init?.(this.w, this.w.L.extra.get(e.name)!);
    this.postedMsi = postedMsi.map((p) => this.w.L.extra.get(postedMsiBlockName(p))!);
    const msiOf = Array.from({ length: machine.pcpus }, (_, p) => {
      const i = postedMsi.indexOf(p);
      return i < 0 ? -1 : this.postedMsi[i];
    });
    for (const p of postedMsi) postedMsiInit(this.w.m, msiOf[p], p, machine.x2apic);
    if (!machine.features.avic) this.w.irqWindowHandler = kvmHandleInterruptWindow;
    if (machine.guestIoapic?.length) {
      guestIoapicScan(this.w);
      this.w.eoiInducedHandler = kvmHandleEoiInduced;
    }
    this.w.hostHandler =
      postedMsi.length === 0
        ? kvmHostHandler
        : (w, sink, p, vector) => {
            if (vector === POSTED_MSI_NOTIFICATION_VECTOR && msiOf[p] >= 0)
              postedMsiNotification(w, p, msiOf[p]);
            else kvmHostHandler(w, sink, p, vector);
          };
    this.actors = actors;
    this.actorBase = actors.map((a) => this.w.L.extra.get(`actor.${a.name}`)!);
    this.vcpuActor = machine.vcpus.map((_, x) =>
      actors.findIndex((a) => a.vcpu === x && (a.asyncExit ?? -1) >= 0),
    );
    this.w.vcpuThreads = this.vcpuActor.reduce((bits, i, x) => (i >= 0 ? bits | (1 << x) : bits), 0);
    // A vCPU that starts loaded has vcpu->cpu set and, when running, IN_GUEST_MODE.
    machine.vcpus.forEach((c, x) => {
      const k = this.w.L.kvmVcpu[x];
      if (c.pcpu >= 0) this.w.m[k + KVM_VCPU.CPU] = c.pcpu + 1;
      // A vCPU that starts running owns its pCPU until it is put.
      if (c.running) this.w.m[k + KVM_VCPU.LOADED] = c.pcpu + 1;
      if (c.running) this.w.m[k + KVM_VCPU.MODE] = 1;
    });
    // The VM's inhibits at creation: DISABLED without APICv or AVIC (kvm_apicv_init), and the
    // scenario's (e.g. PIT_REINJ, set when the in-kernel PIT is created in re-inject mode). A vCPU
    // starts with APICv active iff there is none (kvm_create_lapic, kvm_vcpu_apicv_activated).
    this.apicv = this.w.L.extra.get(KVM_APICV_BLOCK)!;
    const enabled = machine.features.apicv || machine.features.avic;
    const inhibits = ((enabled ? 0 : INHIBIT_DISABLED) | (machine.apicvInhibits ?? 0)) >>> 0;
    this.w.m[this.apicv + KVM_APICV.INHIBITS] = inhibits;
    for (const k of this.w.L.kvmVcpu) this.w.m[k + KVM_VCPU.APICV_ACTIVE] = inhibits === 0 ? 1 : 0;
    this.irqWindowCounted = options.irqWindowCounted ?? false;
    this.words = this.w.L.size;
    this.maxActions = actors.length + machine.pcpus + machine.vcpus.length + (this.tso ? actors.length : 0);
    this.initial = this.w.m.slice();
    this.props = new Set(properties);
    this.sink.w = this.w;
    this.sink.checkWrongVcpu = this.props.has(PROP.NO_WRONG_VCPU);
    this.sink.checkRvi = this.props.has(PROP.RVI_AT_ENTRY);
    this.sink.checkActivation = this.props.has(PROP.APICV_ACTIVATION);
    this.sink.checkIrqWindow = this.props.has(PROP.NO_IRQ_WINDOW_WITH_AVIC);
    this.sink.apicv = this.apicv;
    this.sink.runtimeInhibit = apicvInhibitable(this.w);
    this.lockNames = options.locks ?? [];
    this.locks = this.lockNames.length === 0 ? -1 : this.w.L.extra.get(LOCKS_BLOCK)!;
  }

  init(s: Uint32Array): void {
    s.set(this.initial);
  }

  /**
   * Action ids: actors first, then one per pCPU (dispatch), then one per vCPU (guest hardware),
   * then under TSO one per actor (its store buffer drains).
   */
  enabled(s: Uint32Array, out: Int32Array): number {
    const w = this.w;
    w.m = s;
    // The hardware's own actions, evaluated once: they also hold back the threads below.
    let pcpuReady = 0;
    for (let p = 0; p < w.machine.pcpus; p++) if (pcpuDispatchEnabled(w, p)) pcpuReady |= 1 << p;
    let vcpuReady = 0;
    for (let x = 0; x < w.machine.vcpus.length; x++) {
      const ready =
        vcpuNmiEnabled(w, x) ||
        (this.avic
          ? avicDeliverEnabled(w, x) || avicAutoEoiEnabled(w, x)
          : vcpuDeliverEnabled(w, x) || vcpuIrqWindowExitEnabled(w, x) || vcpuAutoEoiEnabled(w, x));
      if (ready) vcpuReady |= 1 << x;
    }
    let n = 0;
    for (let i = 0; i < this.actors.length; i++) {
      const a = this.actorBase[i];
      const pc = s[a + ACTOR.PC];
      const code = this.actors[i].code;
      if (pc >= code.length) continue;
      const ins = code[pc];
      // A CPU with a pending interrupt it can take (guest mode, or host IRQs on) takes it at the
      // next instruction boundary: the thread running there makes no progress until then.
      const v = this.actors[i].vcpu;
      if (v >= 0) {
        const p = ins.cpu ?? s[w.L.kvmVcpu[v] + KVM_VCPU.LOADED] - 1;
        if (p >= 0 && ((pcpuReady >>> p) & 1) !== 0) continue;
        // In guest mode the thread advances only by guest instructions, and a recognized virtual
        // interrupt the guest can take is delivered at the next instruction boundary, before the
        // next instruction (SDM Vol. 3C "Virtual-Interrupt Delivery"); a guest that EOIs at once
        // does so before anything else in its handler.
        if (((vcpuReady >>> v) & 1) !== 0) continue;
      }
      // Under TSO a step runs past buffered stores only if it is marked so and the buffer has room.
      if (this.tso && !storeBufferEmpty(s, a) && (ins.passesStores !== true || storeBufferFull(s, a)))
        continue;
      if (ins.enabled === undefined || ins.enabled(w, a)) out[n++] = i;
    }
    const A = this.actors.length;
    for (let p = 0; p < w.machine.pcpus; p++) if (((pcpuReady >>> p) & 1) !== 0) out[n++] = A + p;
    const B = A + w.machine.pcpus;
    for (let x = 0; x < w.machine.vcpus.length; x++) if (((vcpuReady >>> x) & 1) !== 0) out[n++] = B + x;
    if (this.tso) {
      const C = B + w.machine.vcpus.length;
      for (let i = 0; i < this.actors.length; i++)
        if (!storeBufferEmpty(s, this.actorBase[i])) out[n++] = C + i;
    }
    return n;
  }

  /** Applies one action in place; returns a violation code from the step monitors, or 0. */
  step(s: Uint32Array, action: number, trace: Sink | null = null): number {
    const w = this.w;
    w.m = s;
    const sink = this.sink;
    sink.violation = 0;
    sink.exited = 0;
    sink.inner = trace;
    const A = this.actors.length;
    if (action < A) {
      const a = this.actorBase[action];
      const pc = s[a + ACTOR.PC];
      const ins = this.actors[action].code[pc];
      const next = ins.exec(w, a, sink);
      s[a + ACTOR.PC] = next === NEXT ? pc + 1 : next;
      // A VM exit the thread's own program goes on to handle is not redirected.
      if (ins.exits === true && this.actors[action].vcpu >= 0)
        sink.exited &= ~(1 << this.actors[action].vcpu);
    } else if (action < A + w.machine.pcpus) {
      pcpuDispatch(w, sink, action - A);
    } else if (action < A + w.machine.pcpus + w.machine.vcpus.length) {
      const x = action - A - w.machine.pcpus;
      // An NMI is taken before a maskable interrupt (SDM Vol. 3A 6.9, priority among simultaneous
      // interrupts).
      if (vcpuNmiEnabled(w, x)) vcpuNmiDeliver(w, sink, x);
      else if (this.avic) {
        if (avicDeliverEnabled(w, x)) avicDeliverStep(w, sink, x);
        else avicGuestEoi(w, sink, x);
      } else if (vcpuDeliverEnabled(w, x)) vcpuDeliver(w, sink, x);
      else if (vcpuIrqWindowExitEnabled(w, x)) vcpuIrqWindowExit(w, sink, x);
      else guestEoi(w, sink, x);
    } else {
      drainStoreBuffer(s, this.actorBase[action - A - w.machine.pcpus - w.machine.vcpus.length]);
    }
    if (sink.exited !== 0) this.toExitHandlers(s, sink.exited);
    sink.inner = null;
    return sink.violation;
  }

  /**
   * vCPUs that left guest mode without their thread asking for it: each thread saves where it was
   * and runs its exit handler, which ends by re-entering the guest and resuming there.
   */
  private toExitHandlers(s: Uint32Array, exited: number): void {
    for (let x = 0; x < this.vcpuActor.length; x++) {
      const i = this.vcpuActor[x];
      if (((exited >>> x) & 1) === 0 || i < 0) continue;
      const a = this.actorBase[i];
      s[a + ACTOR.RET] = s[a + ACTOR.PC];
      s[a + ACTOR.PC] = this.actors[i].asyncExit!;
    }
  }

  /** The state invariants: no stuck PIR, wake-up-list consistency, then APICv activation. */
  invariant(s: Uint32Array): number {
    this.w.m = s;
    if (this.props.has(PROP.NO_STUCK_PIR) && this.stuckPir()) return PROP.NO_STUCK_PIR;
    if (this.props.has(PROP.WAKEUP_LIST) && !this.wakeupListsConsistent()) return PROP.WAKEUP_LIST;
    if (this.irqWindowCounted && this.props.has(PROP.APICV_ACTIVATION)) {
      // The seed's invariant at every point outside a write-locked section (kvm-semantics.md 5).
      const k = this.apicv;
      if (
        s[k + KVM_APICV.WRITER] === 0 &&
        !activationMatchesCount(s[k + KVM_APICV.INHIBITS], s[k + KVM_APICV.NR_IRQ_WINDOW_REQ])
      )
        return PROP.APICV_ACTIVATION;
    }
    if (this.props.has(PROP.IRTE_OWNER) && !vtdIrteOwnerHolds(this.w)) return PROP.IRTE_OWNER;
    if (this.avic && this.props.has(PROP.AVIC_VMCB) && !avicVmcbHolds(this.w)) return PROP.AVIC_VMCB;
    if (this.locks >= 0) {
      if (this.props.has(PROP.DEADLOCK) && this.deadlocked(s)) return PROP.DEADLOCK;
      if (this.props.has(PROP.LOCK_ORDER) && lockOrderCycle(s, this.locks, this.lockNames.length))
        return PROP.LOCK_ORDER;
    }
    return 0;
  }

  /**
   * Deadlock: some actor is not done, and every actor that is not done is at a step that takes a
   * lock which is held (a waiter has no enabled step; locks.ts).
   */
  private deadlocked(s: Uint32Array): boolean {
    let waiting = 0;
    for (let i = 0; i < this.actors.length; i++) {
      const code = this.actors[i].code;
      const pc = s[this.actorBase[i] + ACTOR.PC];
      if (pc >= code.length || code[pc].final === true) continue;
      const k = code[pc].acquires;
      if (k === undefined || s[this.locks + LOCKS.HOLDER + k] === 0) return false;
      waiting++;
    }
    return waiting > 0;
  }

  /**
   * Invariant W (kvm-semantics.md section 3): outside a list-and-NV update, a vCPU is on the wake-up
   * list of pCPU k exactly when its NV is the wake-up vector and its NDST names k, and on no other
   * list. Otherwise a wake-up notification reaches a pCPU whose handler does not look at the vCPU.
   */
  private wakeupListsConsistent(): boolean {
    const w = this.w;
    const s = w.m;
    for (let x = 0; x < w.machine.vcpus.length; x++) {
      const k = w.L.kvmVcpu[x];
      if (s[k + KVM_VCPU.WAKEUP_UPDATING] !== 0) continue;
      const lists = s[k + KVM_VCPU.WAKEUP_LISTS];
      if (piNv(s, w.L.pid[x]) !== POSTED_INTR_WAKEUP_VECTOR) {
        if (lists !== 0) return false;
        continue;
      }
      const p = ndstPcpu(w, x);
      if (p < 0 || lists !== 1 << p) return false;
    }
    return true;
  }

  /** No stuck PIR: a vCPU in guest mode with PIR bits, no notification pending, no sender mid-post. */
  private stuckPir(): boolean {
    const w = this.w;
    const s = w.m;
    for (let x = 0; x < w.machine.vcpus.length; x++) {
      const p = vcpuRunningOn(w, x);
      if (p < 0 || regEmpty(s, w.L.pid[x] + PID.PIR)) continue;
      if (s[w.L.kvmVcpu[x] + KVM_VCPU.POSTING] !== 0) continue;
      if (regTest(s, w.L.lapic[p] + LAPIC.IRR, POSTED_INTR_VECTOR)) continue;
      return true;
    }
    return false;
  }

  /**
   * At a state where nothing can happen any more: every vector posted to a vCPU that runs in guest
   * mode with interrupts enabled, and whose class is above its TPR class, reached the handler
   * (no-lost-interrupt); and no vCPU that sleeps in kvm_vcpu_block, halted with interrupts enabled,
   * has such a vector (no-lost-wakeup). First, with host posted MSI: every device MSI posted into a
   * pCPU's descriptor had its handler run (no-lost-msi; checklist X5).
   */
  terminal(s: Uint32Array): number {
    const w = this.w;
    w.m = s;
    if (this.avic && this.props.has(PROP.IRTE_AFFINITY) && !irteAffinityHolds(w)) return PROP.IRTE_AFFINITY;
    if (this.avic && this.props.has(PROP.IRTE_GUEST_MODE) && !irteGuestModeHolds(w))
      return PROP.IRTE_GUEST_MODE;
    if (this.props.has(PROP.NO_LOST_MSI)) {
      for (const o of this.postedMsi) if (postedMsiLost(s, o)) return PROP.NO_LOST_MSI;
    }
    for (let x = 0; x < w.machine.vcpus.length; x++) {
      const k = w.L.kvmVcpu[x];
      // A pending NMI the guest could take (no handler running) that never was: RFLAGS.IF and TPR
      // do not hold NMIs back.
      const flags = s[w.L.vcpu[x] + VCPU.FLAGS];
      if ((flags & VCPU_NMI_PENDING_MASK) !== 0 && (flags & VCPU_F_NMI_BLOCKED) === 0) {
        const asleepNmi =
          s[k + KVM_VCPU.BLOCKING] === 1 &&
          s[k + KVM_VCPU.TASK] === TASK_INTERRUPTIBLE &&
          s[k + KVM_VCPU.LOADED] === 0;
        const c = asleepNmi ? PROP.NO_LOST_WAKEUP : vcpuRunningOn(w, x) >= 0 ? PROP.NO_LOST_INTERRUPT : 0;
        if (c !== 0 && this.props.has(c)) return c;
      }
      if ((flags & VCPU_F_IF) === 0) continue;
      const asleep =
        s[k + KVM_VCPU.BLOCKING] === 1 &&
        s[k + KVM_VCPU.TASK] === TASK_INTERRUPTIBLE &&
        s[k + KVM_VCPU.LOADED] === 0;
      const code = asleep ? PROP.NO_LOST_WAKEUP : vcpuRunningOn(w, x) >= 0 ? PROP.NO_LOST_INTERRUPT : 0;
      if (code === 0 || !this.props.has(code)) continue;
      if (this.undeliveredAboveTpr(x)) return code;
    }
    return 0;
  }

  /** vCPU x has a posted vector that never reached its handler, in a class above its TPR's. */
  private undeliveredAboveTpr(x: number): boolean {
    const w = this.w;
    const s = w.m;
    const tpr = this.avic ? s[avicPage(w, x) + AVIC_BACKING.TPR] : s[w.L.vapic[x] + VAPIC.VTPR];
    const tprClass = prioClass(tpr & 0xff);
    for (let v = 16; v < 256; v++) {
      if (regTest(s, w.L.vcpu[x] + VCPU.POSTED, v) && !regTest(s, w.L.vcpu[x] + VCPU.DELIVERED, v)) {
        if (prioClass(v) > tprClass) return true;
      }
    }
    return false;
  }

  /**
   * Fair-cycle liveness (src/check/liveness.ts), for scenarios whose actors loop: obligation bit x
   * is pending while vCPU x has a vector that was posted and whose handler has never run (the
   * first posting of each vector: POSTED and DELIVERED only ever gain bits), and ready while vCPU x
   * could take such a vector now: it runs in guest mode with RFLAGS.IF set and the vector's class
   * is above its TPR's. A weakly fair cycle that keeps a bit pending and passes a ready state is a
   * lost interrupt. Only with no-lost-interrupt among the properties.
   */
  pending(s: Uint32Array): number {
    if (!this.props.has(PROP.NO_LOST_INTERRUPT)) return 0;
    const w = this.w;
    w.m = s;
    let bits = 0;
    for (let x = 0; x < w.machine.vcpus.length && x < 31; x++) {
      const vc = w.L.vcpu[x];
      for (let k = 0; k < 8; k++) {
        if ((s[vc + VCPU.POSTED + k] & ~s[vc + VCPU.DELIVERED + k]) !== 0) {
          bits |= 1 << x;
          break;
        }
      }
    }
    return bits;
  }

  ready(s: Uint32Array): number {
    const w = this.w;
    w.m = s;
    let bits = 0;
    for (let x = 0; x < w.machine.vcpus.length && x < 31; x++) {
      if (vcpuRunningOn(w, x) < 0 || (s[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_IF) === 0) continue;
      if (this.undeliveredAboveTpr(x)) bits |= 1 << x;
    }
    return bits;
  }

  readonly livenessCode = PROP.NO_LOST_INTERRUPT;

  /** Who performs an action and what it is, and the vCPU it acts as or on (-1: none), for traces. */
  describe(s: Uint32Array, action: number): { actor: string; vcpu: number; fn: string; label: string } {
    const A = this.actors.length;
    if (action < A) {
      const ins = this.actors[action].code[s[this.actorBase[action] + ACTOR.PC]];
      return {
        actor: ins.actor ?? this.actors[action].name,
        vcpu: ins.vcpu ?? this.actors[action].vcpu,
        fn: ins.fn,
        label: ins.label,
      };
    }
    if (action < A + this.w.machine.pcpus)
      return { actor: `pcpu${action - A}`, vcpu: -1, fn: 'lapic', label: 'dispatch' };
    const x = action - A - this.w.machine.pcpus;
    if (x < this.w.machine.vcpus.length)
      return { actor: `vcpu${x}`, vcpu: x, fn: 'guest', label: 'interrupt' };
    const i = x - this.w.machine.vcpus.length;
    return { actor: this.actors[i].name, vcpu: this.actors[i].vcpu, fn: 'store buffer', label: 'drain' };
  }
}
