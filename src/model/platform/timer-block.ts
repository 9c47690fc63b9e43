/**
 * The local APIC timer of each vCPU inside the World (machine.lapicTimer): hw/timer.ts keeps a
 * timer as TIMER.SIZE numbers of a Float64Array, because times can outgrow 32 bits; in a scenario
 * they do not (the loader bounds counts, deadlines and the ticks of time.advance), so each number
 * is one word of the World, copied to a scratch block around every timer operation. The block also
 * holds the time (`now`, in timer input ticks, the same for every vCPU) and the number of
 * expirations so far (instrumentation for expectations).
 */
import { TIMER, timerCurrentCount, timerInit, timerInitialCount, timerReadDeadline } from '../hw/timer.ts';
import type { ExtraBlock, FieldDesc } from './layout.ts';
import type { World } from './world.ts';

/** Words of a vCPU's timer block: hw/timer.ts's numbers, then these. */
export const TIMER_BLOCK = {
  NOW: TIMER.SIZE,
  FIRED: TIMER.SIZE + 1,
  SIZE: TIMER.SIZE + 2,
} as const;

const scratch = new Float64Array(TIMER.SIZE);

/** Copies vCPU timer block `o` into the scratch block (allocation-free) and returns it. */
export function timerLoad(m: Uint32Array, o: number): Float64Array {
  for (let i = 0; i < TIMER.SIZE; i++) scratch[i] = m[o + i];
  return scratch;
}

/** Writes the scratch block back. Every value is a whole number below 2^32 (the loader's bounds). */
export function timerStore(m: Uint32Array, o: number): void {
  for (let i = 0; i < TIMER.SIZE; i++) m[o + i] = scratch[i];
}

export function timerBlockName(x: number): string {
  return `timer.vcpu${x}`;
}

const FIELDS: readonly FieldDesc[] = [
  { name: 'timer.lvt', offset: TIMER.LVT, kind: 'u32' },
  { name: 'timer.divide', offset: TIMER.DIVIDE, kind: 'u32' },
  {
    name: 'timer.initialCount',
    offset: 0,
    kind: 'u32',
    get: (m, o) => timerInitialCount(timerLoad(m, o), 0),
  },
  {
    name: 'timer.currentCount',
    offset: 0,
    kind: 'u32',
    get: (m, o) => timerCurrentCount(timerLoad(m, o), 0, m[o + TIMER_BLOCK.NOW]),
  },
  { name: 'timer.deadline', offset: 0, kind: 'u32', get: (m, o) => timerReadDeadline(timerLoad(m, o), 0) },
  { name: 'timer.now', offset: TIMER_BLOCK.NOW, kind: 'u32' },
  { name: 'timer.fired', offset: TIMER_BLOCK.FIRED, kind: 'u32' },
];

/** The timer blocks of a machine with `n` vCPUs. */
export function timerExtras(n: number): ExtraBlock[] {
  return Array.from({ length: n }, (_, x) => ({
    name: timerBlockName(x),
    prefix: `vcpu${x}`,
    size: TIMER_BLOCK.SIZE,
    fields: FIELDS,
  }));
}

/** Reset state of every timer (hw/timer.ts timerInit: LVT masked, divide by 2, stopped). */
export function timerBlocksInit(w: World): void {
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    const o = w.L.extra.get(timerBlockName(x));
    if (o === undefined) return;
    const t = timerLoad(w.m, o);
    timerInit(t, 0);
    timerStore(w.m, o);
  }
}
