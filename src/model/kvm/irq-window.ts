/**
 * SVM IRQ windows with AVIC (arch/x86/kvm/svm/svm.c; kvm-semantics.md section 5, seed 002). KVM
 * finds out when the guest can take an ExtINT by injecting a dummy V_IRQ and intercepting VINTR;
 * AVIC ignores V_IRQ, so while a vCPU waits for a window AVIC must be inhibited VM-wide (IRQWIN).
 *
 * `toggle-per-window` (before 2026): svm_enable_irq_window sets IRQWIN and
 * interrupt_window_interception clears it, each through kvm_set_or_clear_apicv_inhibit, i.e. under
 * apicv_update_lock for write, even when another inhibit (PIT_REINJ) keeps AVIC off anyway; and one
 * vCPU's clear drops the inhibit while another vCPU still waits.
 *
 * `counter` (today: kvm_inc_or_dec_irq_window_inhibit, 6563ddadd169 + 5617dddcfa30): each vCPU
 * counts once in apicv_nr_irq_window_req (svm->avic_irq_window). If another inhibit is set
 * (READ_ONCE), take the lock for read, check again, add to the count and stop: the inhibit mask is
 * left alone and caught up at the next inhibit change. Otherwise take it for write, add, and call
 * the setter for IRQWIN iff the count went 0->1 or 1->0. The decrement is made in svm_inject_irq
 * when the ExtINT is injected; the model makes it right after the window exit.
 */
import { EXIT_REASON } from '../platform/events.ts';
import { VCPU, VCPU_F_IF } from '../platform/layout.ts';
import { vcpuRunningOn, type World } from '../platform/world.ts';
import {
  apicvBase,
  emitDownRead,
  emitDownWrite,
  emitInhibitIoctl as emitInhibitIoctlWith,
  emitSetOrClearInhibit,
  emitUpRead,
  emitUpWrite,
  INHIBIT_IRQWIN,
  KVM_APICV,
} from './apicv.ts';
import { emitExitToHost, emitVmExitStep } from './enter-guest.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU } from './state.ts';
import type { Variant } from './variants.ts';

function recomputes(v: Variant): boolean {
  return v.irqWindowInhibit === 'counter' && v.irqWindowRecompute === 'present';
}

function otherInhibit(w: World): boolean {
  return (w.m[apicvBase(w) + KVM_APICV.INHIBITS] & ~INHIBIT_IRQWIN) !== 0;
}

/**
 * A VM ioctl setting or clearing another inhibit (kvm.inhibit): with `counter` the setter also
 * recomputes IRQWIN from the count, unless the irqWindowRecompute mutation leaves that out.
 */
export function emitInhibitIoctl(b: ProgramBuilder, v: Variant, reason: number, set: boolean): void {
  emitInhibitIoctlWith(b, reason, set, recomputes(v));
}

/** kvm_set_or_clear_apicv_inhibit(IRQWIN, set): the write-locked toggle of `toggle-per-window`. */
function emitToggle(b: ProgramBuilder, v: Variant, set: boolean): void {
  const fn = set ? 'kvm_set_apicv_inhibit' : 'kvm_clear_apicv_inhibit';
  emitDownWrite(b, fn, true);
  emitSetOrClearInhibit(b, INHIBIT_IRQWIN, set, recomputes(v));
  emitUpWrite(b, fn);
}

/**
 * kvm_inc_or_dec_irq_window_inhibit(kvm, inc) for vCPU x, with svm->avic_irq_window set (inc) or
 * cleared (dec) in its first step. Uses L1 for the direction of a 0<->1 toggle.
 */
