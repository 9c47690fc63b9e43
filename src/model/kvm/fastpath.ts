/**
 * A guest x2APIC ICR write (WRMSR 830H, intercepted without IPIv), handled either in the full exit
 * path or in the IRQs-off exit fastpath (seed 003; kvm-semantics.md section 6):
 *
 * full-exit: VM exit; vcpu->mode = OUTSIDE_GUEST_MODE; IRQs on; srcu_read_lock (two full
 *   barriers: "the expensive bit", Paolo Bonzini in seed 003); emulate WRMSR and deliver the IPI
 *   (kvm_x2apic_icr_write -> kvm_apic_send_ipi -> vmx_deliver_posted_interrupt); then a new
 *   vcpu_enter_guest (srcu_read_unlock, IRQs off, IN_GUEST_MODE, sync PIR, VM entry).
 * fastpath: VM exit with IRQs still off and vcpu->mode still IN_GUEST_MODE;
 *   handle_fastpath_wrmsr -> kvm_x2apic_icr_write_fast delivers at once; EXIT_FASTPATH_REENTER_GUEST
 *   syncs PIR and re-enters (1e9e2622a149, then the 2020 "ultra fastpath").
 */
import {
  DELIVERY_MODE,
  DEST_MODE,
  type DeliveryMode,
  DFR_CLUSTER,
  DFR_FLAT,
  kvmIpiDestinations,
  type LapicInfo,
  type Shorthand,
} from '../hw/icr.ts';
import { EXIT_REASON } from '../platform/events.ts';
import { type IcrWrite, ipivPostTo, vcpuNmiArrives, vmExit } from '../platform/hardware.ts';
import type { Machine } from '../platform/machine.ts';
import type { World } from '../platform/world.ts';
import { vcpuRunningOn } from '../platform/world.ts';
import { emitAvicIcrWrite } from './avic.ts';
import { emitDeliverPostedInterrupt } from './deliver.ts';
import {
  emitEnterGuest,
  emitExitToHost,
  emitSyncPirToIrr,
  emitVmExitStep,
  vmEntryStep,
} from './enter-guest.ts';
import { guestApicAccepts } from './guest-apic.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU } from './state.ts';
import type { Variant } from './variants.ts';

/**
 * Emits the handling of a guest ICR write by vCPU x of a fixed, physical IPI to vCPU `target`.
 * With IPIv the x2APIC ICR is not intercepted: the CPU posts the IPI itself, without a VM exit.
 * With AMD AVIC the CPU sends it too, and exits only when the target is not running (avic.ts).
 */
export function emitIcrWrite(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  target: number,
  dest: number,
  vector: number,
): void {
  if (b.avic) {
    emitAvicIcrWrite(b, v, x, [target], dest, vector);
    return;
  }
  if (b.features.ipiv) {
    emitIpivIcrWrite(b, x, target, vector);
    return;
  }
  emitIcrExit(b, v, x, [target], vector, true);
}

/**
 * Emits the handling of a guest x2APIC ICR write by vCPU x of a fixed IPI with shorthand
 * all-excluding-self (ICR bits 19:18 = 11b) to `targets`, every other vCPU as KVM resolves the
 * message (kvmIcrTargets): Linux's apic->send_IPI_allbutself when it uses the shorthand.
 * - AVIC: the sending CPU sends it to every valid entry, and exits when one was not running
 *   (emitAvicIcrWrite).
 * - IPIv: IPI virtualization handles only physical, fixed, edge, no-shorthand IPIs (SDM Vol. 3C
 *   "IPI Virtualization"; hw-semantics.md 4): the write is a trap-like APIC-write VM exit with
 *   qualification 300H even in x2APIC mode (x2apic-msr.ts icrWriteEmulation), which KVM handles
 *   in the full path (handle_apic_write -> kvm_apic_write_nodecode -> kvm_x2apic_icr_write); the
 *   exit fastpath only takes MSR-write exits.
 * - otherwise WRMSR 830H is an MSR-write exit, and the fastpath declines it: it takes only
 *   no-shorthand, physical, fixed IPIs to one destination (1e9e2622a149, later also not
 *   X2APIC_BROADCAST; kvm-semantics.md 6), so KVM handles it in the full path whatever the
 *   icrWrite knob says. (Sean Christopherson's 2025 series dropped those restrictions; the model
 *   follows the merged 2019-2020 fastpath the knob is about.)
 * Either way kvm_irq_delivery_to_apic delivers to each target in turn.
 */
