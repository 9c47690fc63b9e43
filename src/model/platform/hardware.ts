/**
 * Hardware steps over the World: what the IOMMU, the local APICs and the CPUs in guest mode do.
 * Each exported step is one indivisible effect (ARCHITECTURE.md principle 2). Steps that happen on
 * their own (a pCPU's APIC dispatching a pending vector, a recognized virtual interrupt being
 * delivered) come with an `...Enabled` test, so the runner can fire them until quiescence and the
 * checker can interleave them with everything else.
 */
import { avicVmexit, avicVmrun } from '../hw/avic.ts';
import { regHighest, regSet, regTest } from '../hw/bits.ts';
import {
  CORE_BLOCK_NMI,
  CORE_BLOCK_STI,
  CORE_IF,
  coreExecute,
  maskableInterruptAllowed,
  nmiAllowed,
} from '../hw/interruptibility.ts';
import { ipivPost } from '../hw/ipiv.ts';
import {
  LAPIC,
  LAPIC_MODE_X2APIC,
  lapicAccept,
  lapicAck,
  lapicEoi,
  lapicHighestDeliverable,
  lapicSpuriousVector,
} from '../hw/lapic.ts';
import { kvmProcessNmi, NMI_VECTOR } from '../hw/nmi.ts';
import { apicIdFromNdst, piNdst, piNv } from '../hw/pid.ts';
import {
  EOI_EXIT_INDUCED,
  eoiVirtualization,
  postedInterruptProcessing,
  selfIpiVirtualization,
  setRvi,
  TPR_BELOW_THRESHOLD_EXIT,
  tprVirtualization,
  VAPIC,
  VAPIC_F_IRQ_WINDOW_EXITING,
  vapicSetIrqWindowExiting,
  vapicVid,
  virtualInterruptDeliverable,
  virtualInterruptDelivery,
  vmEntryVirtualInterrupts,
} from '../hw/vapic.ts';
import { vtdPost } from '../hw/vtd.ts';
import { EV, EXIT_REASON, type Sink } from './events.ts';
import { eoiBroadcast } from './ioapic-steps.ts';
import {
  avicPageOffset,
  HOST_IF_IN_HANDLER,
  PCPU,
  PCPU_MODE_GUEST,
  PCPU_MODE_ROOT,
  VCPU,
  VCPU_F_AUTO_EOI,
  VCPU_F_HALTED,
  VCPU_F_IF,
  VCPU_F_NMI_BLOCKED,
  VCPU_F_STI_SHADOW,
  VCPU_NMI_PENDING_MASK,
  VCPU_NMI_PENDING_SHIFT,
} from './layout.ts';
import { type Machine, POSTED_INTR_VECTOR } from './machine.ts';
import { pcpuByApicId, runningVcpu, vcpuRunningOn, type World } from './world.ts';

/**
 * A physical fixed interrupt message reaches the LAPIC with the given APIC ID (edge). `forVcpu` is
 * the vCPU a notification is meant for (-1 for other interrupts); it is recorded for the
 * wrong-vCPU property only. The model delivers messages at once: the bus adds no reordering that
 * the properties here depend on.
 */
export function sendPhysicalInterrupt(
  w: World,
  sink: Sink,
  apicId: number,
  vector: number,
  forVcpu: number,
  level = false,
): void {
  const p = pcpuByApicId(w, apicId);
  if (p < 0) {
    sink.ev(EV.PHYS_IRQ_DROPPED, apicId, vector, 0, 0);
    return;
  }
  lapicAccept(w.m, w.L.lapic[p], vector, level);
  if (forVcpu >= 0 && vector === vmcsPinv(w.machine, forVcpu)) w.m[w.L.pcpu[p] + PCPU.PI_FOR] |= 1 << forVcpu;
  sink.ev(EV.PHYS_IRQ, p, vector, forVcpu + 1, 0);
}

