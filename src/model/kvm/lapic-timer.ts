/**
 * KVM's emulated local APIC timer (arch/x86/kvm/lapic.c): the guest's writes of the timer
 * registers are intercepted, KVM emulates them (apic_update_lvtt, start_apic_timer, the divide
 * configuration, kvm_set_lapic_tscdeadline_msr) and re-enters; when the timer expires
 * (apic_timer_expired, kvm_apic_local_deliver -> __apic_accept_irq) the LVT vector is delivered
 * like any fixed interrupt, with APICv through vmx_deliver_posted_interrupt. The timer itself is
 * hw/timer.ts, kept in the World by system/timer-block.ts; time moves only by `time.advance`.
 *
 * A script step does all of one write (the exits, KVM's emulation, the re-entry) or all of one
 * advance in one step: in a script nothing else runs in between. Expirations within one advance
 * coalesce into one posting (the vector's PIR bit is set once), as a vector pending twice does.
 */
import { regTest } from '../hw/bits.ts';
import { PID } from '../hw/pid.ts';
import {
  TIMER,
  timerAdvance,
  timerDivisor,
  timerMasked,
  timerMode,
  timerNextExpiry,
  timerVector,
  timerWriteDeadline,
  timerWriteDivide,
  timerWriteInitialCount,
  timerWriteLvt,
} from '../hw/timer.ts';
import { VAPIC } from '../hw/vapic.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { vmEntry, vmExit } from '../platform/hardware.ts';
import { TIMER_BLOCK, timerBlockName, timerLoad, timerStore } from '../platform/timer-block.ts';
import { vcpuRunningOn, type World } from '../platform/world.ts';
import { deliverPostedInterruptNow } from './deliver.ts';

/** The timer registers one guest step writes (absent: not written), in the order applied. */
export interface TimerWrite {
  /** LVT timer (320H / MSR 832H): vector 7:0, mask 16, mode 18:17. */
  lvt?: number;
  /** Divide configuration (3E0H / MSR 83EH). */
  divide?: number;
  /** Initial count (380H / MSR 838H). */
  initialCount?: number;
  /** IA32_TSC_DEADLINE (MSR 6E0H). */
  deadline?: number;
}

function block(w: World, x: number): number {
  const o = w.L.extra.get(timerBlockName(x));
  if (o === undefined) throw new Error('this machine has no LAPIC timer (machine.lapicTimer is false)');
  return o;
}

/** Records `fired` expirations of vCPU x's timer and delivers its vector unless the LVT is masked. */
function expired(w: World, sink: Sink, x: number, o: number, fired: number): void {
  if (fired <= 0) return;
  const t = timerLoad(w.m, o);
  const masked = timerMasked(t, 0);
  const vector = timerVector(t, 0);
  w.m[o + TIMER_BLOCK.FIRED] += fired;
  if (!masked) deliverPostedInterruptNow(w, sink, x, vector);
}

/** The exit reason and qualification of an intercepted write of one timer register. */
function exitFor(w: World, reg: keyof TimerWrite): [number, number] {
  if (reg === 'deadline') return [EXIT_REASON.MSR_WRITE, 0x6e0];
  const xapic = { lvt: 0x320, divide: 0x3e0, initialCount: 0x380 }[reg];
  return w.machine.x2apic ? [EXIT_REASON.MSR_WRITE, 0x800 + (xapic >>> 4)] : [EXIT_REASON.APIC_WRITE, xapic];
}

const ORDER: readonly (keyof TimerWrite)[] = ['lvt', 'divide', 'initialCount', 'deadline'];

/**
 * The guest of vCPU x (running on pCPU p) writes timer registers: each write is a VM exit (x2APIC:
 * an MSR-write exit, KVM intercepts 832H, 838H, 83EH and 6E0H; xAPIC: an APIC-write exit at 320H,
 * 380H, 3E0H, SDM Vol. 3C 29.4.3.2), KVM emulates it on the timer (expirations it settles are
 * delivered) and enters the guest again.
 */
export function kvmTimerWrite(w: World, sink: Sink, x: number, wr: TimerWrite): void {
  const o = block(w, x);
  const now = w.m[o + TIMER_BLOCK.NOW];
  // Expirations a write settles are delivered after the re-entry: KVM posts them while the vCPU is
  // outside the guest, and vcpu_enter_guest's PIR sync brings them in; delivering after the entry
  // ends the same way.
  let pending = 0;
  for (const reg of ORDER) {
    const value = wr[reg];
    if (value === undefined) continue;
    const p = vcpuRunningOn(w, x);
    const [reason, qualification] = exitFor(w, reg);
    vmExit(w, sink, x, reason, qualification);
    const t = timerLoad(w.m, o);
    let fired = 0;
    if (reg === 'lvt') fired = timerWriteLvt(t, 0, value, now);
    else if (reg === 'divide') fired = timerWriteDivide(t, 0, value, now);
    else if (reg === 'initialCount') fired = timerWriteInitialCount(t, 0, value, now);
    else fired = timerWriteDeadline(t, 0, value, now);
    timerStore(w.m, o);
    pending += fired;
    if (p >= 0) vmEntry(w, sink, x, p);
  }
  expired(w, sink, x, o, pending);
}

