/**
 * x86-TSO store buffers (src/model/kvm/tso.ts) and how the system schedules them: a buffered store
 * is invisible to other threads until its drain action; meanwhile its thread runs only steps that
 * may pass a store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { replay } from '../../../src/check/counterexample.ts';
import { ACTOR } from '../../../src/model/kvm/program.ts';
import { KVM_VCPU, MODE_IN_GUEST, MODE_OUTSIDE_GUEST } from '../../../src/model/kvm/state.ts';
import {
  drainStoreBuffer,
  ownLoad,
  plainStore,
  storeBufferEmpty,
  storeBufferFull,
} from '../../../src/model/kvm/tso.ts';
import { check, modelOf, preset } from '../../check/support.ts';

describe('store buffer', () => {
  test('own loads forward from the buffer, other CPUs see memory; stores drain oldest first', () => {
    const m = new Uint32Array(32);
    const w = { m } as Parameters<typeof plainStore>[0];
    plainStore(w, 0, true, 20, 1);
    plainStore(w, 0, true, 21, 2);
    assert.equal(storeBufferFull(m, 0), true);
    assert.equal(ownLoad(w, 0, true, 20), 1);
    assert.equal(m[20], 0);
    drainStoreBuffer(m, 0);
    assert.deepEqual([m[20], m[21]], [1, 0], 'the older store becomes visible first');
    drainStoreBuffer(m, 0);
    assert.deepEqual([m[20], m[21]], [1, 2]);
    assert.equal(ownLoad(w, 0, false, 21), 2);
  });

  test('a plain store under TSO waits in the buffer; SC writes at once', () => {
    const m = new Uint32Array(16);
    const w = { m } as Parameters<typeof plainStore>[0];
    plainStore(w, 0, true, 12, 7);
    assert.equal(m[12], 0);
    assert.equal(storeBufferEmpty(m, 0), false);
    drainStoreBuffer(m, 0);
    assert.equal(m[12], 7);
    assert.equal(storeBufferEmpty(m, 0), true);
    assert.equal(m[ACTOR.SB + 2], 0);
    plainStore(w, 0, false, 13, 9);
    assert.equal(m[13], 9);
    assert.equal(storeBufferEmpty(m, 0), true);
  });
});

describe('mode-store-fence under TSO', () => {
  const model = modelOf(preset('mode-store-fence', 'mutation-no-mb-after-mode'), undefined, 'tso');
  const thread = model.actors.findIndex((a) => a.vcpu === 0);
  const base = model.actorBase[thread];
  const k = model.w.L.kvmVcpu[0];
  const drainAction = model.actors.length + model.w.machine.pcpus + model.w.machine.vcpus.length + thread;

  test('every random interleaving: a thread with a buffered store runs only steps that pass stores, and vcpu->mode is IN_GUEST_MODE in memory only after the drain', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (choices) => {
        const s = new Uint32Array(model.words);
        model.init(s);
        const acts = new Int32Array(model.maxActions);
        for (const c of choices) {
          const n = model.enabled(s, acts);
          if (n === 0) break;
          const buffered = !storeBufferEmpty(s, base);
          for (let i = 0; i < n; i++) {
            if (acts[i] === thread && buffered) {
              assert.equal(model.actors[thread].code[s[base + ACTOR.PC]].passesStores, true);
            }
          }
          assert.equal(buffered, Array.from(acts.subarray(0, n)).includes(drainAction));
          const a = acts[c % n];
          const modeBefore = s[k + KVM_VCPU.MODE];
          model.step(s, a);
          if (modeBefore === MODE_OUTSIDE_GUEST && s[k + KVM_VCPU.MODE] === MODE_IN_GUEST) {
            assert.equal(a, drainAction, 'IN_GUEST_MODE became visible other than by the drain');
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('traces under TSO', () => {
  test('a buffered store shows as "(buffered)" at its step and as a plain change at its drain', () => {
    const model = modelOf(preset('mode-store-fence', 'mutation-no-mb-after-mode'), undefined, 'tso');
    const o = check(model).outcome;
    assert.equal(o.kind, 'violated');
    if (o.kind !== 'violated') return;
    const lines = replay(model, o.path).entries.map((e) =>
      e.changes.map((c) => `${e.action} ${c.field} ${c.from}→${c.to}`).join('; '),
    );
    const stored = lines.findIndex((l) =>
      l.includes('vcpu0.mode OUTSIDE_GUEST_MODE→IN_GUEST_MODE (buffered)'),
    );
    const drained = lines.findIndex((l) => /drain vcpu0\.mode OUTSIDE_GUEST_MODE→IN_GUEST_MODE$/.test(l));
    assert.ok(stored >= 0 && drained > stored, lines.join('\n'));
  });
});