/**
 * An NMI message reaches the pCPU with the given APIC ID (an I/O APIC entry with delivery mode
 * NMI): no vector, no IRR or ISR bit, not masked by RFLAGS.IF (SDM Vol. 3A 11.6.1 "NMI" delivery
 * mode, 6.8.1). In guest mode it is a VM exit with basic reason EXCEPTION_NMI (KVM runs guests with
 * NMI exiting, SDM Vol. 3C 25.2) and the host's NMI handler then runs (vmx_handle_exit_irqoff); in
 * root mode the host's NMI handler runs at once. It is recorded as a host handler for vector 2.
 * The handler is one step, so the NMI blocking it holds until its IRET spans no other step.
 */
export function sendPhysicalNmi(w: World, sink: Sink, apicId: number): void {
  const p = pcpuByApicId(w, apicId);
  if (p < 0) {
    sink.ev(EV.PHYS_IRQ_DROPPED, apicId, NMI_VECTOR, 0, 0);
    return;
  }
  const x = runningVcpu(w, p);
  if (x >= 0) vmExit(w, sink, x, EXIT_REASON.EXCEPTION_NMI, NMI_VECTOR);
  sink.ev(EV.HOST_IRQ, p, NMI_VECTOR, 0, 0);
}

/**
 * The posted-interrupt notification vector of vCPU x's VMCS (SDM Vol. 3C 24.6.8): a physical
 * interrupt with this vector, taken while x runs, starts posted-interrupt processing. KVM always
 * writes POSTED_INTR_VECTOR; a scenario may choose another, as kvm-unit-tests does as L1 (0xff in
 * vmx_posted_interrupts_test).
 */
export function vmcsPinv(machine: Machine, x: number): number {
  return machine.vcpus[x].notificationVector ?? POSTED_INTR_VECTOR;
}

/** Whether v is some vCPU's notification vector (allocation-free). */
function isPinv(machine: Machine, v: number): boolean {
  if (v === POSTED_INTR_VECTOR) return true;
  for (let x = 0; x < machine.vcpus.length; x++) if (machine.vcpus[x].notificationVector === v) return true;
  return false;
}

/** Sends a descriptor's notification: vector NV to the APIC ID in NDST. */
function notify(w: World, sink: Sink, x: number): void {
  const pid = w.L.pid[x];
  sendPhysicalInterrupt(w, sink, apicIdFromNdst(piNdst(w.m, pid), w.machine.x2apic), piNv(w.m, pid), x);
}

/**
 * A device interrupt posted by VT-d to vCPU x's descriptor (VT-d 5.2.3): one atomic update, then
 * the notification if the update asked for one.
 */
export function vtdPostTo(w: World, sink: Sink, x: number, vector: number, urg: boolean): void {
  const notified = vtdPost(w.m, w.L.pid[x], vector, urg);
  regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
  sink.ev(EV.VTD_POST, x, vector, notified ? 1 : 0, 0);
  if (notified) notify(w, sink, x);
}

/**
 * An IPI posted by vCPU x's CPU to vCPU t's descriptor through the PID-pointer table (IPIv,
 * hw-semantics.md 4): one atomic update with the VT-d rule (SN honoured, no URG), then the
 * notification, NV to NDST, if the update asked for one. No VM exit.
 */
export function ipivPostTo(w: World, sink: Sink, x: number, t: number, vector: number): void {
  const notified = ipivPost(w.m, w.L.pid[t], vector);
  regSet(w.m, w.L.vcpu[t] + VCPU.POSTED, vector);
  sink.ev(EV.IPIV_POST, t, vector, notified ? 1 : 0, x);
  if (notified) notify(w, sink, t);
}

/** A pCPU's APIC has a vector to dispatch and the core takes it now (guest mode, or host IRQs on). */
export function pcpuDispatchEnabled(w: World, p: number): boolean {
  if (lapicHighestDeliverable(w.m, w.L.lapic[p]) < 0) return false;
  return w.m[w.L.pcpu[p] + PCPU.MODE] === PCPU_MODE_GUEST || w.m[w.L.pcpu[p] + PCPU.HOST_IF] === 1;
}