/**
 * When vCPU x's timer expires next, in timer input ticks (the block's `now` counts the same), or -1
 * when it is not armed: when the host's hrtimer for it is due (start_sw_period and
 * start_sw_tscdeadline arm it for that time).
 */
export function kvmTimerNextExpiry(m: Uint32Array, o: number): number {
  return timerNextExpiry(timerLoad(m, o), 0);
}

/**
 * The host's hrtimer of vCPU x's timer fires (apic_timer_fn, at the timer's next expiry): the one
 * clock moves to that expiry (never back), the timer settles, and apic_timer_expired delivers the
 * LVT vector. The model delivers as a posted timer interrupt (kvm_use_posted_timer_interrupt:
 * kvm_apic_inject_pending_timer_irqs -> kvm_apic_local_deliver -> vmx_deliver_posted_interrupt, as
 * `time.advance` does); KVM's other path, a pending count and a kick that injects at the next VM
 * entry, is not modelled. Returns false when the timer is not armed (nothing happens).
 */
export function kvmTimerExpire(w: World, sink: Sink, x: number): boolean {
  const o = block(w, x);
  const next = kvmTimerNextExpiry(w.m, o);
  if (next < 0) return false;
  const now = Math.max(w.m[o + TIMER_BLOCK.NOW], next);
  // One clock for every vCPU's timer (timer-block.ts): the others settle at their own expiry.
  for (let y = 0; y < w.machine.vcpus.length; y++) w.m[block(w, y) + TIMER_BLOCK.NOW] = now;
  const t = timerLoad(w.m, o);
  const fired = timerAdvance(t, 0, now);
  timerStore(w.m, o);
  expired(w, sink, x, o, fired);
  return true;
}

/**
 * Whether vCPU x's guest has handled its timer's last expiry and would re-arm it now: the timer is
 * not armed (a one-shot timer stops at its expiry, a TSC deadline clears, SDM Vol. 3A 11.5.4.1),
 * and its LVT vector is neither in PIR nor in vIRR, so the guest's handler has been entered.
 */
export function kvmTimerHandled(w: World, x: number): boolean {
  const o = block(w, x);
  const t = timerLoad(w.m, o);
  if (timerNextExpiry(t, 0) >= 0) return false;
  const v = timerVector(t, 0);
  return !regTest(w.m, w.L.pid[x] + PID.PIR, v) && !regTest(w.m, w.L.vapic[x] + VAPIC.VIRR, v);
}

/**
 * The guest's timer handler re-arms a one-shot or TSC-deadline timer `period` ticks after its last
 * expiry (the timer clock stands at that expiry): an initial-count write (one-shot) or a WRMSR of
 * IA32_TSC_DEADLINE (Linux's lapic_next_event / lapic_next_deadline from the clockevent handler).
 * The write exits and KVM emulates it at the exit; the rest of the exit path and the re-entry are
 * the vCPU thread's (the system sends it to its exit handler, emitAsyncExitHandler), so the exit
 * costs what any exit costs. A periodic timer needs no re-arm: nothing happens.
 */
export function kvmTimerRearm(w: World, sink: Sink, x: number, period: number): void {
  const o = block(w, x);
  const mode = timerMode(timerLoad(w.m, o), 0);
  if (mode !== 'one-shot' && mode !== 'tsc-deadline') return;
  const [reason, qualification] = exitFor(w, mode === 'one-shot' ? 'initialCount' : 'deadline');
  vmExit(w, sink, x, reason, qualification);
  const now = w.m[o + TIMER_BLOCK.NOW];
  const t = timerLoad(w.m, o);
  const fired =
    mode === 'one-shot'
      ? timerWriteInitialCount(t, 0, Math.max(1, Math.round(period / timerDivisor(t[TIMER.DIVIDE]))), now)
      : timerWriteDeadline(t, 0, (now + period) * t[TIMER.TSC_PER_TICK], now);
  timerStore(w.m, o);
  expired(w, sink, x, o, fired);
}

/** Time passes by `ticks` timer input ticks on every vCPU's timer; expirations are delivered. */
export function kvmTimeAdvance(w: World, sink: Sink, ticks: number): void {
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    const o = block(w, x);
    const now = w.m[o + TIMER_BLOCK.NOW] + ticks;
    w.m[o + TIMER_BLOCK.NOW] = now;
    const t = timerLoad(w.m, o);
    const fired = timerAdvance(t, 0, now);
    timerStore(w.m, o);
    expired(w, sink, x, o, fired);
  }
}
