import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../../src/errors.ts';
import {
  apicMatchesDest,
  DELIVERY_MODE,
  DEST_MODE,
  type DeliveryMode,
  DFR_CLUSTER,
  DFR_FLAT,
  decodeX2apicIcr,
  decodeXapicIcr,
  encodeX2apicIcr,
  encodeXapicIcr,
  type Icr,
  type LapicInfo,
  lowestPriorityTarget,
  resolveDest,
  SHORTHAND,
  type Shorthand,
  X2APIC_ICR_RESERVED_LO,
  x2apicIcrFromBigInt,
  x2apicIcrToBigInt,
  x2apicLdr,
  xapicIcrHighWrite,
  xapicIcrLowWrite,
} from '../../../src/model/hw/icr.ts';

const MODES: DeliveryMode[] = [0, 1, 2, 4, 5, 6];
const SHORTHANDS: Shorthand[] = [0, 1, 2, 3];
const BITS: (0 | 1)[] = [0, 1];

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 0xff });

function arbIcr(format: 'xapic' | 'x2apic'): fc.Arbitrary<Icr> {
  return fc
    .record({
      vector: u8,
      deliveryMode: fc.constantFrom(...MODES),
      destMode: fc.constantFrom(0 as const, 1 as const),
      deliveryStatus: format === 'xapic' ? fc.constantFrom(0 as const, 1 as const) : fc.constant(0 as const),
      level: fc.constantFrom(0 as const, 1 as const),
      triggerMode: fc.constantFrom(0 as const, 1 as const),
      shorthand: fc.constantFrom(...SHORTHANDS),
      dest: format === 'xapic' ? u8 : u32,
    })
    .map((r) => ({ ...r })); // fc.record builds null-prototype objects; deepEqual compares prototypes
}

function decoded(r: ReturnType<typeof decodeXapicIcr>): Icr {
  if (!r.ok) assert.fail(r.reason);
  return r.icr;
}

test('every combination of the enumerated fields round-trips in both formats', () => {
  // Exhaustive over delivery mode x dest mode x status x level x trigger x shorthand; random vector/dest.
  fc.assert(
    fc.property(u8, u8, u32, (vector, d8, d32) => {
      for (const deliveryMode of MODES)
        for (const destMode of BITS)
          for (const deliveryStatus of BITS)
            for (const level of BITS)
              for (const triggerMode of BITS)
                for (const shorthand of SHORTHANDS) {
                  const x: Icr = {
                    vector,
                    deliveryMode,
                    destMode,
                    deliveryStatus,
                    level,
                    triggerMode,
                    shorthand,
                    dest: d8,
                  };
                  const w = encodeXapicIcr(x);
                  assert.deepEqual(decoded(decodeXapicIcr(w.lo, w.hi)), x);
                  if (deliveryStatus) continue;
                  const y: Icr = { ...x, dest: d32 };
                  const v = encodeX2apicIcr(y);
                  assert.deepEqual(decoded(decodeX2apicIcr(v.lo, v.hi)), y);
                }
    }),
    { numRuns: 20 },
  );
});

test('round trip property: decode(encode(icr)) = icr', () => {
  fc.assert(
    fc.property(arbIcr('xapic'), (icr) => {
      const w = encodeXapicIcr(icr);
      assert.deepEqual(decoded(decodeXapicIcr(w.lo, w.hi)), icr);
    }),
  );
  fc.assert(
    fc.property(arbIcr('x2apic'), (icr) => {
      const w = encodeX2apicIcr(icr);
      assert.deepEqual(decoded(decodeX2apicIcr(w.lo, w.hi)), icr);
      assert.deepEqual(x2apicIcrFromBigInt(x2apicIcrToBigInt(w)), w);
    }),
  );
});

test('field positions match the SDM layout', () => {
  const icr: Icr = {
    vector: 0x31,
    deliveryMode: DELIVERY_MODE.NMI,
    destMode: DEST_MODE.LOGICAL,
    deliveryStatus: 0,
    level: 1,
    triggerMode: 1,
    shorthand: SHORTHAND.ALL_EXCLUDING_SELF,
    dest: 0x12345678,
  };
  // shorthand 11b at 19:18, trigger 15, level 14, logical 11, NMI 100b at 10:8, vector 0x31.
  assert.equal(x2apicIcrToBigInt(encodeX2apicIcr(icr)), 0x12345678_000ccc31n);
  assert.deepEqual(encodeXapicIcr({ ...icr, dest: 0xab, deliveryStatus: 1 }), {
    lo: 0x000cdc31,
    hi: 0xab000000,
  });
});