/**
 * The core takes the highest deliverable physical interrupt. In guest mode with APICv (external-
 * interrupt exiting and process-posted-interrupts set), the notification vector starts posted-
 * interrupt processing on the current VMCS's descriptor, and any other vector is an external-
 * interrupt VM exit (acknowledged on exit, then handled by the host). In root mode with IRQs on,
 * the host handler runs (SDM Vol. 3C "Posted-Interrupt Processing"; hw-semantics.md 2.10).
 */
export function pcpuDispatch(w: World, sink: Sink, p: number): void {
  const { m, L } = w;
  const lapic = L.lapic[p];
  const vector = lapicHighestDeliverable(m, lapic);
  const x = runningVcpu(w, p);
  // KVM sets "process posted interrupts" with virtual-interrupt delivery and clears both while
  // APICv is inhibited (vmx_pin_based_exec_ctrl, vmx_refresh_apicv_exec_ctrl).
  if (x >= 0 && w.machine.features.apicv && vapicVid(m, L.vapic[x]) && vector === vmcsPinv(w.machine, x)) {
    const intended = m[L.pcpu[p] + PCPU.PI_FOR];
    m[L.pcpu[p] + PCPU.PI_FOR] = 0;
    if ((intended & ~(1 << x)) !== 0) sink.ev(EV.PI_WRONG_VCPU, p, x, intended, 0);
    const highest = postedInterruptProcessing(m, lapic, L.pid[x], L.vapic[x]);
    sink.ev(EV.PI_PROCESS, p, x, highest, 0);
    return;
  }
  if (x >= 0) {
    vmExit(w, sink, x, EXIT_REASON.EXTERNAL_INTERRUPT, vector);
  }
  hostInterrupt(w, sink, p);
}

/** The host's handler for the highest deliverable vector: acknowledge, run, EOI if auto-EOI. */
function hostInterrupt(w: World, sink: Sink, p: number): void {
  const lapic = w.L.lapic[p];
  const v = lapicAck(w.m, lapic);
  if (v < 0) {
    sink.ev(EV.SPURIOUS, p, lapicSpuriousVector(w.m, lapic), 0, 0);
    return;
  }
  if (isPinv(w.machine, v)) w.m[w.L.pcpu[p] + PCPU.PI_FOR] = 0;
  sink.ev(EV.HOST_IRQ, p, v, 0, 0);
  w.hostHandler?.(w, sink, p, v);
  if (w.machine.hostAutoEoi) {
    lapicEoi(w.m, lapic);
    eoiBroadcast(w, sink, p, v);
    return;
  }
  // The handler goes on running: the IDT's interrupt gate cleared IF (SDM Vol. 3A 6.12.1.3), so
  // a second interrupt to this pCPU waits in IRR until the handler's IRET (at its host.eoi).
  const o = w.L.pcpu[p] + PCPU.HOST_IF;
  if (w.m[o] === 1) w.m[o] = HOST_IF_IN_HANDLER;
}

/**
 * The host's handler on pCPU p writes EOI and returns (for scenarios without host auto-EOI, whose
 * handlers end with EOI, as kvm-unit-tests' do): the IRET restores IF = 1 if the interrupt gate
 * cleared it.
 */
export function hostEoi(w: World, sink: Sink, p: number): number {
  const v = lapicEoi(w.m, w.L.lapic[p]);
  sink.ev(EV.EOI, -1 - p, v, 0, 0);
  const o = w.L.pcpu[p] + PCPU.HOST_IF;
  if (w.m[o] === HOST_IF_IN_HANDLER) w.m[o] = 1;
  eoiBroadcast(w, sink, p, v);
  return v;
}

/**
 * vCPU x's guest can take a maskable (or virtual, SDM 29.2.2) interrupt at this instruction
 * boundary: RFLAGS.IF = 1 and no blocking by STI (interruptibility.ts maskableInterruptAllowed).
 */
export function guestInterruptible(w: World, x: number): boolean {
  return maskableInterruptAllowed(vcpuCore(w, x));
}

/** vCPU x's flags as the core word of interruptibility.ts (IF and the STI shadow). */
function vcpuCore(w: World, x: number): number {
  const f = w.m[w.L.vcpu[x] + VCPU.FLAGS];
  return ((f & VCPU_F_IF) !== 0 ? CORE_IF : 0) | ((f & VCPU_F_STI_SHADOW) !== 0 ? CORE_BLOCK_STI : 0);
}

