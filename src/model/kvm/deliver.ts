/**
 * vmx_deliver_posted_interrupt (arch/x86/kvm/vmx/common.h, __vmx_deliver_posted_interrupt): the
 * software sender, as three atomic steps (kvm-semantics.md section 1): test-and-set the PIR bit,
 * test-and-set ON, read vcpu->mode and send the notification IPI or wake the vCPU.
 */

import { regSet } from '../hw/bits.ts';
import { piTestAndSetOn, piTestAndSetPir } from '../hw/pid.ts';
import { VAPIC } from '../hw/vapic.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { sendPhysicalInterrupt, vmExit } from '../platform/hardware.ts';
import { VCPU } from '../platform/layout.ts';
import { POSTED_INTR_VECTOR, RESCHEDULE_VECTOR } from '../platform/machine.ts';
import { pcpuApicId, vcpuHasThread, vcpuRunningOn, type World } from '../platform/world.ts';
import { apicvInhibited, kvmAcceptIrqInactive, kvmReenter } from './apicv-inhibit.ts';
import { emitSvmDeliverInterrupt } from './avic.ts';
import { guestApicAccepts } from './guest-apic.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import {
  KVM_REQ_EVENT,
  KVM_VCPU,
  kvmVcpu,
  kvmVcpuWakeUp,
  MODE_EXITING_GUEST,
  MODE_IN_GUEST,
} from './state.ts';
import type { Variant } from './variants.ts';

/**
 * `sender` is the vCPU whose thread sends (in its exit handler or fastpath), or -1 for another
 * context. A sender that is the target itself, running with IN_GUEST_MODE (the fastpath), sends no
 * IPI: the fastpath's re-entry syncs PIR instead (Wanpeng Li, 2020; kvm-semantics.md section 1).
 * On AMD AVIC the sender is svm_deliver_interrupt (avic.ts).
 */
export function emitDeliverPostedInterrupt(
  b: ProgramBuilder,
  v: Variant,
  x: number,
  vector: number,
  sender = -1,
): void {
  if (b.avic) {
    emitSvmDeliverInterrupt(b, v, x, vector, sender);
    return;
  }
  if (!b.apicv) {
    emitDeliverWithoutApicv(b, x, vector, sender);
    return;
  }
  const fn = 'vmx_deliver_posted_interrupt';
  const done = b.fresh('done');
  const tDone = b.target(done);
  // vmx_deliver_interrupt: vmx_deliver_posted_interrupt fails while the target's APICv is not
  // active (kvm/apicv-inhibit.ts), and KVM falls back to kvm_lapic_set_irr + KVM_REQ_EVENT + kick.
  const inhibitable = b.apicvInhibitable;
  const inactive = b.fresh('apicv_inactive');
  const tInactive = b.target(inactive);
  b.step(fn, 'pi_test_and_set_pir', (w) => {
    // __apic_accept_irq: a software- or globally disabled APIC takes no fixed interrupt.
    if (!guestApicAccepts(w, x, 0)) return tDone.pc;
    if (inhibitable && w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] === 0) return tInactive.pc;
    regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
    // A bit already set means another posting owns the notification for this vector.
    if (piTestAndSetPir(w.m, w.L.pid[x], vector)) return tDone.pc;
    w.m[kvmVcpu(w, x) + KVM_VCPU.POSTING]++;
    return NEXT;
  });
  b.barriers(1);
  b.step(fn, 'pi_test_and_set_on', (w) => {
    if (!piTestAndSetOn(w.m, w.L.pid[x])) return NEXT;
    w.m[kvmVcpu(w, x) + KVM_VCPU.POSTING]--;
    return tDone.pc;
  });
  b.barriers(1);
  b.step('kvm_vcpu_trigger_posted_interrupt', 'read_mode', (w, _a, sink) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.POSTING]--;
    if (w.m[k + KVM_VCPU.MODE] === MODE_IN_GUEST && x === sender) {
      // The target is the vCPU running on this pCPU (kvm_get_running_vcpu): no self-IPI.
    } else if (w.m[k + KVM_VCPU.MODE] === MODE_IN_GUEST) {
      // __apic_send_IPI_mask(vcpu->cpu, POSTED_INTR_VECTOR): the IPI reaches the LAPIC at once.
      sendPhysicalInterrupt(w, sink, pcpuApicId(w.m[k + KVM_VCPU.CPU] - 1), POSTED_INTR_VECTOR, x);
    } else {
      // kvm_vcpu_wake_up: wakes a thread blocked in kvm_vcpu_block; a runnable vCPU syncs PIR on
      // its next entry.
      kvmVcpuWakeUp(w, sink, x);
    }
    return inhibitable ? tDone.pc : NEXT;
  });
  b.mark(inactive);
  if (inhibitable) emitDeliverWithoutApicv(b, x, vector, sender);
  b.mark(done);
}