function emitIncOrDec(b: ProgramBuilder, v: Variant, x: number, inc: boolean): void {
  const fn = 'kvm_inc_or_dec_irq_window_inhibit';
  const add = inc ? 1 : -1;
  const slow = b.fresh('irqwin_slow');
  const tSlow = b.target(slow);
  const unlockSlow = b.fresh('irqwin_up_read_slow');
  const tUnlockSlow = b.target(unlockSlow);
  const done = b.fresh('irqwin_done');
  const tDone = b.target(done);
  const noToggle = b.fresh('irqwin_no_toggle');
  const tNoToggle = b.target(noToggle);
  b.step(fn, 'READ_ONCE(apicv_inhibit_reasons)', (w) => {
    w.m[w.L.kvmVcpu[x] + KVM_VCPU.AVIC_IRQ_WINDOW] = inc ? 1 : 0;
    return otherInhibit(w) ? NEXT : tSlow.pc;
  });
  emitDownRead(b, fn);
  b.step(fn, 'atomic_add', (w) => {
    if (!otherInhibit(w)) return tUnlockSlow.pc;
    w.m[apicvBase(w) + KVM_APICV.NR_IRQ_WINDOW_REQ] += add;
    return NEXT;
  }).barriers(1);
  emitUpRead(b, fn, tDone);
  b.mark(unlockSlow);
  emitUpRead(b, fn);
  b.mark(slow);
  emitDownWrite(b, fn, true);
  b.step(fn, 'atomic_add_return', (w, a) => {
    const k = apicvBase(w) + KVM_APICV.NR_IRQ_WINDOW_REQ;
    w.m[k] += add;
    // 0 -> 1 on an increment, 1 -> 0 on a decrement: the setter recomputes IRQWIN.
    if (w.m[k] !== (inc ? 1 : 0)) return tNoToggle.pc;
    w.m[a + ACTOR.L1] = inc ? 1 : 0;
    return NEXT;
  }).barriers(1);
  emitSetOrClearInhibit(b, INHIBIT_IRQWIN, 'L1', recomputes(v));
  b.mark(noToggle);
  emitUpWrite(b, fn);
  b.mark(done);
}

/**
 * svm_enable_irq_window for vCPU x, from kvm_check_and_inject_events before VM entry (an ExtINT is
 * pending that the guest cannot take yet; the vCPU is not running L2, and vGIF or GIF is set).
 */
export function emitEnableIrqWindow(b: ProgramBuilder, v: Variant, x: number): void {
  if (v.irqWindowInhibit === 'toggle-per-window') emitToggle(b, v, true);
  else emitIncOrDec(b, v, x, true);
  b.step('svm_set_vintr', 'V_IRQ + INTERCEPT_VINTR', (w) => {
    w.m[w.L.kvmVcpu[x] + KVM_VCPU.VINTR] = 1;
    w.m[apicvBase(w) + KVM_APICV.WINDOWS]++;
    return NEXT;
  });
}

/**
 * The guest opens its IRQ window (RFLAGS.IF set), the VINTR intercept exits, and KVM handles it:
 * interrupt_window_interception, svm_clear_vintr, and the inhibit's clear (toggle) or the count's
 * decrement (counter). The exit needs AVIC off on this vCPU: with AVIC on the CPU ignores V_IRQ
 * and the exit never comes (the no-irq-window-with-avic property stops at the entry before).
 */
export function emitIrqWindowExit(b: ProgramBuilder, v: Variant, x: number): void {
  emitVmExitStep(b, x, 'vmexit (VINTR)', EXIT_REASON.INTERRUPT_WINDOW, 0, (w) => {
    const kv = w.L.kvmVcpu[x];
    return (
      vcpuRunningOn(w, x) >= 0 &&
      w.m[kv + KVM_VCPU.VINTR] === 1 &&
      w.m[kv + KVM_VCPU.APICV_ACTIVE] === 0 &&
      (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_IF) !== 0
    );
  });
  emitExitToHost(b, x);
  b.step('interrupt_window_interception', 'svm_clear_vintr', (w) => {
    w.m[w.L.kvmVcpu[x] + KVM_VCPU.VINTR] = 0;
    return NEXT;
  });
  if (v.irqWindowInhibit === 'toggle-per-window') emitToggle(b, v, false);
  else emitIncOrDec(b, v, x, false);
}