test('reserved delivery modes 3 and 7 are rejected in both formats', () => {
  for (const dm of [3, 7]) {
    assert.equal(decodeXapicIcr(dm << 8, 0).ok, false);
    assert.equal(decodeX2apicIcr(dm << 8, 0).ok, false);
  }
  assert.throws(() => encodeXapicIcr({ ...base(), deliveryMode: 3 as DeliveryMode }), UserError);
});

test('x2APIC: any reserved bit set is rejected (property)', () => {
  const reservedWithBusy = (X2APIC_ICR_RESERVED_LO | 0x1000) >>> 0;
  fc.assert(
    fc.property(arbIcr('x2apic'), u32, (icr, noise) => {
      const bad = noise & reservedWithBusy;
      fc.pre(bad !== 0);
      const w = encodeX2apicIcr(icr);
      const r = decodeX2apicIcr((w.lo | bad) >>> 0, w.hi);
      assert.equal(r.ok, false);
    }),
  );
});

test('x2APIC bit 12 alone: rejected by default, dropped with busy: ignore', () => {
  const w = encodeX2apicIcr(base());
  assert.equal(decodeX2apicIcr(w.lo | 0x1000, w.hi).ok, false);
  const r = decodeX2apicIcr(w.lo | 0x1000, w.hi, { busy: 'ignore' });
  assert.deepEqual(decoded(r), base());
  assert.equal(decodeX2apicIcr((w.lo | 0x3000) >>> 0, w.hi, { busy: 'ignore' }).ok, false);
  assert.throws(() => encodeX2apicIcr({ ...base(), deliveryStatus: 1 }), UserError);
});

test('xAPIC: reserved bits are ignored on decode (property)', () => {
  const loReserved = X2APIC_ICR_RESERVED_LO; // bits 31:20, 17:16 and 13 are reserved in xAPIC too
  fc.assert(
    fc.property(arbIcr('xapic'), u32, u32, (icr, n1, n2) => {
      const w = encodeXapicIcr(icr);
      const r = decodeXapicIcr((w.lo | (n1 & loReserved)) >>> 0, (w.hi | (n2 & 0x00ffffff)) >>> 0);
      assert.deepEqual(decoded(r), icr);
    }),
  );
});

test('xAPIC ICR high keeps only bits 31:24; a low write clears delivery status', () => {
  fc.assert(
    fc.property(u32, (v) => {
      const h = xapicIcrHighWrite(v);
      assert.equal(h, (v & 0xff000000) >>> 0);
      assert.equal(decoded(decodeXapicIcr(0, h)).dest, v >>> 24);
      const l = xapicIcrLowWrite(v);
      assert.equal(l, (v & ~0x1000) >>> 0);
    }),
  );
  assert.equal(xapicIcrHighWrite(0x12345678), 0x12000000);
});

test('encoders throw UserError on out-of-range fields', () => {
  assert.throws(() => encodeXapicIcr({ ...base(), vector: 256 }), UserError);
  assert.throws(() => encodeXapicIcr({ ...base(), dest: 0x100 }), UserError);
  assert.throws(() => encodeX2apicIcr({ ...base(), dest: 2 ** 32 }), UserError);
  assert.throws(() => encodeX2apicIcr({ ...base(), shorthand: 4 as Shorthand }), UserError);
  assert.throws(() => x2apicIcrFromBigInt(1n << 64n), UserError);
});

function base(): Icr {
  return {
    vector: 0x40,
    deliveryMode: DELIVERY_MODE.FIXED,
    destMode: DEST_MODE.PHYSICAL,
    deliveryStatus: 0,
    level: 1,
    triggerMode: 0,
    shorthand: SHORTHAND.NONE,
    dest: 0,
  };
}

// ---- destination resolution -------------------------------------------------------------------

function xapic(apicId: number, ldr = 0, dfr = DFR_FLAT): LapicInfo {
  return { apicId, mode: 'xapic', ldr, dfr };
}
function x2apic(apicId: number): LapicInfo {
  return { apicId, mode: 'x2apic', ldr: x2apicLdr(apicId), dfr: 0 };
}
const phys = (dest: number) => ({ destMode: DEST_MODE.PHYSICAL, shorthand: SHORTHAND.NONE, dest });
const logical = (dest: number) => ({ destMode: DEST_MODE.LOGICAL, shorthand: SHORTHAND.NONE, dest });