/**
 * vmx_deliver_posted_interrupt done at once, for KVM's paths that a script step runs whole (an
 * expiring LAPIC timer, KVM's emulated I/O APIC): the PIR bit, ON, then the notification to a
 * vCPU in guest mode, or kvm_vcpu_wake_up. emitDeliverPostedInterrupt above is the stepped form
 * the checker interleaves; in a script nothing runs between the three steps.
 */
export function deliverPostedInterruptNow(w: World, sink: Sink, x: number, vector: number): void {
  if (!guestApicAccepts(w, x, 0)) return;
  if (apicvInhibited(w, x)) {
    kvmAcceptIrqInactive(w, sink, x, vector);
    return;
  }
  regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
  if (piTestAndSetPir(w.m, w.L.pid[x], vector) || piTestAndSetOn(w.m, w.L.pid[x])) return;
  const k = kvmVcpu(w, x);
  if (w.m[k + KVM_VCPU.MODE] === MODE_IN_GUEST)
    sendPhysicalInterrupt(w, sink, pcpuApicId(w.m[k + KVM_VCPU.CPU] - 1), POSTED_INTR_VECTOR, x);
  else kvmVcpuWakeUp(w, sink, x);
}

/**
 * The target's APICv is not active (apic->apicv_active false): kvm_lapic_set_irr (an atomic set in
 * the emulated vIRR), kvm_make_request(KVM_REQ_EVENT), kvm_vcpu_kick (kvm-semantics.md section 1).
 */
function emitDeliverWithoutApicv(b: ProgramBuilder, x: number, vector: number, sender: number): void {
  const fn = 'vmx_deliver_interrupt';
  b.step(fn, 'kvm_lapic_set_irr', (w) => {
    regSet(w.m, w.L.vapic[x] + VAPIC.VIRR, vector);
    regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
    return NEXT;
  }).barriers(1);
  b.step(fn, 'kvm_make_request', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
    return NEXT;
  }).barriers(1);
  emitKick(b, x, sender);
}

/**
 * kvm_vcpu_kick (virt/kvm/kvm_main.c, __kvm_vcpu_kick): wake the thread if it is blocked; else, on
 * the target's own thread in guest mode (the fastpath), just mark it EXITING_GUEST_MODE; else, if
 * the cmpxchg IN_GUEST_MODE -> EXITING_GUEST_MODE succeeds (kvm_arch_vcpu_should_kick), send the
 * reschedule IPI to vcpu->cpu, which forces a VM exit.
 */
export function emitKick(b: ProgramBuilder, x: number, sender: number): void {
  const fn = 'kvm_vcpu_kick';
  const done = b.fresh('kick_done');
  const tDone = b.target(done);
  b.step(fn, 'kvm_vcpu_wake_up', (w, _a, sink) => (kvmVcpuWakeUp(w, sink, x) ? tDone.pc : NEXT));
  const fold = b.kickReentersAtOnce;
  b.step(fn, 'kvm_vcpu_exiting_guest_mode', (w, _a, sink) => {
    const k = kvmVcpu(w, x);
    if (w.m[k + KVM_VCPU.MODE] !== MODE_IN_GUEST) return NEXT;
    if (fold && x !== sender && !vcpuHasThread(w, x)) {
      // A script's vCPU has no thread of its own: the reschedule IPI's exit and its
      // vcpu_enter_guest, which injects, are one step (apicv-inhibit.ts kvmReenter). A vCPU with a
      // thread takes the IPI and re-enters through its exit handler (decision 0235).
      const p = vcpuRunningOn(w, x);
      vmExit(w, sink, x, EXIT_REASON.EXTERNAL_INTERRUPT, RESCHEDULE_VECTOR);
      kvmReenter(w, sink, x, p);
      return NEXT;
    }
    w.m[k + KVM_VCPU.MODE] = MODE_EXITING_GUEST;
    if (x !== sender)
      sendPhysicalInterrupt(w, sink, pcpuApicId(w.m[k + KVM_VCPU.CPU] - 1), RESCHEDULE_VECTOR, -1);
    return NEXT;
  }).barriers(1);
  b.mark(done);
}