/**
 * vCPU x's guest completes an instruction: the STI shadow, if any, is over (SDM Vol. 3A 6.8.3:
 * it lasts until the instruction after STI completes).
 */
export function guestEndStiShadow(w: World, x: number): void {
  w.m[w.L.vcpu[x] + VCPU.FLAGS] &= ~VCPU_F_STI_SHADOW;
}

/** NMIs KVM holds for vCPU x (0-2). */
export function vcpuNmiPending(w: World, x: number): number {
  return nmiPending(w, x);
}

function nmiPending(w: World, x: number): number {
  return (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_NMI_PENDING_MASK) >>> VCPU_NMI_PENDING_SHIFT;
}

function setNmiPending(w: World, x: number, n: number): void {
  const o = w.L.vcpu[x] + VCPU.FLAGS;
  w.m[o] = ((w.m[o] & ~VCPU_NMI_PENDING_MASK) | (n << VCPU_NMI_PENDING_SHIFT)) >>> 0;
}

/**
 * An NMI for vCPU x reaches KVM (an ICR or I/O APIC message with delivery mode NMI: the vector is
 * ignored, no IRR bit; __apic_accept_irq -> kvm_inject_nmi, then process_nmi): KVM keeps at most
 * two while no NMI handler runs and one while one does, so more collapse (hw/nmi.ts
 * kvmProcessNmi; kvm-unit-tests apic.c test_multiple_nmi, test_pending_nmi).
 */
export function vcpuNmiArrives(w: World, x: number): void {
  const blocked = (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_NMI_BLOCKED) !== 0;
  setNmiPending(w, x, kvmProcessNmi(nmiPending(w, x), 1, blocked));
}

/**
 * vCPU x runs in guest mode and KVM can inject a pending NMI now: no NMI handler running and no
 * STI shadow (KVM's vmx_nmi_blocked treats STI blocking as blocking NMIs; hw/interruptibility.ts
 * nmiAllowed). KVM's round trip (the kick, the exit, the injection at the next entry) is not
 * shown: the injection is taken as the vCPU's next event, like a virtual interrupt.
 */
export function vcpuNmiEnabled(w: World, x: number): boolean {
  const f = w.m[w.L.vcpu[x] + VCPU.FLAGS];
  if ((f & VCPU_NMI_PENDING_MASK) === 0 || vcpuRunningOn(w, x) < 0) return false;
  return nmiAllowed(vcpuCore(w, x) | ((f & VCPU_F_NMI_BLOCKED) !== 0 ? CORE_BLOCK_NMI : 0));
}

/**
 * Injection of a pending NMI into vCPU x (VM-entry interruption type NMI with virtual NMIs, SDM
 * Vol. 3C 26.6; hw/nmi.ts injectVirtualNmi): the guest's NMI handler runs through vector 2
 * (recorded as a delivery of 0x2), NMIs stay blocked until its IRET, and HLT ends.
 */
export function vcpuNmiDeliver(w: World, sink: Sink, x: number): void {
  setNmiPending(w, x, nmiPending(w, x) - 1);
  const o = w.L.vcpu[x] + VCPU.FLAGS;
  w.m[o] = (w.m[o] | VCPU_F_NMI_BLOCKED) & ~VCPU_F_HALTED;
  sink.ev(EV.DELIVER, x, NMI_VECTOR, 2, 0);
}

/** The guest executes IRET: NMI blocking ends (SDM Vol. 3A 6.7.1; coreExecute 'iret'). */
export function guestIret(w: World, x: number): void {
  w.m[w.L.vcpu[x] + VCPU.FLAGS] &= ~VCPU_F_NMI_BLOCKED;
}

/**
 * vCPU x runs in guest mode with interrupt-window exiting set and can take an interrupt at this
 * boundary (IF = 1, no STI or MOV-SS shadow): a VM exit now, before the next instruction (SDM Vol.
 * 3C 26.7.5; interruptibility.ts interruptWindowExit). KVM sets the control while APICv is
 * inhibited (enable_irq_window for an interrupt it must inject), and a script may write it as a
 * VMWRITE (host.setLapic irqWindowExiting); no other scenario sees it.
 */