test('x2apicLdr derives cluster and bit from the ID', () => {
  assert.equal(x2apicLdr(0), 0x00000001);
  assert.equal(x2apicLdr(0x23), 0x00020008);
  assert.equal(x2apicLdr(0x1f), 0x00018000);
  assert.equal(x2apicLdr(0xfffff), 0xffff8000);
  fc.assert(
    fc.property(u32, (id) => {
      const ldr = x2apicLdr(id);
      assert.equal(ldr >>> 16, (id >>> 4) & 0xffff);
      assert.equal(ldr & 0xffff, 1 << (id & 0xf));
    }),
  );
});

test('physical destination examples', () => {
  const xs = [xapic(0), xapic(1), xapic(2), xapic(3)];
  assert.deepEqual(resolveDest(phys(2), 'xapic', 0, xs), [2]);
  assert.deepEqual(resolveDest(phys(7), 'xapic', 0, xs), []);
  assert.deepEqual(resolveDest(phys(0xff), 'xapic', 0, xs), [0, 1, 2, 3]);
  const x2 = [x2apic(0), x2apic(0x10), x2apic(0x100)];
  assert.deepEqual(resolveDest(phys(0x100), 'x2apic', 0, x2), [2]);
  assert.deepEqual(resolveDest(phys(0xff), 'x2apic', 0, x2), []);
  assert.deepEqual(resolveDest(phys(0xffffffff), 'x2apic', 0, x2), [0, 1, 2]);
  // An 8-bit (I/O APIC style) broadcast reaches x2APIC targets too (KVM kvm_apic_mda).
  assert.deepEqual(resolveDest(phys(0xff), 'xapic', 0, x2), [0, 1, 2]);
  assert.deepEqual(resolveDest(phys(0x10), 'xapic', 0, x2), [1]);
  assert.throws(() => resolveDest(phys(0x100), 'xapic', 0, xs), UserError);
});

test('logical flat examples', () => {
  const xs = [0, 1, 2, 3].map((i) => xapic(i, (1 << i) << 24, DFR_FLAT));
  assert.deepEqual(resolveDest(logical(0x05), 'xapic', 0, xs), [0, 2]);
  assert.deepEqual(resolveDest(logical(0x08), 'xapic', 0, xs), [3]);
  assert.deepEqual(resolveDest(logical(0x30), 'xapic', 0, xs), []);
  assert.deepEqual(resolveDest(logical(0xff), 'xapic', 0, xs), [0, 1, 2, 3]);
});

test('logical xAPIC cluster examples', () => {
  const xs = [
    xapic(0, 0x11000000, DFR_CLUSTER), // cluster 1, member bit 0
    xapic(1, 0x12000000, DFR_CLUSTER), // cluster 1, member bit 1
    xapic(2, 0x21000000, DFR_CLUSTER), // cluster 2, member bit 0
    xapic(3, 0x28000000, DFR_CLUSTER), // cluster 2, member bit 3
  ];
  assert.deepEqual(resolveDest(logical(0x13), 'xapic', 0, xs), [0, 1]);
  assert.deepEqual(resolveDest(logical(0x12), 'xapic', 0, xs), [1]);
  assert.deepEqual(resolveDest(logical(0x29), 'xapic', 0, xs), [2, 3]);
  assert.deepEqual(resolveDest(logical(0x14), 'xapic', 0, xs), []);
  assert.deepEqual(resolveDest(logical(0x31), 'xapic', 0, xs), []);
  assert.deepEqual(resolveDest(logical(0xf1), 'xapic', 0, xs), [0, 2]); // cluster 0xF: every cluster
  assert.deepEqual(resolveDest(logical(0xff), 'xapic', 0, xs), [0, 1, 2, 3]);
  // A DFR model other than 1111b or 0000b matches nothing.
  assert.equal(apicMatchesDest(xapic(0, 0x11000000, 0x5fffffff), DEST_MODE.LOGICAL, 0x11, 'xapic'), false);
});

