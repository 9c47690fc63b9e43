/**
 * The local APIC timer as a pure function of time: one-shot, periodic and TSC-deadline modes, the
 * divide configuration, the current count, and mode changes. Time is an argument (`now`, in ticks
 * of the timer's input clock, the "APIC bus"/core crystal clock before the divider; KVM runs it at
 * 1 GHz), never read from a clock, so the checker, the simulator and tests can all drive it.
 *
 * Sources: Intel SDM Vol. 3A 11.5.4 "APIC Timer" (LVT timer register 320H: vector 7:0, delivery
 * status 12, mask 16, mode 18:17 = 00b one-shot, 01b periodic, 10b TSC-deadline; divide
 * configuration 3E0H bits 3,1:0; initial count 380H; current count 390H, read-only) and 11.5.4.1
 * "TSC-Deadline Mode" (IA32_TSC_DEADLINE, MSR 6E0H); KVM lapic.c apic_update_lvtt (a change into or
 * out of TSC-deadline mode clears the initial count and the deadline and stops the timer, a change
 * between one-shot and periodic does not touch the count), apic_get_tmcct, start_apic_timer.
 * kvm-unit-tests apic.c test_apic_timer_one_shot, test_apic_change_mode and
 * test_tsc_deadline_timer are the peer checks.
 *
 * Rules:
 * - The count decrements by one every `divisor` input ticks. Writing the initial count (re)starts
 *   the countdown from that value; writing 0 stops the timer.
 * - One-shot: at 0 the timer fires once and stays at 0.
 * - Periodic: at 0 it fires and reloads the initial count, and goes on.
 * - TSC-deadline: the initial and current count read 0 and initial-count writes are ignored; a
 *   non-zero IA32_TSC_DEADLINE arms the timer, which fires once the TSC reaches it and then clears
 *   the MSR to 0 (test_tsc_deadline_timer "tsc deadline timer clearing"); 0 disarms. Outside
 *   TSC-deadline mode the MSR reads 0 and writes are ignored.
 * - A divide-configuration write takes effect from now: the current count is kept and the rest
 *   counts at the new rate (KVM rescales the remaining period the same way; the sub-tick phase is
 *   dropped here).
 * - A masked LVT timer entry still counts and reloads; its expirations send no interrupt.
 *
 * State: a block of TIMER.SIZE numbers in a Float64Array (times need more than 32 bits). Every
 * operation that changes the state first settles the expirations up to `now` and returns how
 * many interrupts they send, so none is lost across a reprogramming.
 */
import { LVT_MASKED } from './apic-state.ts';

export const TIMER = {
  /** LVT timer register (320H). */
  LVT: 0,
  /** Divide configuration register (3E0H). */
  DIVIDE: 1,
  /** Initial count register (380H). */
  INITIAL: 2,
  /** Time at which the count had the value START_COUNT. */
  START: 3,
  /** Count at START; 0 = not counting. */
  START_COUNT: 4,
  /** IA32_TSC_DEADLINE; 0 = disarmed. */
  DEADLINE: 5,
  /** Expirations since START already settled. */
  SETTLED: 6,
  /** TSC ticks per input tick (the TSC runs faster than the APIC timer's clock). */
  TSC_PER_TICK: 7,
  SIZE: 8,
} as const;

export type TimerMode = 'one-shot' | 'periodic' | 'tsc-deadline' | 'reserved';

export const LVT_TIMER_ONESHOT = 0;
export const LVT_TIMER_PERIODIC = 1 << 17;
export const LVT_TIMER_TSC_DEADLINE = 2 << 17;
const LVT_TIMER_MODE_MASK = 3 << 17;

/** Reset state: LVT masked (its reset value 0001_0000H), divide by 2, count 0, deadline 0. */
export function timerInit(t: Float64Array, o: number, tscPerTick = 1): void {
  t.fill(0, o, o + TIMER.SIZE);
  t[o + TIMER.LVT] = LVT_MASKED;
  t[o + TIMER.TSC_PER_TICK] = tscPerTick;
}