export function vcpuIrqWindowExitEnabled(w: World, x: number): boolean {
  return (
    (w.m[w.L.vapic[x] + VAPIC.FLAGS] & VAPIC_F_IRQ_WINDOW_EXITING) !== 0 &&
    vcpuRunningOn(w, x) >= 0 &&
    guestInterruptible(w, x)
  );
}

/** The interrupt-window exit of vCPU x; KVM's handler (World.irqWindowHandler) runs when set. */
export function vcpuIrqWindowExit(w: World, sink: Sink, x: number): void {
  const p = vcpuRunningOn(w, x);
  vmExit(w, sink, x, EXIT_REASON.INTERRUPT_WINDOW, 0);
  w.irqWindowHandler?.(w, sink, x, p);
}

/** vCPU x runs in guest mode and has a recognized virtual interrupt it can take now. */
export function vcpuDeliverEnabled(w: World, x: number): boolean {
  return vcpuRunningOn(w, x) >= 0 && virtualInterruptDeliverable(w.m, w.L.vapic[x], guestInterruptible(w, x));
}

/** Virtual-interrupt delivery on vCPU x: the guest handler for RVI runs; HLT ends. */
export function vcpuDeliver(w: World, sink: Sink, x: number): void {
  guestHandlerRuns(w, sink, x, virtualInterruptDelivery(w.m, w.L.vapic[x]), 0);
}

/**
 * The guest's handler for vector v starts on vCPU x, after delivery by APICv (`avic` 0), AVIC
 * (`avic` 1) or KVM's event injection at VM entry (`avic` 3, DELIVER_INJECTED): the vector counts as
 * delivered and the HLT activity state ends.
 */
export function guestHandlerRuns(w: World, sink: Sink, x: number, v: number, avic: number): void {
  const vc = w.L.vcpu[x];
  regSet(w.m, vc + VCPU.DELIVERED, v);
  w.m[vc + VCPU.FLAGS] &= ~VCPU_F_HALTED;
  sink.ev(EV.DELIVER, x, v, avic, 0);
}

/** guestHandlerRuns's `avic` for an interrupt KVM injected at VM entry (SDM Vol. 3C 27.6). */
export const DELIVER_INJECTED = 3;

/** A guest whose handlers EOI at once has a vector in service. */
export function vcpuAutoEoiEnabled(w: World, x: number): boolean {
  return (
    (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_AUTO_EOI) !== 0 &&
    vcpuRunningOn(w, x) >= 0 &&
    w.m[w.L.vapic[x] + VAPIC.SVI] !== 0
  );
}

/**
 * Whether vCPU x's local APIC is in x2APIC mode now: with the guests' own APIC registers
 * (machine.apicRegisters) its IA32_APIC_BASE.EXTD, which the guest may have changed (SDM Vol. 3A
 * 11.12.5), else the machine's mode.
 */
function inX2apicMode(w: World, x: number): boolean {
  const ga = w.L.guestApic;
  return ga === undefined ? w.machine.x2apic : w.m[ga[x] + LAPIC.MODE] === LAPIC_MODE_X2APIC;
}

/**
 * The guest writes EOI (x2APIC MSR 80BH with 0, or xAPIC offset 0B0H): EOI virtualization, which
 * may end in an EOI-induced VM exit. Without virtual-interrupt delivery (`apicv` off) the write is
 * not virtualized (SDM x.4.3.1, x.5): WRMSR 80BH is an MSR-write exit (KVM intercepts it then), and
 * the xAPIC write at 0B0H an APIC-write exit, as with APIC-register virtualization on and VID off
 * (guestWriteIcr takes the same view of offset 300H). The model stops at the exit, as for the ICR:
 * the EOI that KVM would emulate afterwards is not part of it.
 */