test('logical x2APIC cluster examples', () => {
  const x2 = [x2apic(0), x2apic(1), x2apic(0x10), x2apic(0x11), x2apic(0x23)];
  assert.deepEqual(resolveDest(logical(0x00010003), 'x2apic', 0, x2), [2, 3]);
  assert.deepEqual(resolveDest(logical(0x00000001), 'x2apic', 0, x2), [0]);
  assert.deepEqual(resolveDest(logical(0x00020008), 'x2apic', 0, x2), [4]);
  assert.deepEqual(resolveDest(logical(0x00020001), 'x2apic', 0, x2), []);
  assert.deepEqual(resolveDest(logical(0xffffffff), 'x2apic', 0, x2), [0, 1, 2, 3, 4]);
});

test('shorthands ignore the destination field', () => {
  const xs = [xapic(4), xapic(5), xapic(6)];
  for (const dest of [0, 5, 0xff]) {
    for (const destMode of [0, 1] as const) {
      assert.deepEqual(resolveDest({ destMode, shorthand: SHORTHAND.SELF, dest }, 'xapic', 5, xs), [1]);
      assert.deepEqual(
        resolveDest({ destMode, shorthand: SHORTHAND.ALL_INCLUDING_SELF, dest }, 'xapic', 5, xs),
        [0, 1, 2],
      );
      assert.deepEqual(
        resolveDest({ destMode, shorthand: SHORTHAND.ALL_EXCLUDING_SELF, dest }, 'xapic', 5, xs),
        [0, 2],
      );
    }
  }
});

test('resolveDest reuses the out array', () => {
  const out = [9, 9, 9, 9, 9];
  const r = resolveDest(phys(1), 'xapic', 0, [xapic(0), xapic(1)], out);
  assert.equal(r, out);
  assert.deepEqual(out, [1]);
});

const x2Ids = fc.uniqueArray(fc.integer({ min: 0, max: 0x3f }), { minLength: 1, maxLength: 24 });
const anyIds = fc.uniqueArray(u32, { minLength: 1, maxLength: 12 });

test('property: physical unicast hits exactly the APICs with that ID', () => {
  fc.assert(
    fc.property(anyIds, u32, fc.boolean(), (ids, r, pick) => {
      const apics = ids.map(x2apic);
      const dest = pick ? ids[r % ids.length] : r;
      fc.pre(dest !== 0xffffffff);
      const expect = ids.flatMap((id, i) => (id === dest ? [i] : []));
      assert.deepEqual(resolveDest(phys(dest), 'x2apic', ids[0], apics), expect);
      if (pick) assert.equal(expect.length, 1);
    }),
  );
  fc.assert(
    fc.property(fc.uniqueArray(u8, { minLength: 1, maxLength: 16 }), u8, (ids, dest) => {
      fc.pre(dest !== 0xff);
      const apics = ids.map((id) => xapic(id));
      const expect = ids.flatMap((id, i) => (id === dest ? [i] : []));
      assert.deepEqual(resolveDest(phys(dest), 'xapic', ids[0], apics), expect);
    }),
  );
});

test('property: broadcast hits every APIC, in both modes and formats', () => {
  fc.assert(
    fc.property(anyIds, fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, (ids, destMode) => {
      const apics = ids.map(x2apic);
      const all = ids.map((_, i) => i);
      assert.deepEqual(
        resolveDest({ destMode, shorthand: 0, dest: 0xffffffff }, 'x2apic', ids[0], apics),
        all,
      );
    }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.record({ id: u8, ldr: u32, dfr: fc.constantFrom(DFR_FLAT, DFR_CLUSTER) }), {
        minLength: 1,
        maxLength: 16,
      }),
      fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
      (rs, destMode) => {
        const apics = rs.map((r) => xapic(r.id, r.ldr, r.dfr));
        const all = rs.map((_, i) => i);
        assert.deepEqual(resolveDest({ destMode, shorthand: 0, dest: 0xff }, 'xapic', 0, apics), all);
        assert.deepEqual(
          resolveDest({ destMode, shorthand: SHORTHAND.ALL_INCLUDING_SELF, dest: 0 }, 'xapic', 0, apics),
          all,
        );
      },
    ),
  );
});

