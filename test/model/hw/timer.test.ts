import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LVT_MASKED } from '../../../src/model/hw/apic-state.ts';
import {
  LVT_TIMER_ONESHOT,
  LVT_TIMER_PERIODIC,
  LVT_TIMER_TSC_DEADLINE,
  TIMER,
  timerAdvance,
  timerCurrentCount,
  timerDivisor,
  timerInit,
  timerInitialCount,
  timerMasked,
  timerNextExpiry,
  timerReadDeadline,
  timerWriteDeadline,
  timerWriteDivide,
  timerWriteInitialCount,
  timerWriteLvt,
} from '../../../src/model/hw/timer.ts';

function timer(lvt: number, divide = 0xb, now = 0): Float64Array {
  const t = new Float64Array(TIMER.SIZE);
  timerInit(t, 0);
  timerWriteLvt(t, 0, lvt, now);
  timerWriteDivide(t, 0, divide, now);
  return t;
}

const DIVIDE_CODES = [0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb];

test('divide configuration: 2, 4, 8, 16, 32, 64, 128, 1 (SDM figure "Divide Configuration Register")', () => {
  assert.deepEqual(DIVIDE_CODES.map(timerDivisor), [2, 4, 8, 16, 32, 64, 128, 1]);
  assert.equal(timerDivisor(0x4), 2, 'bit 2 is not part of the code');
});

test('one-shot: exactly one expiration, not before interval x divisor (test_apic_timer_one_shot)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffffff }),
      fc.constantFrom(...DIVIDE_CODES),
      fc.integer({ min: 0, max: 1e9 }),
      (n, d, t0) => {
        const t = timer(LVT_TIMER_ONESHOT | 0xee, d, t0);
        timerWriteInitialCount(t, 0, n, t0);
        const due = t0 + n * timerDivisor(d);
        assert.equal(timerNextExpiry(t, 0), due);
        assert.equal(timerAdvance(t, 0, due - 1), 0);
        assert.ok(timerCurrentCount(t, 0, due - 1) > 0);
        assert.equal(timerAdvance(t, 0, due), 1);
        assert.equal(timerCurrentCount(t, 0, due), 0);
        assert.equal(timerAdvance(t, 0, due * 3 + 7), 0, 'one-shot stays at 0');
        assert.equal(timerNextExpiry(t, 0), -1);
      },
    ),
  );
});

test('periodic: one expiration per period, the count reloads and never reads 0', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5000 }),
      fc.constantFrom(...DIVIDE_CODES),
      fc.array(fc.integer({ min: 0, max: 100000 }), { minLength: 1, maxLength: 20 }),
      (n, d, steps) => {
        const t = timer(LVT_TIMER_PERIODIC | 0xee, d);
        timerWriteInitialCount(t, 0, n, 0);
        const period = n * timerDivisor(d);
        let now = 0;
        let fired = 0;
        for (const s of steps) {
          now += s;
          fired += timerAdvance(t, 0, now);
          assert.equal(fired, Math.floor(now / period));
          const c = timerCurrentCount(t, 0, now);
          assert.ok(c >= 1 && c <= n);
        }
      },
    ),
  );
});

test('test_apic_change_mode: TMICT kept on a mode change, no reload on one-shot -> periodic, then the periodic reload', () => {
  const tmict = 0x999999;
  const t = timer(LVT_TIMER_ONESHOT | 0xee, 0xb);
  timerWriteInitialCount(t, 0, tmict, 0);
  timerWriteLvt(t, 0, LVT_TIMER_PERIODIC | 0xee, 10);
  assert.equal(timerInitialCount(t, 0), tmict, 'TMICT value reset');
  timerWriteLvt(t, 0, LVT_TIMER_ONESHOT | 0xee, 20);
  timerWriteInitialCount(t, 0, tmict, 100);
  assert.ok(timerCurrentCount(t, 0, 100) > 0, 'TMCCT should have a non-zero value');
  assert.equal(timerCurrentCount(t, 0, 100 + tmict), 0, 'TMCCT should have reached 0');
  const start = 200 + tmict;
  assert.equal(
    timerWriteInitialCount(t, 0, tmict, start),
    1,
    'the first one-shot expiry is settled by the rewrite',
  );
  const half = start + tmict / 2 + 1;
  timerWriteLvt(t, 0, LVT_TIMER_PERIODIC | 0xee, half);
  const c = timerCurrentCount(t, 0, half);
  assert.ok(c > 0, 'TMCCT should have a non-zero value');
  assert.ok(c < tmict / 2, 'TMCCT should not be reset to TMICT value');
  const wrapped = half + c + 1;
  assert.equal(timerAdvance(t, 0, wrapped), 1, 'the count reached 0 once, in periodic mode');
  assert.ok(timerCurrentCount(t, 0, wrapped) > tmict / 2, 'reloaded from TMICT after wrap-around');
  // back to one-shot at half: counts down to 0 and stays there
  timerWriteLvt(t, 0, LVT_TIMER_ONESHOT | 0xee, wrapped);
  const left = timerCurrentCount(t, 0, wrapped);
  assert.equal(timerCurrentCount(t, 0, wrapped + left + 5 * tmict), 0);
});

