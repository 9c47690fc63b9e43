/**
 * vcpu_enter_guest (arch/x86/kvm/x86.c) up to VM entry, with vmx_sync_pir_to_irr in it, and the
 * way back out (kvm-semantics.md sections 1 and 2). The order matters: IRQs are disabled before
 * IN_GUEST_MODE is published, so a notification sent by a sender that saw IN_GUEST_MODE stays
 * pending in the physical IRR and is processed as posted interrupts right after entry.
 */
import { prioClass, processorPriority, regClear, regHighest, regSet } from '../hw/bits.ts';
import { PID, piClearOn, piIsPirEmpty, piTestOn } from '../hw/pid.ts';
import { setRvi, VAPIC } from '../hw/vapic.ts';
import {
  DELIVER_INJECTED,
  guestHandlerRuns,
  guestInterruptible,
  vmEntry,
  vmExit,
} from '../platform/hardware.ts';
import { PCPU } from '../platform/layout.ts';
import { vcpuRunningOn, type World } from '../platform/world.ts';
import { emitVcpuUpdateApicv } from './apicv.ts';
import { kvmInjectPendingIrq } from './apicv-inhibit.ts';
import { emitPirHarvest } from './harvest.ts';
import { ACTOR, NEXT, type ProgramBuilder, RESUME } from './program.ts';
import {
  KVM_REQ_EVENT,
  KVM_VCPU,
  kvmVcpu,
  MODE_EXITING_GUEST,
  MODE_IN_GUEST,
  MODE_OUTSIDE_GUEST,
} from './state.ts';
import { ownLoad, plainStore } from './tso.ts';
import type { Variant } from './variants.ts';

/** vcpu->cpu as vCPU x's own thread (at `a`) reads it: from its store buffer under TSO (tso.ts). */
export function ownCpu(w: World, a: number, tso: boolean, x: number): number {
  return ownLoad(w, a, tso, kvmVcpu(w, x) + KVM_VCPU.CPU) - 1;
}

/**
 * vmx_sync_pir_to_irr: test the gate, clear ON, harvest PIR into vIRR word by word
 * (__kvm_apic_update_irr with the `harvest` knob's shape, harvest.ts), write RVI.
 *
 * Each exchanged PIR word is ORed into vIRR at its exchange step, where the kernel first collects
 * the words in a local copy and merges them into vIRR after the last exchange (a try_cmpxchg loop
 * per vIRR chunk). Nobody can tell the difference: vIRR is written only by this thread, which holds
 * vcpu->mutex, and by senders without APICv, which only add bits (kvm_lapic_set_irr); it is read
 * only by this thread and by the CPU while the vCPU is in guest mode, and the sync runs in root
 * mode. So a bit is in vIRR at the merge in the kernel exactly when it is in the model.
 *
 * The highest IRR that RVI gets (vmx_set_rvi; -1 is written as 0): with ON clear,
 * kvm_lapic_find_highest_irr, a scan of vIRR; after a harvest, the highest vIRR vector after the
 * merge, except that with `emptyHarvest: early-return-skips-virr` a harvest that found PIR empty
 * reports -1 (b41f8638b9d3; the race of checklist S000-b: a second sync after a sender set ON
 * again harvests nothing and writes RVI 0 with a vector in vIRR).
 */
