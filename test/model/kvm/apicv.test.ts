/**
 * The pure parts of the APICv-inhibit model (src/model/kvm/apicv.ts): apicv_update_lock's
 * exclusion, and the setter's IRQWIN recompute that keeps the seed-002 invariant over any
 * sequence of window-count changes and inhibit changes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  activationMatchesCount,
  downReadOk,
  downWriteOk,
  INHIBIT_IRQWIN,
  inhibitBit,
  inhibitsAfter,
  KVM_APICV,
} from '../../../src/model/kvm/apicv.ts';

describe('apicv_update_lock', () => {
  type Op = { kind: 'downRead' | 'upRead' | 'downWrite' | 'upWrite'; thread: number };
  const op = fc.record({
    kind: fc.constantFrom('downRead', 'upRead', 'downWrite', 'upWrite'),
    thread: fc.integer({ min: 0, max: 3 }),
  }) as fc.Arbitrary<Op>;

  test('a writer excludes readers and other writers, over any sequence of attempts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new Uint32Array(KVM_APICV.SIZE);
        // What each thread holds: 0 nothing, 1 read, 2 write.
        const held = [0, 0, 0, 0];
        for (const o of ops) {
          const h = held[o.thread];
          if (o.kind === 'downRead' && h === 0 && downReadOk(m, 0)) {
            m[KVM_APICV.READERS]++;
            held[o.thread] = 1;
          } else if (o.kind === 'downWrite' && h === 0 && downWriteOk(m, 0)) {
            m[KVM_APICV.WRITER] = 1;
            held[o.thread] = 2;
          } else if (o.kind === 'upRead' && h === 1) {
            m[KVM_APICV.READERS]--;
            held[o.thread] = 0;
          } else if (o.kind === 'upWrite' && h === 2) {
            m[KVM_APICV.WRITER] = 0;
            held[o.thread] = 0;
          }
          const writers = held.filter((x) => x === 2).length;
          const readers = held.filter((x) => x === 1).length;
          assert.ok(writers <= 1);
          assert.ok(writers === 0 || readers === 0);
          assert.equal(m[KVM_APICV.READERS], readers);
          assert.equal(m[KVM_APICV.WRITER], writers);
        }
      }),
    );
  });
});

describe('the IRQ-window count and the inhibits (counter variant, each call atomic)', () => {
  const PIT = inhibitBit('PIT_REINJ');
  type Op = 'inc' | 'dec' | 'setPit' | 'clearPit';
  const ops = fc.array(fc.constantFrom<Op>('inc', 'dec', 'setPit', 'clearPit'), { maxLength: 40 });

  /** kvm_inc_or_dec_irq_window_inhibit and kvm_set_or_clear_apicv_inhibit, each run alone. */
  function run(seq: Op[], recompute: boolean, initial: number): boolean {
    let mask = initial;
    let count = 0;
    for (const o of seq) {
      if (o === 'inc' || o === 'dec') {
        if (o === 'dec' && count === 0) continue;
        const inc = o === 'inc';
        count += inc ? 1 : -1;
        // The read-locked fast path leaves the mask alone; the write-locked one toggles on 0<->1.
        if ((mask & ~INHIBIT_IRQWIN) === 0 && count === (inc ? 1 : 0))
          mask = inhibitsAfter(mask, INHIBIT_IRQWIN, inc, count, recompute);
      } else {
        mask = inhibitsAfter(mask, PIT, o === 'setPit', count, recompute);
      }
      if (!activationMatchesCount(mask, count)) return false;
    }
    return true;
  }

  test('with the recompute: activated iff no other inhibit and a zero count, after every call', () => {
    fc.assert(fc.property(ops, fc.boolean(), (seq, pit) => run(seq, true, pit ? PIT : 0)));
  });

  test('without it, a window counted while PIT_REINJ is set is lost when PIT_REINJ is cleared', () => {
    assert.equal(run(['inc', 'clearPit'], false, PIT), false);
    assert.equal(run(['inc', 'clearPit'], true, PIT), true);
  });

  test('the setter takes IRQWIN from the count, never from its caller', () => {
    fc.assert(
      fc.property(fc.nat(0x1fff), fc.boolean(), fc.nat(4), (old, set, count) => {
        const n = inhibitsAfter(old, INHIBIT_IRQWIN, set, count, true);
        assert.equal((n & INHIBIT_IRQWIN) !== 0, count !== 0);
        assert.equal(n & ~INHIBIT_IRQWIN, old & ~INHIBIT_IRQWIN);
      }),
    );
  });
});