export function guestEoi(w: World, sink: Sink, x: number): void {
  if (!w.machine.features.apicv) {
    const x2apic = inX2apicMode(w, x);
    vmExit(w, sink, x, x2apic ? EXIT_REASON.MSR_WRITE : EXIT_REASON.APIC_WRITE, x2apic ? 0x80b : 0xb0);
    return;
  }
  const r = eoiVirtualization(w.m, w.L.vapic[x]);
  sink.ev(EV.EOI, x, r & 0xff, 0, 0);
  if ((r & EOI_EXIT_INDUCED) !== 0) {
    const p = vcpuRunningOn(w, x);
    vmExit(w, sink, x, EXIT_REASON.EOI_INDUCED, r & 0xff);
    w.eoiInducedHandler?.(w, sink, x, p, r & 0xff);
  }
}

/**
 * The guest writes its TPR (CR8, 080H or MSR 808H): TPR virtualization, which the TPR shadow does
 * with or without virtual-interrupt delivery (SDM x.1.2). With VID, PPR virtualization and
 * evaluation of pending virtual interrupts follow. Without VID (`apicv` off) only VTPR changes, and
 * a VTPR class below the TPR threshold is a trap-like TPR-below-threshold exit (vapic.ts).
 */
export function guestWriteTpr(w: World, sink: Sink, x: number, tpr: number): void {
  if (tprVirtualization(w.m, w.L.vapic[x], tpr) === TPR_BELOW_THRESHOLD_EXIT) {
    vmExit(w, sink, x, EXIT_REASON.TPR_BELOW_THRESHOLD, 0);
  }
}

/**
 * The guest writes the x2APIC SELF IPI MSR (83FH): self-IPI virtualization; a vector below 16 is
 * not virtualized and exits as an APIC write at offset 3F0H (SDM x.1.5, Bochs vapic.cc). Without
 * virtual-interrupt delivery (`apicv` off) WRMSR 83FH is not virtualized at all (SDM x.5): it is an
 * MSR-write exit, as guestWriteIcr's is for 830H. (The scenario loader accepts guest.selfIpi only
 * in x2APIC mode; the xAPIC branch mirrors guestWriteIcr's APIC-write exit for completeness.)
 */
export function guestSelfIpi(w: World, sink: Sink, x: number, vector: number): void {
  if (!w.machine.features.apicv) {
    const x2apic = inX2apicMode(w, x);
    vmExit(w, sink, x, x2apic ? EXIT_REASON.MSR_WRITE : EXIT_REASON.APIC_WRITE, x2apic ? 0x83f : 0x3f0);
    return;
  }
  if (vector < 16) {
    vmExit(w, sink, x, EXIT_REASON.APIC_WRITE, 0x3f0);
    return;
  }
  selfIpiVirtualization(w.m, w.L.vapic[x], vector);
  regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
  sink.ev(EV.SELF_IPI, x, vector, 0, 0);
}

/** The fields of a guest ICR write that the model acts on (decoded by icr.ts). */
export interface IcrWrite {
  vector: number;
  deliveryMode: number;
  logical: boolean;
  levelTriggered: boolean;
  shorthand: number;
  dest: number;
}

/** Index of the vCPU with a given APIC ID, or -1. */
export function vcpuByApicId(w: World, apicId: number): number {
  return w.machine.vcpus.findIndex((c) => c.apicId === apicId);
}

/**
 * What the CPU does with a guest ICR write, decided by the machine and the message alone: `self`,
 * self-IPI virtualization (shorthand self, fixed, edge: in xAPIC mode APIC-write emulation at 300H
 * virtualizes it, SDM Vol. 3C 29.4.3.3; in x2APIC mode WRMSR 830H is virtualized only under IPI
 * virtualization, 29.5, so with APICv alone KVM's MSR bitmap intercepts it, self IPI included;
 * x2apic-msr.ts kvmX2apicMsrAccess); `ipiv`, posted by this CPU (a physical, fixed, edge, unicast
 * IPI to a vCPU in the PID-pointer table); `exit`, everything else: an MSR-write exit for the
 * x2APIC ICR or an APIC-write exit at offset 300H for the xAPIC page, which KVM emulates.
 */