export function emitSyncPirToIrr(b: ProgramBuilder, v: Variant, x: number): void {
  const fn = 'vmx_sync_pir_to_irr';
  const noPir = b.fresh('no_pir');
  const tNoPir = b.target(noPir);
  const apicv = b.apicv;
  const inhibitable = b.apicvInhibitable;
  const earlyReturn = apicv && v.emptyHarvest === 'early-return-skips-virr';
  const empty = b.fresh('harvest_empty');
  const done = b.fresh('sync_done');
  const tDone = b.target(done);
  // The gate is a plain load: under TSO it may run before an earlier store is visible.
  if (v.syncGate === 'on-only') {
    b.step(fn, 'pi_test_on', (w) => (piTestOn(w.m, w.L.pid[x]) ? NEXT : tNoPir.pc)).passesStores();
  } else {
    b.step(fn, 'pi_is_pir_empty', (w) => (piIsPirEmpty(w.m, w.L.pid[x]) ? tNoPir.pc : NEXT)).passesStores();
  }
  const clearOn = () =>
    b
      .step(fn, 'pi_clear_on', (w) => {
        piClearOn(w.m, w.L.pid[x]);
        return NEXT;
      })
      .barriers(1);
  const harvest = () =>
    emitPirHarvest(b, {
      fn: v.harvest === 'u64-loads-then-xchg' ? 'pi_harvest_pir' : '__kvm_apic_update_irr',
      shape: v.harvest,
      pir: (w) => w.L.pid[x] + PID.PIR,
      take: (w, _a, i, val) => {
        if (val === 0) return;
        w.m[w.L.vapic[x] + VAPIC.VIRR + i] |= val;
        // Without APICv there is no RVI to write: a harvested vector makes a KVM_REQ_EVENT request
        // instead, so that it is injected (vmx_sync_pir_to_irr).
        // The same for a vCPU whose APICv was inhibited at run time: a vector posted to PIR while
        // APICv was still active (the sender saw it active) is injected from vIRR after this
        // harvest (vmx_sync_pir_to_irr: got_posted_interrupt without kvm_vcpu_apicv_active).
        if (!apicv || (inhibitable && w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] === 0))
          w.m[kvmVcpu(w, x) + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
      },
      empty: earlyReturn ? b.target(empty) : undefined,
    });
  if (v.syncOrder === 'clear-on-then-harvest') {
    clearOn();
    harvest();
  } else {
    harvest();
    clearOn();
  }
  b.mark(noPir);
  if (!apicv) {
    b.mark(empty);
    b.mark(done);
    return;
  }
  // A VMWRITE to this vCPU's own VMCS: state no other CPU reads. vmx_sync_pir_to_irr writes RVI
  // only while APICv is active (kvm_vcpu_apicv_active); an inhibited vCPU's KVM injects instead.
  b.step('vmx_set_rvi', 'write_rvi', (w) => {
    if (inhibitable && w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] === 0) return tDone.pc;
    setRvi(w.m, w.L.vapic[x], regHighest(w.m, w.L.vapic[x] + VAPIC.VIRR));
    return tDone.pc;
  }).passesStores();
  b.mark(empty);
  if (earlyReturn) {
    // The mutated order clears ON after the harvest, also after an empty one.
    if (v.syncOrder !== 'clear-on-then-harvest') clearOn();
    b.step('vmx_set_rvi', 'write_rvi (max_irr -1)', (w) => {
      setRvi(w.m, w.L.vapic[x], -1);
      return NEXT;
    }).passesStores();
  }
  b.mark(done);
}

/**
 * The PPR as KVM's emulated APIC computes it (apic_update_ppr): from TPR and the highest vector
 * in service (SDM 11.8.3.1; processorPriority). With APICv the CPU keeps the same value in VPPR.
 */
export function apicPpr(w: World, x: number): number {
  const vapic = w.L.vapic[x];
  return processorPriority(w.m[vapic + VAPIC.VTPR], Math.max(0, regHighest(w.m, vapic + VAPIC.VISR)));
}

/**
 * kvm_check_and_inject_events on the path without APICv (arch/x86/kvm/x86.c): on KVM_REQ_EVENT,
 * if nothing is queued yet and the guest can take an interrupt (RFLAGS.IF) whose class is above
 * the PPR's, acknowledge it in the emulated APIC (vIRR to vISR, kvm_apic_ack_interrupt) and queue
 * it for VM-entry injection. An interrupt the guest cannot take yet would open an IRQ window
 * (not modelled: seed 002's territory).
 */
function emitCheckAndInjectEvents(b: ProgramBuilder, x: number): void {
  b.step('vcpu_enter_guest', 'kvm_check_and_inject_events', (w) => {
    const k = kvmVcpu(w, x);
    if ((w.m[k + KVM_VCPU.REQUESTS] & KVM_REQ_EVENT) === 0) return NEXT;
    w.m[k + KVM_VCPU.REQUESTS] &= ~KVM_REQ_EVENT;
    const vapic = w.L.vapic[x];
    const v = regHighest(w.m, vapic + VAPIC.VIRR);
    // vmx_interrupt_blocked: RFLAGS.IF and no STI or MOV-SS blocking in the interruptibility state.
    const allowed = guestInterruptible(w, x);
    if (w.m[k + KVM_VCPU.INJECT] !== 0 || !allowed || v < 0) return NEXT;
    if (prioClass(v) <= prioClass(apicPpr(w, x))) return NEXT;
    regClear(w.m, vapic + VAPIC.VIRR, v);
    regSet(w.m, vapic + VAPIC.VISR, v);
    w.m[k + KVM_VCPU.INJECT] = v;
    return NEXT;
  });
}

