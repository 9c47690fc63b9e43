import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apicMatchesDest,
  DEST_MODE,
  DFR_CLUSTER,
  DFR_FLAT,
  kvmApicMatchDest,
  kvmIpiDestinations,
  kvmLowestPriorityTarget,
  kvmVectorToIndex,
  type LapicInfo,
  resolveDest,
  SHORTHAND,
} from '../../../src/model/hw/icr.ts';

const xapic = (apicId: number, logicalId: number, cluster: boolean): LapicInfo => ({
  apicId,
  mode: 'xapic',
  ldr: (logicalId << 24) >>> 0,
  dfr: cluster ? DFR_CLUSTER : DFR_FLAT,
});
const bit = fc.integer({ min: 0, max: 7 });
const bit4 = fc.integer({ min: 0, max: 3 });
const cluster = fc.integer({ min: 0, max: 14 });
const logical = { destMode: DEST_MODE.LOGICAL, shorthand: SHORTHAND.NONE } as const;

// kvm-unit-tests apic.c test_logical_ipi_xapic: vCPU0 has LDR 0, vCPU1 has logical ID BIT(i)
// (flat) or c << 4 | BIT(i) (cluster); a destination BIT(i) | k, for any k, reaches vCPU1 only.
test('flat model, single target: BIT(i) | k reaches the APIC with logical ID BIT(i) and not one with LDR 0', () => {
  fc.assert(
    fc.property(bit, fc.integer({ min: 0, max: 0xfe }), (i, k) => {
      const dest = (1 << i) | k;
      if (dest === 0xff) return; // broadcast, skipped by the test
      const apics = [xapic(0, 0, false), xapic(1, 1 << i, false)];
      assert.deepEqual(resolveDest({ ...logical, dest }, 'xapic', 0, apics), [1]);
      for (const a of apics)
        assert.equal(kvmApicMatchDest(a, 1, dest, 'xapic'), apicMatchesDest(a, 1, dest, 'xapic'));
    }),
  );
});

test('cluster model, single target: c << 4 | BIT(i) | k reaches the APIC with logical ID c << 4 | BIT(i) (clusters 0-14)', () => {
  fc.assert(
    fc.property(cluster, bit4, fc.integer({ min: 0, max: 0xf }), (c, i, k) => {
      const dest = (c << 4) | (1 << i) | k;
      const apics = [xapic(0, 0, true), xapic(1, (c << 4) | (1 << i), true)];
      // LDR 0 is cluster 0 with no member bit, so it is never matched, even for c = 0.
      assert.deepEqual(resolveDest({ ...logical, dest }, 'xapic', 0, apics), [1]);
      assert.equal(kvmApicMatchDest(apics[1], 1, dest, 'xapic'), true);
      assert.equal(kvmApicMatchDest(apics[0], 1, dest, 'xapic'), false);
    }),
  );
});

test('multiple targets in both models: both APICs named in the mask receive (test_logical_ipi_multi_target)', () => {
  fc.assert(
    fc.property(bit, bit, fc.integer({ min: 0, max: 0xff }), (i, j, k) => {
      if (i === j) return;
      const dest = (1 << i) | (1 << j) | k;
      assert.deepEqual(
        resolveDest({ ...logical, dest }, 'xapic', 0, [xapic(0, 1 << i, false), xapic(1, 1 << j, false)]),
        [0, 1],
      );
    }),
  );
  fc.assert(
    fc.property(cluster, bit4, bit4, (c, i, j) => {
      if (i === j) return;
      const dest = (c << 4) | (1 << i) | (1 << j);
      const apics = [xapic(0, (c << 4) | (1 << i), true), xapic(1, (c << 4) | (1 << j), true)];
      assert.deepEqual(resolveDest({ ...logical, dest }, 'xapic', 0, apics), [0, 1]);
      assert.ok(apics.every((a) => kvmApicMatchDest(a, 1, dest, 'xapic')));
    }),
  );
});

test('broadcast reaches every APIC in both destination modes and both models (SDM; test_physical_broadcast)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 0xfe }), fc.integer({ min: 0, max: 0xff }), fc.boolean()), {
        minLength: 1,
        maxLength: 6,
      }),
      (xs) => {
        const apics = xs.map(([id, l, c]) => xapic(id, l, c));
        const all = apics.map((_, i) => i);
        for (const destMode of [0, 1] as const) {
          assert.deepEqual(resolveDest({ destMode, shorthand: 0, dest: 0xff }, 'xapic', 0, apics), all);
          assert.ok(apics.every((a) => kvmApicMatchDest(a, destMode, 0xff, 'xapic')));
        }
        assert.deepEqual(
          resolveDest({ destMode: 0, shorthand: SHORTHAND.ALL_INCLUDING_SELF, dest: 0 }, 'xapic', 0, apics),
          all,
        );
      },
    ),
  );
});