export function icrWritePath(machine: Machine, icr: IcrWrite): 'self' | 'ipiv' | 'exit' {
  const fixedEdge = icr.deliveryMode === 0 && !icr.levelTriggered;
  const icrVirtualized = machine.features.apicv && (!machine.x2apic || machine.features.ipiv);
  if (icr.shorthand === 1 && fixedEdge && icrVirtualized) return 'self';
  if (
    machine.features.ipiv &&
    fixedEdge &&
    icr.shorthand === 0 &&
    !icr.logical &&
    machine.vcpus.some((c) => c.apicId === icr.dest)
  )
    return 'ipiv';
  return 'exit';
}

/**
 * The guest writes the ICR (icrWritePath says how the CPU takes it). This step stops at the exit;
 * KVM's emulation of an exiting write is the program's next steps (fastpath.ts emitIcrExit).
 */
export function guestWriteIcr(
  w: World,
  sink: Sink,
  x: number,
  icr: IcrWrite,
  mode: Machine = w.machine,
): void {
  // `mode`: the machine as seen from the vCPU's APIC mode now (a vCPU that left the machine's mode
  // on an apicRegisters machine writes the ICR through its own mode's interface).
  switch (icrWritePath(mode, icr)) {
    case 'self':
      guestSelfIpi(w, sink, x, icr.vector);
      return;
    case 'ipiv':
      if (icr.vector < 16) {
        sink.ev(EV.ILLEGAL_VECTOR, x, icr.vector, 0, 0);
        return;
      }
      ipivPostTo(w, sink, x, vcpuByApicId(w, icr.dest), icr.vector);
      return;
    case 'exit': {
      // WRMSR 830H exits as an MSR write only where KVM intercepts it: under IPIv it does not, and
      // APIC-write emulation gives an APIC-write exit at 300H (x2apic-msr.ts icrWriteEmulation).
      const msrExit = mode.x2apic && !mode.features.ipiv;
      vmExit(w, sink, x, msrExit ? EXIT_REASON.MSR_WRITE : EXIT_REASON.APIC_WRITE, msrExit ? 0x830 : 0x300);
    }
  }
}

/** The guest APIC registers a host-side write sets (KVM_SET_LAPIC, or a VMWRITE of RVI/SVI). */
export interface HostLapicWrite {
  tpr?: number;
  irr?: readonly number[];
  isr?: readonly number[];
  rvi?: number;
  svi?: number;
  /** A VMWRITE of the interrupt-window exiting control (primary processor-based bit 2). */
  irqWindowExiting?: boolean;
}

/**
 * Userspace or KVM writes vCPU x's APIC state while the vCPU is not in guest mode. KVM_SET_LAPIC
 * (kvm_apic_set_state) replaces the register page: TPR, IRR and ISR as given; with APICv it then
 * writes RVI from the highest IRR and SVI from the highest ISR (vmx_hwapic_irr_update,
 * vmx_hwapic_isr_update). `rvi` and `svi` write the guest-interrupt status on their own, as a
 * VMWRITE does (kvm-unit-tests vmx_basic_vid_test). Nothing is evaluated now: the next VM entry
 * does PPR virtualization and the evaluation of pending virtual interrupts (SDM 26.3.2.5).
 */
export function hostSetLapic(w: World, x: number, st: HostLapicWrite): void {
  const { m } = w;
  const o = w.L.vapic[x];
  if (st.tpr !== undefined) m[o + VAPIC.VTPR] = st.tpr & 0xff;
  if (st.irr !== undefined) {
    m.fill(0, o + VAPIC.VIRR, o + VAPIC.VIRR + 8);
    for (const v of st.irr) {
      regSet(m, o + VAPIC.VIRR, v);
      regSet(m, w.L.vcpu[x] + VCPU.POSTED, v);
    }
    setRvi(m, o, regHighest(m, o + VAPIC.VIRR));
  }
  if (st.isr !== undefined) {
    m.fill(0, o + VAPIC.VISR, o + VAPIC.VISR + 8);
    for (const v of st.isr) regSet(m, o + VAPIC.VISR, v);
    m[o + VAPIC.SVI] = Math.max(0, regHighest(m, o + VAPIC.VISR));
  }
  if (st.rvi !== undefined) setRvi(m, o, st.rvi);
  if (st.svi !== undefined) m[o + VAPIC.SVI] = st.svi & 0xff;
  if (st.irqWindowExiting !== undefined) vapicSetIrqWindowExiting(m, o, st.irqWindowExiting);
}