/**
 * From the top of vcpu_enter_guest to VM entry; the guest then runs on pCPU vcpu->cpu. With
 * `then`, the VM entry jumps there instead of falling through. On an AVIC machine the top serves
 * KVM_REQ_APICV_UPDATE (apicv.ts), and there is no PIR to sync: SVM has no sync_pir_to_irr, AVIC
 * keeps pending vectors in the backing page's IRR.
 */
export function emitEnterGuest(b: ProgramBuilder, v: Variant, x: number, then?: { pc: number }): void {
  const fn = 'vcpu_enter_guest';
  const top = b.fresh('enter_top');
  const tTop = b.target(top);
  b.mark(top);
  if (b.avic) emitVcpuUpdateApicv(b, x);
  else if (!b.apicv) emitCheckAndInjectEvents(b, x);
  else if (b.apicvInhibitable)
    // APICv inhibited at run time (apicv-inhibit.ts): KVM injects, or opens an interrupt window.
    // With APICv active the CPU delivers from vIRR, and the request is only consumed.
    b.step('vcpu_enter_guest', 'kvm_check_and_inject_events', (w) => {
      const k = kvmVcpu(w, x);
      if (w.m[k + KVM_VCPU.APICV_ACTIVE] === 0) kvmInjectPendingIrq(w, x);
      else w.m[k + KVM_VCPU.REQUESTS] &= ~KVM_REQ_EVENT;
      return NEXT;
    });
  const tso = b.memory === 'tso';
  // Clearing RFLAGS.IF is no memory access: it passes buffered stores.
  b.step(fn, 'local_irq_disable', (w, a) => {
    w.m[w.L.pcpu[ownCpu(w, a, tso, x)] + PCPU.HOST_IF] = 0;
    return NEXT;
  }).passesStores();
  // smp_store_release(&vcpu->mode, IN_GUEST_MODE): a plain store on x86, so under TSO it can sit
  // in the store buffer while the loads that follow run (tso.ts).
  b.step(fn, 'store_mode_in_guest', (w, a) => {
    plainStore(w, a, tso, kvmVcpu(w, x) + KVM_VCPU.MODE, MODE_IN_GUEST);
    return NEXT;
  }).passesStores();
  // smp_mb__after_srcu_read_unlock: the full barrier that orders the mode store before the read of
  // ON (the store-buffering pattern against vmx_deliver_posted_interrupt). Under sequential
  // consistency it has no effect and is only counted; under TSO it is a step that waits for the
  // store buffer to drain. The `mbAfterMode: missing` mutation (checklist X1) leaves it out.
  if (v.mbAfterMode === 'present') {
    if (tso) b.step(fn, 'smp_mb__after_srcu_read_unlock', () => NEXT).barriers(1);
    else b.barriers(1);
  }
  // SVM has no PIR to sync: the AVIC backing page is the APIC page, and VMRUN evaluates it.
  if (!b.avic) emitSyncPirToIrr(b, v, x);
  vmEntryStep(b, x, tTop, then);
}

/**
 * The exit-request check of vcpu_enter_guest and VM entry of vCPU x on vcpu->cpu; a notification
 * pending in the physical IRR is taken after it, and an interrupt queued by
 * kvm_check_and_inject_events is delivered by the entry (event injection).
 *
 * kvm_vcpu_exit_request (EXITING_GUEST_MODE set by a kick, or a request pending) cancels the
 * entry: OUTSIDE_GUEST_MODE, IRQs on, and vcpu_enter_guest starts again at `cancel`. The check
 * and the entry share a step: both run with IRQs off, and a kick that comes between them sends
 * an IPI that stays pending and forces an exit right after the entry, which the model reaches
 * too by letting the kick come after the entry. Without `cancel` (the fastpath's re-entry) there
 * is no check.
 */