export function timerMode(t: Float64Array, o: number): TimerMode {
  switch ((t[o + TIMER.LVT] & LVT_TIMER_MODE_MASK) >>> 17) {
    case 0:
      return 'one-shot';
    case 1:
      return 'periodic';
    case 2:
      return 'tsc-deadline';
    default:
      return 'reserved';
  }
}

/**
 * The divisor of a divide-configuration value (SDM figure "Divide Configuration Register"): bits
 * 3 and 1:0 form a 3-bit code, 000b = 2, 001b = 4, 010b = 8, 011b = 16, 100b = 32, 101b = 64,
 * 110b = 128, 111b = 1.
 */
export function timerDivisor(divideConfig: number): number {
  const code = ((divideConfig >>> 1) & 4) | (divideConfig & 3);
  return code === 7 ? 1 : 2 << code;
}

function divisor(t: Float64Array, o: number): number {
  return timerDivisor(t[o + TIMER.DIVIDE]);
}

/** Count decrements since START at time `now`. */
function elapsedCounts(t: Float64Array, o: number, now: number): number {
  return Math.floor((now - t[o + TIMER.START]) / divisor(t, o));
}

/** Expirations since START up to `now` in one-shot or periodic mode. */
function expirationsSinceStart(t: Float64Array, o: number, now: number): number {
  const c0 = t[o + TIMER.START_COUNT];
  if (c0 === 0) return 0;
  const e = elapsedCounts(t, o, now);
  if (e < c0) return 0;
  if (timerMode(t, o) !== 'periodic') return 1;
  const init = t[o + TIMER.INITIAL];
  return init === 0 ? 1 : 1 + Math.floor((e - c0) / init);
}

/**
 * Settles the timer up to `now`: returns the expirations since the last settlement and records
 * them; a one-shot timer stops after its expiration and an armed TSC deadline that has passed is
 * cleared. The caller sends one interrupt (the LVT vector, fixed) for each, unless
 * `timerMasked`; the LAPIC merges repeats of one vector in IRR anyway.
 */
export function timerAdvance(t: Float64Array, o: number, now: number): number {
  const mode = timerMode(t, o);
  if (mode === 'tsc-deadline') {
    const d = t[o + TIMER.DEADLINE];
    if (d !== 0 && d <= now * t[o + TIMER.TSC_PER_TICK]) {
      t[o + TIMER.DEADLINE] = 0;
      return 1;
    }
    return 0;
  }
  const total = expirationsSinceStart(t, o, now);
  const fresh = total - t[o + TIMER.SETTLED];
  if (fresh <= 0) return 0;
  t[o + TIMER.SETTLED] = total;
  return fresh;
}

/** Whether expirations send no interrupt (LVT mask bit). */
export function timerMasked(t: Float64Array, o: number): boolean {
  return (t[o + TIMER.LVT] & LVT_MASKED) !== 0;
}

/** The vector an expiration sends. */
export function timerVector(t: Float64Array, o: number): number {
  return t[o + TIMER.LVT] & 0xff;
}

/**
 * The current-count register (390H) at `now`: 0 in TSC-deadline mode and when stopped; one-shot
 * counts down to 0 and stays; periodic runs from the initial count down to 1 and reloads.
 */
export function timerCurrentCount(t: Float64Array, o: number, now: number): number {
  const c0 = t[o + TIMER.START_COUNT];
  if (timerMode(t, o) === 'tsc-deadline' || c0 === 0) return 0;
  const e = elapsedCounts(t, o, now);
  if (e < c0) return c0 - e;
  const init = t[o + TIMER.INITIAL];
  if (timerMode(t, o) !== 'periodic' || init === 0) return 0;
  return init - ((e - c0) % init);
}

/** The initial-count register as read: 0 in TSC-deadline mode. */
export function timerInitialCount(t: Float64Array, o: number): number {
  return timerMode(t, o) === 'tsc-deadline' ? 0 : t[o + TIMER.INITIAL];
}