export function emitIcrBroadcast(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  targets: readonly number[],
  vector: number,
): void {
  if (b.avic) {
    emitAvicIcrWrite(b, v, x, targets, 0, vector, 3);
    return;
  }
  // emitIcrExit's `x2apic` false is the APIC-write exit at 300H, which IPIv gives in x2APIC mode.
  if (b.features.ipiv) emitIcrExit(b, v, x, targets, vector, false);
  else
    emitIcrExit(
      b,
      v.icrWrite === 'full-exit' ? v : { ...v, icrWrite: 'full-exit' },
      x,
      targets,
      vector,
      true,
    );
}

/**
 * The VM exit of an intercepted guest ICR write by vCPU x and KVM's emulation of it: x2APIC WRMSR
 * 830H is an MSR-write exit (SDM Vol. 3C 29.5: only TPR, EOI and SELF IPI are virtualized without
 * IPIv), handled in the fastpath or the full path per the `icrWrite` knob; an xAPIC write to
 * offset 300H is a trap-like APIC-write exit (SDM 29.4.3.3), which KVM handles in the full path
 * (handle_apic_write -> kvm_apic_write_nodecode -> kvm_lapic_reg_write). Either way KVM delivers
 * the IPI to each of `targets` (kvm_x2apic_icr_write / kvm_apic_send_ipi ->
 * kvm_irq_delivery_to_apic -> kvm_apic_set_irq -> __apic_accept_irq, which with APICv is
 * vmx_deliver_posted_interrupt) and enters the guest again. `targets` are the vCPUs the message
 * reaches as KVM resolves it (icr.ts kvmIpiDestinations); an empty list delivers nothing (a
 * non-fixed delivery mode the model does not emulate, or no matching APIC).
 */
export function emitIcrExit(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  targets: readonly number[],
  vector: number,
  x2apic: boolean,
  nmi = false,
  isTarget?: (w: World, t: number) => boolean,
): void {
  const deliver = (t: number) => {
    // With run-time APIC IDs (machine.apicRegisters) each candidate is matched when KVM sends.
    const skip = b.fresh('not_target');
    if (isTarget !== undefined) {
      const tSkip = b.target(skip);
      b.step('kvm_irq_delivery_to_apic', `match vcpu${t}`, (w) => (isTarget(w, t) ? NEXT : tSkip.pc));
    }
    if (nmi) emitInjectNmi(b, t);
    else emitDeliverPostedInterrupt(b, v, t, vector, x);
    b.mark(skip);
  };
  if (x2apic) emitVmExitStep(b, x, 'vmexit (WRMSR 0x830)', EXIT_REASON.MSR_WRITE, 0x830);
  else if (b.apicvInhibitable)
    // While APICv is inhibited the APIC-access page is unmapped: the write faults into KVM's MMIO
    // emulation (an EPT violation) instead of a trap-like APIC-write exit (apicv-inhibit.ts).
    b.step(
      'vmx_vcpu_run',
      'vmexit (xAPIC ICR write 0x300)',
      (w, _a, sink) => {
        const off = w.m[w.L.kvmVcpu[x] + KVM_VCPU.APICV_ACTIVE] === 0;
        vmExit(w, sink, x, off ? EXIT_REASON.EPT_VIOLATION : EXIT_REASON.APIC_WRITE, 0x300);
        return NEXT;
      },
      (w) => vcpuRunningOn(w, x) >= 0,
    ).exits();
  else emitVmExitStep(b, x, 'vmexit (APIC write 0x300)', EXIT_REASON.APIC_WRITE, 0x300);
  if (x2apic && v.icrWrite === 'fastpath') {
    // handle_fastpath_wrmsr -> kvm_x2apic_icr_write_fast: still IRQs off, still IN_GUEST_MODE.
    for (const t of targets) deliver(t);
    if (v.fastpathReentrySync === 'present') emitSyncPirToIrr(b, v, x);
    // EXIT_FASTPATH_REENTER_GUEST re-enters unless kvm_vcpu_exit_request; then the exit is handled
    // in the full path, which ends in a new vcpu_enter_guest.
    const full = b.fresh('fastpath_exit');
    const end = b.fresh('fastpath_end');
    vmEntryStep(b, x, b.target(full), b.target(end));
    b.mark(full);
    emitEnterGuest(b, v, x);
    b.mark(end);
    return;
  }
  emitExitToHost(b, x);
  b.step('vcpu_enter_guest', 'srcu_read_lock', () => NEXT).barriers(2);
  for (const t of targets) deliver(t);
  emitEnterGuest(b, v, x);
}