export function vmEntryStep(
  b: ProgramBuilder,
  x: number,
  cancel?: { pc: number },
  then?: { pc: number },
): void {
  // VM entry is serializing: the step waits for the thread's store buffer to drain (tso.ts), so
  // its loads read memory. The cancelled entry's OUTSIDE_GUEST_MODE is a plain store again.
  const tso = b.memory === 'tso';
  b.step(vcpuRun(b), 'vmentry', (w, a, sink) => {
    const k = kvmVcpu(w, x);
    const p = w.m[k + KVM_VCPU.CPU] - 1;
    if (
      cancel !== undefined &&
      (w.m[k + KVM_VCPU.MODE] === MODE_EXITING_GUEST || w.m[k + KVM_VCPU.REQUESTS] !== 0)
    ) {
      plainStore(w, a, tso, k + KVM_VCPU.MODE, MODE_OUTSIDE_GUEST);
      w.m[w.L.pcpu[p] + PCPU.HOST_IF] = 1;
      return cancel.pc;
    }
    vmEntry(w, sink, x, p);
    const inject = w.m[k + KVM_VCPU.INJECT];
    if (inject !== 0) {
      w.m[k + KVM_VCPU.INJECT] = 0;
      guestHandlerRuns(w, sink, x, inject, DELIVER_INJECTED);
    }
    if (then === undefined) return NEXT;
    if (then !== RESUME) return then.pc;
    const pc = w.m[a + ACTOR.RET];
    w.m[a + ACTOR.RET] = 0;
    return pc;
  });
}

/** The function that runs the guest: vmx_vcpu_run, or svm_vcpu_run (VMRUN) on AMD AVIC. */
function vcpuRun(b: ProgramBuilder): string {
  return b.avic ? 'svm_vcpu_run' : 'vmx_vcpu_run';
}

/**
 * A VM exit of vCPU x that the program handles itself, with its reason and qualification; by
 * default it can happen whenever the vCPU runs in guest mode.
 */
export function emitVmExitStep(
  b: ProgramBuilder,
  x: number,
  label: string,
  reason: number,
  qualification: number,
  enabled: (w: World) => boolean = (w) => vcpuRunningOn(w, x) >= 0,
): void {
  b.step(
    vcpuRun(b),
    label,
    (w, _a, sink) => {
      vmExit(w, sink, x, reason, qualification);
      return NEXT;
    },
    enabled,
  ).exits();
}

/** A VM exit that KVM handles in the full path: back to root mode, OUTSIDE_GUEST_MODE, IRQs on. */
export function emitExit(b: ProgramBuilder, x: number, reason: number): void {
  emitVmExitStep(b, x, 'vmexit', reason, 0);
  emitExitToHost(b, x);
}

/** After a VM exit: OUTSIDE_GUEST_MODE, then IRQs on (the host takes what is pending). */
export function emitExitToHost(b: ProgramBuilder, x: number): void {
  const tso = b.memory === 'tso';
  b.step('vcpu_enter_guest', 'store_mode_outside', (w, a) => {
    plainStore(w, a, tso, kvmVcpu(w, x) + KVM_VCPU.MODE, MODE_OUTSIDE_GUEST);
    return NEXT;
  }).passesStores();
  b.step('vcpu_enter_guest', 'local_irq_enable', (w, a) => {
    w.m[w.L.pcpu[ownCpu(w, a, tso, x)] + PCPU.HOST_IF] = 1;
    return NEXT;
  }).passesStores();
}

/**
 * The rest of vcpu_enter_guest after a VM exit that the vCPU's scenario steps did not ask for (an
 * external interrupt such as a kick's reschedule IPI or a wake-up vector, an EOI-induced exit in a
 * guest step): the host took the interrupt on exit (handle_exit_irqoff), so KVM returns to
 * OUTSIDE_GUEST_MODE, enables IRQs, finds nothing left to do for the exit, and vcpu_run enters the
 * guest again. The thread then resumes at the step it was at (ACTOR.RET, saved by the system).
 * Exits whose handling would change the model's state (KVM's emulation of an EOI or ICR write
 * that exited) are not emulated here, except what `handleExit` emits.
 */
export function emitAsyncExitHandler(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  handleExit?: (b: ProgramBuilder, x: number) => void,
): void {
  emitExitToHost(b, x);
  // vmx_handle_exit runs after vcpu_enter_guest has returned to the host (IRQs on): the exits whose
  // handling the scenario models (the guest I/O APIC's EOI-induced exit, guest-ioapic.ts).
  handleExit?.(b, x);
  emitEnterGuest(b, v, x, RESUME);
}