/** Restarts the countdown at `now` from `count`. */
function rebase(t: Float64Array, o: number, now: number, count: number): void {
  t[o + TIMER.START] = now;
  t[o + TIMER.START_COUNT] = count;
  t[o + TIMER.SETTLED] = 0;
}

/** A write of the initial count (380H): starts counting from it (0 stops); ignored in TSC-deadline mode. Returns the expirations settled first. */
export function timerWriteInitialCount(t: Float64Array, o: number, value: number, now: number): number {
  const fired = timerAdvance(t, o, now);
  if (timerMode(t, o) === 'tsc-deadline') return fired;
  t[o + TIMER.INITIAL] = value >>> 0;
  rebase(t, o, now, value >>> 0);
  return fired;
}

/** A write of the divide configuration (3E0H): the current count is kept and counts at the new rate from `now`. */
export function timerWriteDivide(t: Float64Array, o: number, value: number, now: number): number {
  const fired = timerAdvance(t, o, now);
  const count = timerCurrentCount(t, o, now);
  t[o + TIMER.DIVIDE] = value & 0xb;
  if (timerMode(t, o) !== 'tsc-deadline') rebase(t, o, now, count);
  return fired;
}

/**
 * A write of the LVT timer entry (320H), with the mask forced while the APIC is software-disabled
 * (the caller passes the value through lvtWrite). Changing into or out of TSC-deadline mode stops
 * the timer and clears the initial count and the deadline (KVM apic_update_lvtt); changing between
 * one-shot and periodic keeps the countdown where it is, without a reload (test_apic_change_mode
 * "TMCCT should not be reset to TMICT value"). A one-shot timer that already expired stays stopped.
 */
export function timerWriteLvt(t: Float64Array, o: number, value: number, now: number): number {
  const fired = timerAdvance(t, o, now);
  const wasDeadline = timerMode(t, o) === 'tsc-deadline';
  const count = timerCurrentCount(t, o, now);
  t[o + TIMER.LVT] = value >>> 0;
  const isDeadline = timerMode(t, o) === 'tsc-deadline';
  if (wasDeadline !== isDeadline) {
    t[o + TIMER.INITIAL] = 0;
    t[o + TIMER.DEADLINE] = 0;
    rebase(t, o, now, 0);
  } else if (!isDeadline) {
    rebase(t, o, now, count);
  }
  return fired;
}

/** WRMSR IA32_TSC_DEADLINE: arms (non-zero) or disarms (0) in TSC-deadline mode; ignored otherwise. */
export function timerWriteDeadline(t: Float64Array, o: number, tscDeadline: number, now: number): number {
  const fired = timerAdvance(t, o, now);
  if (timerMode(t, o) === 'tsc-deadline') t[o + TIMER.DEADLINE] = tscDeadline;
  return fired + timerAdvance(t, o, now);
}

/** RDMSR IA32_TSC_DEADLINE: the armed deadline, 0 once it fired, and 0 outside TSC-deadline mode. */
export function timerReadDeadline(t: Float64Array, o: number): number {
  return timerMode(t, o) === 'tsc-deadline' ? t[o + TIMER.DEADLINE] : 0;
}

/**
 * The time of the next expiration after the settled ones (in input ticks), or -1 when none is
 * due: what the simulator schedules as the timer's next interrupt event.
 */
export function timerNextExpiry(t: Float64Array, o: number): number {
  const mode = timerMode(t, o);
  if (mode === 'tsc-deadline') {
    const d = t[o + TIMER.DEADLINE];
    return d === 0 ? -1 : Math.ceil(d / t[o + TIMER.TSC_PER_TICK]);
  }
  const c0 = t[o + TIMER.START_COUNT];
  if (c0 === 0) return -1;
  const k = t[o + TIMER.SETTLED];
  const init = t[o + TIMER.INITIAL];
  if (k >= 1 && (mode !== 'periodic' || init === 0)) return -1;
  const counts = c0 + k * init;
  return t[o + TIMER.START] + counts * divisor(t, o);
}
