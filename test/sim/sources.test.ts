import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWorkload } from '../../src/scenarios/loader.ts';
import { workloadSources } from '../../src/sim/sources.ts';

const W = parseWorkload(
  `
duration: 10ms
devices:
  - { name: nic, rate: 10kHz, vector: "0x41", vcpu: 1 }
  - { rate: 1kHz, arrivals: periodic, vector: "0x42", vcpu: 0 }
ipis:
  - { rate: 50kHz, vector: "0xf0", from: 0, to: 1 }
halts:
  - { vcpu: all, busy: 50us, idle: 200us }
overcommit: { vcpusPerPcpu: 2, timeSlice: 3ms, migration: 10Hz }
pit: { rate: 1kHz, window: 2us }
`,
  'w.yaml',
);

test('sources are numbered by their place in the workload, in cycles of the table clock', () => {
  const s = workloadSources(W, 2, 2.5, 1, 0);
  assert.deepEqual(
    s.map((x) => `${x.source}:${x.kind}:${x.name}`),
    [
      '0:device:device 0 (nic)',
      '1:device:device 1',
      '2:ipi:ipi 0',
      '3:halt:halt vcpu0',
      '4:halt:halt vcpu1',
      '5:migration:migration vcpu0',
      '6:migration:migration vcpu1',
      '7:pit:pit',
      '8:pit-window:pit IF=0 window',
    ],
  );
  // 1 kHz periodic at 2.5 GHz: a tick every 2.5M cycles, from 0.
  const tick = s[1].arrivals!;
  assert.deepEqual([tick.next(0), tick.next(0), tick.next(0)], [0, 2.5e6, 5e6]);
  assert.equal(s[3].meanA, 50e3 * 2.5);
  assert.equal(s[3].meanB, 200e3 * 2.5);
  assert.equal(s[8].meanA, 2e3 * 2.5);
  // 10 kHz Poisson: mean gap 250,000 cycles (SE of the mean of 20,000 gaps: 0.7%).
  const dev = s[0].arrivals!;
  let t = 0;
  for (let i = 0; i < 20000; i++) t = dev.next(t);
  assert.ok(Math.abs(t / 20000 / 250000 - 1) < 0.03, `${t / 20000}`);
});

test('common random numbers: the same (workload, seed, replication) gives the same events per source', () => {
  const first = (seed: number, rep: number) =>
    workloadSources(W, 2, 2.5, seed, rep).flatMap((x) =>
      x.arrivals ? [x.arrivals.next(0)] : [x.rng.uniform()],
    );
  assert.deepEqual(first(7, 3), first(7, 3));
  assert.notDeepEqual(first(7, 3), first(7, 4));
  assert.notDeepEqual(first(7, 3), first(8, 3));
});