/**
 * An NMI message accepted for vCPU t (__apic_accept_irq, APIC_DM_NMI -> kvm_inject_nmi): KVM
 * queues it, and process_nmi keeps at most two (hardware.ts vcpuNmiArrives). The kick that makes
 * a running target exit so that the NMI is injected at its next entry is not a step of its own.
 */
function emitInjectNmi(b: ProgramBuilder, t: number): void {
  b.step('kvm_inject_nmi', `queue NMI for vcpu${t}`, (w) => {
    if (guestApicAccepts(w, t, DELIVERY_MODE.NMI)) vcpuNmiArrives(w, t);
    return NEXT;
  });
}

/**
 * The vCPUs an ICR write by vCPU x reaches as KVM resolves it (kvm_apic_send_ipi ->
 * kvm_irq_delivery_to_apic; icr.ts kvmIpiDestinations): by the machine's APIC IDs and, in xAPIC
 * mode, each vCPU's LDR and DFR; lowest priority by vector hashing (kvm.vector_hashing, on by
 * default). Every APIC counts as software-enabled. Fixed, lowest-priority and NMI messages are
 * emulated; SMI, INIT and SIPI give no target here (the model has no SMM or wait-for-SIPI state).
 */
export function kvmIcrTargets(machine: Machine, x: number, icr: IcrWrite): number[] {
  if (
    icr.deliveryMode !== DELIVERY_MODE.FIXED &&
    icr.deliveryMode !== DELIVERY_MODE.LOWEST_PRIORITY &&
    icr.deliveryMode !== DELIVERY_MODE.NMI
  )
    return [];
  const mode = machine.x2apic ? 'x2apic' : 'xapic';
  const apics: LapicInfo[] = machine.vcpus.map((c) => ({
    apicId: c.apicId,
    mode,
    ldr: c.ldr ?? 0,
    dfr: c.dfr === 'cluster' ? DFR_CLUSTER : DFR_FLAT,
  }));
  return kvmIpiDestinations(
    {
      deliveryMode: icr.deliveryMode as DeliveryMode,
      vector: icr.vector,
      destMode: icr.logical ? DEST_MODE.LOGICAL : DEST_MODE.PHYSICAL,
      shorthand: icr.shorthand as Shorthand,
      dest: icr.dest,
    },
    mode,
    x,
    apics,
    apics.map(() => true),
    { vectorHashing: true },
  );
}

/**
 * IPI virtualization (hw-semantics.md 4; KVM's IPIv series, Zeng Guang and Chao Gao, 5.19): KVM
 * passes WRMSR 830H through, and a fixed, physical, unicast IPI to a vCPU in the PID-pointer table
 * is posted by the sending CPU with the VT-d rule (PIR set; ON, and NV to NDST, only if ON and SN
 * were clear), as one guest instruction.
 */
function emitIpivIcrWrite(b: ProgramBuilder, x: number, target: number, vector: number): void {
  b.step(
    'guest',
    'WRMSR 0x830 (IPIv)',
    (w, _a, sink) => {
      ipivPostTo(w, sink, x, target, vector);
      return NEXT;
    },
    (w) => vcpuRunningOn(w, x) >= 0,
  );
}