test('property: all-excluding-self never contains the sender and contains everyone else', () => {
  fc.assert(
    fc.property(anyIds, fc.nat(), u32, (ids, k, dest) => {
      const apics = ids.map(x2apic);
      const sender = ids[k % ids.length];
      const r = resolveDest(
        { destMode: 0, shorthand: SHORTHAND.ALL_EXCLUDING_SELF, dest },
        'x2apic',
        sender,
        apics,
      );
      assert.ok(!r.some((i) => ids[i] === sender));
      assert.equal(r.length, ids.length - 1);
      const s = resolveDest({ destMode: 1, shorthand: SHORTHAND.SELF, dest }, 'x2apic', sender, apics);
      assert.deepEqual(
        s.map((i) => ids[i]),
        [sender],
      );
    }),
  );
});

test('property: x2APIC cluster hits exactly the IDs whose cluster matches and whose bit is in the mask', () => {
  fc.assert(
    fc.property(
      x2Ids,
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 0xffff }),
      (ids, cluster, mask) => {
        const dest = ((cluster << 16) | mask) >>> 0;
        const apics = ids.map(x2apic);
        const expect = ids.flatMap((id, i) => (id >>> 4 === cluster && (mask >>> (id & 15)) & 1 ? [i] : []));
        assert.deepEqual(resolveDest(logical(dest), 'x2apic', ids[0], apics), expect);
      },
    ),
  );
});

test('property: xAPIC flat is an AND with LDR[31:24]; cluster compares 7:4 and ANDs 3:0', () => {
  fc.assert(
    fc.property(fc.array(u8, { minLength: 1, maxLength: 16 }), u8, (lids, dest) => {
      fc.pre(dest !== 0xff);
      const flat = lids.map((l, i) => xapic(i, l << 24, DFR_FLAT));
      assert.deepEqual(
        resolveDest(logical(dest), 'xapic', 0, flat),
        lids.flatMap((l, i) => ((l & dest) !== 0 ? [i] : [])),
      );
      const cl = lids.map((l, i) => xapic(i, l << 24, DFR_CLUSTER));
      assert.deepEqual(
        resolveDest(logical(dest), 'xapic', 0, cl),
        lids.flatMap((l, i) =>
          (dest >> 4 === 0xf || dest >> 4 === l >> 4) && (l & dest & 0xf) !== 0 ? [i] : [],
        ),
      );
    }),
  );
});

test('lowest priority: lowest PPR wins, ties go to the lowest APIC ID', () => {
  const apics = [xapic(7), xapic(3), xapic(5), xapic(1)];
  assert.equal(lowestPriorityTarget([0, 1, 2, 3], apics, [0x20, 0x10, 0x10, 0x30]), 1);
  assert.equal(lowestPriorityTarget([0, 2], apics, [0x20, 0x10, 0x10, 0x30]), 2);
  assert.equal(lowestPriorityTarget([0, 1, 2, 3], apics, [0, 0, 0, 0]), 3);
  assert.equal(lowestPriorityTarget([0, 1, 2], apics, [0x11, 0x12, 0x11, 0]), 2);
  assert.equal(lowestPriorityTarget([], apics, [0, 0, 0, 0]), -1);
  fc.assert(
    fc.property(
      anyIds.chain((ids) =>
        fc.tuple(
          fc.constant(ids),
          fc.array(u8, { minLength: ids.length, maxLength: ids.length }),
          fc.subarray(ids.map((_, i) => i)),
        ),
      ),
      ([ids, pprs, cands]) => {
        const ap = ids.map(x2apic);
        const w = lowestPriorityTarget(cands, ap, pprs);
        if (cands.length === 0) return assert.equal(w, -1);
        assert.ok(cands.includes(w));
        for (const c of cands) {
          assert.ok(pprs[w] <= pprs[c]);
          if (pprs[c] === pprs[w]) assert.ok(ids[w] <= ids[c]);
        }
      },
    ),
  );
});

test('lowest-priority ICR: resolution returns the whole candidate set', () => {
  const xs = [0, 1, 2, 3].map((i) => xapic(i, (1 << i) << 24, DFR_FLAT));
  const icr = decoded(decodeXapicIcr(0x00000940 /* logical, lowest priority, vector 0x40 */, 0x0b000000));
  assert.equal(icr.deliveryMode, DELIVERY_MODE.LOWEST_PRIORITY);
  const cands = resolveDest(icr, 'xapic', 0, xs);
  assert.deepEqual(cands, [0, 1, 3]);
  assert.equal(lowestPriorityTarget(cands, xs, [0x50, 0x40, 0, 0x40]), 1);
});