/**
 * The guest executes STI (`on`) or CLI. STI with IF = 0 also blocks interrupts until the next
 * instruction completes (coreExecute 'sti'; SDM Vol. 3A 6.8.3); STI with IF = 1 does not. The
 * caller ends the shadow when the guest's next instruction completes (guestEndStiShadow).
 */
export function guestSetIf(w: World, x: number, on: boolean): void {
  const o = w.L.vcpu[x] + VCPU.FLAGS;
  const core = coreExecute(vcpuCore(w, x), on ? 'sti' : 'cli');
  w.m[o] = (w.m[o] & ~(VCPU_F_IF | VCPU_F_STI_SHADOW)) >>> 0;
  if ((core & CORE_IF) !== 0) w.m[o] |= VCPU_F_IF;
  if ((core & CORE_BLOCK_STI) !== 0) w.m[o] |= VCPU_F_STI_SHADOW;
}

/** The guest executes HLT without HLT exiting: the activity state becomes HLT until an interrupt. */
export function guestHlt(w: World, x: number): void {
  w.m[w.L.vcpu[x] + VCPU.FLAGS] |= VCPU_F_HALTED;
}

/**
 * VM entry of vCPU x on pCPU p: the VMCS becomes current, the pCPU enters non-root mode, RVI/SVI
 * are evaluated (SDM 26.3.2.5). The descriptor is not looked at: a notification still pending in
 * the physical IRR is taken right after entry, as posted-interrupt processing (a separate step).
 * On an AVIC machine it is VMRUN, which evaluates the vCPU's backing page instead (APM 15.29;
 * avicVmrun): pending IRR bits need no doorbell to be seen. "VMCS" then stands for the VMCB.
 */
export function vmEntry(w: World, sink: Sink, x: number, p: number): void {
  const { m, L } = w;
  m[L.vcpu[x] + VCPU.PCPU] = p + 1;
  m[L.pcpu[p] + PCPU.VMCS] = x + 1;
  m[L.pcpu[p] + PCPU.MODE] = PCPU_MODE_GUEST;
  if (L.avic === undefined) vmEntryVirtualInterrupts(m, L.vapic[x]);
  else avicVmrun(m, avicPageOffset(L.avic, x));
  sink.ev(EV.VMENTRY, x, p, 0, 0);
}

/**
 * VM exit of vCPU x: the pCPU it runs on returns to root mode; the VMCS stays current (loaded).
 * On an AVIC machine it is #VMEXIT, which forgets the vector the core had recognized.
 * Only a vCPU in guest mode can exit. For one that is not (a guest operation of a vCPU that is not
 * running, which the runner does not forbid), no pCPU is touched: whatever runs on the pCPU it is
 * loaded on goes on running. The exit is still reported, with pCPU -1, so that traces show it.
 */
export function vmExit(w: World, sink: Sink, x: number, reason: number, qualification: number): void {
  const p = vcpuRunningOn(w, x);
  if (p >= 0) w.m[w.L.pcpu[p] + PCPU.MODE] = PCPU_MODE_ROOT;
  // #VMEXIT with AVIC: the core keeps no recognized vector; the next VMRUN evaluates again.
  if (p >= 0 && w.L.avic !== undefined) avicVmexit(w.m, avicPageOffset(w.L.avic, x));
  sink.ev(EV.VMEXIT, x, p, reason, qualification);
}

export function hostSetIf(w: World, p: number, on: boolean): void {
  w.m[w.L.pcpu[p] + PCPU.HOST_IF] = on ? 1 : 0;
}

/** True when the vector is pending or in service in a pCPU's LAPIC (for tests and monitors). */
export function lapicHas(w: World, p: number, reg: 'IRR' | 'ISR', v: number): boolean {
  return regTest(w.m, w.L.lapic[p] + LAPIC[reg], v);
}
