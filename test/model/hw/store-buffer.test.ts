import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  sbCount,
  sbDrainOldest,
  sbEmpty,
  sbLoad,
  sbPush,
  storeBufferWords,
} from '../../../src/model/hw/store-buffer.ts';

describe('store buffer (x86-TSO FIFO)', () => {
  it('behaves as a FIFO queue with store forwarding, against a reference model', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('store' as const),
        addr: fc.integer({ min: 0, max: 3 }),
        value: fc.nat(9),
      }),
      fc.record({ kind: fc.constant('drain' as const) }),
      fc.record({ kind: fc.constant('load' as const), addr: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 30 }), (depth, ops) => {
        const b = 4;
        const s = new Uint32Array(4 + storeBufferWords(depth));
        const mem = [0, 0, 0, 0];
        const queue: [number, number][] = [];
        for (const o of ops) {
          if (o.kind === 'store') {
            const ok = sbPush(s, b, depth, o.addr, o.value);
            assert.equal(ok, queue.length < depth);
            if (ok) queue.push([o.addr, o.value]);
          } else if (o.kind === 'drain') {
            sbDrainOldest(s, b);
            const e = queue.shift();
            if (e) mem[e[0]] = e[1];
          } else {
            const own = [...queue].reverse().find(([a]) => a === o.addr);
            assert.equal(sbLoad(s, b, o.addr), own ? own[1] : mem[o.addr]);
          }
          assert.deepEqual([...s.subarray(0, 4)], mem, 'other CPUs see only drained stores');
          assert.equal(sbCount(s, b), queue.length);
          assert.equal(sbEmpty(s, b), queue.length === 0);
        }
        // Unused entries are zero, so equal buffers are equal words.
        for (let i = 1 + 2 * queue.length; i < storeBufferWords(depth); i++) assert.equal(s[b + i], 0);
      }),
    );
  });
});