test('an expired one-shot stays stopped when switched to periodic', () => {
  const t = timer(LVT_TIMER_ONESHOT | 0xee);
  timerWriteInitialCount(t, 0, 100, 0);
  assert.equal(timerWriteLvt(t, 0, LVT_TIMER_PERIODIC | 0xee, 500), 1, 'the expiry is still reported');
  assert.equal(timerCurrentCount(t, 0, 600), 0);
  assert.equal(timerAdvance(t, 0, 10000), 0);
});

test('a divide change keeps the current count and counts on at the new rate', () => {
  const t = timer(LVT_TIMER_ONESHOT | 0xee, 0xb);
  timerWriteInitialCount(t, 0, 1000, 0);
  timerWriteDivide(t, 0, 0x0, 400); // /1 -> /2
  assert.equal(timerCurrentCount(t, 0, 400), 600);
  assert.equal(timerNextExpiry(t, 0), 400 + 600 * 2);
});

test('masked: the timer counts and expires, the caller sends nothing', () => {
  const t = timer(LVT_TIMER_PERIODIC | LVT_MASKED | 0xee);
  timerWriteInitialCount(t, 0, 10, 0);
  assert.equal(timerMasked(t, 0), true);
  assert.equal(timerAdvance(t, 0, 35), 3);
});

test('TSC-deadline: a deadline already reached fires at once and the MSR clears (test_tsc_deadline_timer)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 1, max: 8 }), (now, ratio) => {
      const t = new Float64Array(TIMER.SIZE);
      timerInit(t, 0, ratio);
      timerWriteLvt(t, 0, LVT_TIMER_TSC_DEADLINE | 0xef, now);
      assert.equal(timerWriteDeadline(t, 0, now * ratio, now), 1, 'tsc deadline timer');
      assert.equal(timerReadDeadline(t, 0), 0, 'tsc deadline timer clearing');
    }),
  );
});

test('TSC-deadline: a future deadline fires when the TSC reaches it; 0 disarms; count registers read 0', () => {
  const t = new Float64Array(TIMER.SIZE);
  timerInit(t, 0, 3);
  timerWriteLvt(t, 0, LVT_TIMER_TSC_DEADLINE | 0xef, 0);
  timerWriteInitialCount(t, 0, 1234, 0);
  assert.equal(timerInitialCount(t, 0), 0);
  assert.equal(timerWriteDeadline(t, 0, 3000, 0), 0);
  assert.equal(timerReadDeadline(t, 0), 3000);
  assert.equal(timerNextExpiry(t, 0), 1000);
  assert.equal(timerAdvance(t, 0, 999), 0);
  assert.equal(timerAdvance(t, 0, 1000), 1);
  timerWriteDeadline(t, 0, 9000, 1000);
  timerWriteDeadline(t, 0, 0, 1001);
  assert.equal(timerAdvance(t, 0, 1e9), 0);
});

test('into or out of TSC-deadline mode the timer stops and TMICT and the deadline clear (KVM apic_update_lvtt)', () => {
  const t = timer(LVT_TIMER_PERIODIC | 0xee);
  timerWriteInitialCount(t, 0, 50, 0);
  timerWriteLvt(t, 0, LVT_TIMER_TSC_DEADLINE | 0xee, 10);
  assert.equal(timerAdvance(t, 0, 1e6), 0);
  timerWriteDeadline(t, 0, 5e6, 10);
  timerWriteLvt(t, 0, LVT_TIMER_ONESHOT | 0xee, 20);
  assert.equal(timerInitialCount(t, 0), 0);
  assert.equal(timerReadDeadline(t, 0), 0);
  assert.equal(timerAdvance(t, 0, 1e7), 0);
  timerWriteDeadline(t, 0, 5, 30);
  assert.equal(timerReadDeadline(t, 0), 0, 'ignored outside TSC-deadline mode');
});

test('timerNextExpiry agrees with timerAdvance in every mode', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(LVT_TIMER_ONESHOT, LVT_TIMER_PERIODIC),
      fc.integer({ min: 1, max: 1000 }),
      fc.constantFrom(...DIVIDE_CODES),
      fc.integer({ min: 1, max: 5 }),
      (mode, n, d, rounds) => {
        const t = timer(mode | 0x40, d);
        timerWriteInitialCount(t, 0, n, 0);
        for (let r = 0; r < rounds; r++) {
          const due = timerNextExpiry(t, 0);
          if (due < 0) break;
          assert.equal(timerAdvance(t, 0, due - 1), 0);
          assert.equal(timerAdvance(t, 0, due), 1);
        }
      },
    ),
  );
});