test('xAPIC ID aliasing: two APICs with one xAPIC ID both receive a physical IPI to it (test_aliased_xapic_physical_ipi)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xfe }), (id) => {
      const apics = [xapic(id, 0, false), xapic(id, 0, false), xapic((id + 1) % 0xff, 0, false)];
      assert.deepEqual(resolveDest({ destMode: 0, shorthand: 0, dest: id }, 'xapic', 0xff, apics), [0, 1]);
    }),
  );
});

test('cluster 0xF: the SDM rule reaches every cluster, KVM matches only LDR cluster 0xF', () => {
  const a = xapic(1, 0x21, true);
  assert.equal(apicMatchesDest(a, 1, 0xf1, 'xapic'), true);
  assert.equal(kvmApicMatchDest(a, 1, 0xf1, 'xapic'), false);
  assert.equal(kvmApicMatchDest(xapic(2, 0xf1, true), 1, 0xf1, 'xapic'), true);
});

test('KVM lowest priority with vector hashing: the (vector mod n)-th software-enabled candidate (kvm_vector_to_index)', () => {
  assert.equal(kvmVectorToIndex(0x31, [0, 2, 5]), 2); // 49 mod 3 = 1
  assert.equal(kvmVectorToIndex(0x30, [0, 2, 5]), 0);
  assert.equal(kvmVectorToIndex(0x30, []), -1);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(31), { minLength: 1 }),
      fc.integer({ min: 16, max: 255 }),
      fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
      (xs, v, en) => {
        const cands = [...xs].sort((p, q) => p - q);
        const t = kvmLowestPriorityTarget(cands, v, en, { vectorHashing: true });
        const enabled = cands.filter((i) => en[i]);
        if (enabled.length === 0) assert.equal(t, -1);
        else assert.equal(t, enabled[v % enabled.length]);
      },
    ),
  );
});

test('KVM lowest priority without vector hashing: smallest arbitration priority, lowest index on a tie', () => {
  const en = [true, true, true, false];
  assert.equal(
    kvmLowestPriorityTarget([0, 1, 2, 3], 0x40, en, { vectorHashing: false, arbPrio: [3, 1, 1, 0] }),
    1,
  );
  assert.equal(kvmLowestPriorityTarget([0, 1, 2], 0x40, en, { vectorHashing: false }), 0);
});

test('KVM IPI destinations: shorthands by identity, so all-but-self reaches a vCPU sharing the sender ID', () => {
  const apics = [xapic(0, 1, false), xapic(0, 2, false), xapic(3, 4, false)];
  const en = [true, true, true];
  const hash = { vectorHashing: true };
  const ipi = (shorthand: 0 | 1 | 2 | 3, dest: number, deliveryMode: 0 | 1 = 0, destMode: 0 | 1 = 0) =>
    kvmIpiDestinations(
      { shorthand, dest, deliveryMode, destMode, vector: 0x31 },
      'xapic',
      0,
      apics,
      en,
      hash,
    );
  assert.deepEqual(ipi(SHORTHAND.SELF, 0), [0]);
  assert.deepEqual(ipi(SHORTHAND.ALL_EXCLUDING_SELF, 0), [1, 2]);
  assert.deepEqual(ipi(SHORTHAND.ALL_INCLUDING_SELF, 0), [0, 1, 2]);
  assert.deepEqual(ipi(SHORTHAND.NONE, 0), [0, 1], 'aliased physical ID');
  assert.deepEqual(ipi(SHORTHAND.NONE, 0x6, 0, 1), [1, 2], 'flat logical mask');
  assert.deepEqual(
    ipi(SHORTHAND.NONE, 0xff, 1),
    [0x31 % 3],
    'lowest priority broadcast: one, by vector hashing',
  );
});

test('KVM IPI destinations: a lowest-priority message reaches exactly one software-enabled matching APIC, fixed ones reach all', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.boolean()), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 16, max: 255 }),
      fc.integer({ min: 0, max: 0xff }),
      fc.boolean(),
      (xs, v, dest, hashing) => {
        const apics = xs.map(([l], i) => xapic(i, l, false));
        const en = xs.map(([, e]) => e);
        const opts = { vectorHashing: hashing };
        const fixed = kvmIpiDestinations(
          { shorthand: 0, dest, deliveryMode: 0, destMode: 1, vector: v },
          'xapic',
          0,
          apics,
          en,
          opts,
        );
        const lowest = kvmIpiDestinations(
          { shorthand: 0, dest, deliveryMode: 1, destMode: 1, vector: v },
          'xapic',
          0,
          apics,
          en,
          opts,
        );
        const eligible = fixed.filter((i) => en[i]);
        assert.equal(lowest.length, eligible.length > 0 ? 1 : 0);
        if (lowest.length) assert.ok(eligible.includes(lowest[0]));
      },
    ),
  );
});
