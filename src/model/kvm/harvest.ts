/**
 * Harvesting a posted-interrupt request bitmap (PIR) word by word, as KVM's
 * __kvm_apic_update_irr and the host's posted-MSI handler do it (seed 000; kvm-semantics.md
 * section 2, "Seed 000"). Each load of a PIR word is one plain-load step and each exchange one
 * locked step, so the checker interleaves postings between them:
 *
 * `u32-interleaved` (KVM before seed 000 patch 5/8): for each of the eight 32-bit chunks, a load
 *   and, if it read non-zero, an xchg of that chunk with 0.
 * `u64-loads-then-xchg` (pi_harvest_pir since patches 5, 6 and 8/8, and handle_pending_pir of host
 *   posted MSI since 1b03d82ba15e): the four 64-bit words are loaded first (READ_ONCE); if all
 *   read zero, the harvest returns "nothing pending"; otherwise each word that read non-zero is
 *   exchanged with 0 (arch_xchg), in order.
 *
 * A word that read zero is not exchanged: a bit posted into it after its load stays in PIR, and its
 * poster, which sets PIR before ON, finds ON clear (the harvest's caller cleared it first) and
 * notifies again (checklist S000-a). A word that read non-zero is exchanged, and the exchange
 * returns every bit it holds by then, also those posted after the load.
 *
 * Between steps the harvest keeps in the actor's local ACTOR.L0 a bitmask of the words whose load
 * read non-zero (bit j: 64-bit word j; u32-interleaved uses bit 0 only, "found something"), and
 * clears it when the harvest ends, so that the state after a harvest does not depend on it.
 */
import { NULL_SINK, type Sink } from '../platform/events.ts';
import type { World } from '../platform/world.ts';
import { ACTOR, type Instr, NEXT, ProgramBuilder } from './program.ts';
import type { Variant } from './variants.ts';

export type HarvestShape = Variant['harvest'];

export interface PirHarvest {
  /** The kernel function the steps belong to. */
  fn: string;
  shape: HarvestShape;
  /** Offset in the World of the PIR (word 0 of the descriptor). */
  pir: (w: World) => number;
  /**
   * Called at each exchange with the index (0..7) of a 32-bit PIR word and the value the exchange
   * returned (possibly 0), after that word was zeroed.
   */
  take: (w: World, a: number, word32: number, value: number, sink: Sink) => void;
  /**
   * Where the harvest goes when every load read zero (pi_harvest_pir returned false); without it,
   * to the step after the harvest, as for a harvest that took something.
   */
  empty?: { pc: number };
}

/** Emits the harvest: load steps (`passesStores`) and exchange steps (one full barrier each). */
export function emitPirHarvest(b: ProgramBuilder, h: PirHarvest): void {
  if (h.shape === 'u64-loads-then-xchg') emitU64(b, h);
  else emitU32(b, h);
}

function emitU64(b: ProgramBuilder, h: PirHarvest): void {
  const { fn, pir, take } = h;
  const end = b.fresh('harvest_end');
  const tEnd = b.target(end);
  const tEmpty = h.empty ?? tEnd;
  const xchgMarks = [0, 1, 2, 3].map(() => b.fresh('harvest_xchg'));
  const tXchg = xchgMarks.map((mk) => b.target(mk));
  /** The exchange step of the first word at or above j whose load read non-zero, or the end. */
  const nextXchg = (w: World, a: number, j: number): number => {
    const mask = w.m[a + ACTOR.L0] >>> j;
    if (mask === 0) {
      w.m[a + ACTOR.L0] = 0;
      return tEnd.pc;
    }
    return tXchg[j + 31 - Math.clz32(mask & -mask)].pc;
  };
  for (let j = 0; j < 4; j++) {
    b.step(fn, `READ_ONCE(pir[${j}])`, (w, a) => {
      const o = pir(w) + 2 * j;
      if ((w.m[o] | w.m[o + 1]) !== 0) w.m[a + ACTOR.L0] |= 1 << j;
      if (j < 3) return NEXT;
      // "Nothing pending": the early return of pi_harvest_pir (seed 000 patches 2 and 6).
      return w.m[a + ACTOR.L0] === 0 ? tEmpty.pc : nextXchg(w, a, 0);
    }).passesStores();
  }
  for (let j = 0; j < 4; j++) {
    b.mark(xchgMarks[j]);
    b.step(fn, `arch_xchg(pir[${j}])`, (w, a, sink) => {
      const o = pir(w) + 2 * j;
      const lo = w.m[o];
      const hi = w.m[o + 1];
      w.m[o] = 0;
      w.m[o + 1] = 0;
      take(w, a, 2 * j, lo, sink);
      take(w, a, 2 * j + 1, hi, sink);
      return nextXchg(w, a, j + 1);
    }).barriers(1);
  }
  b.mark(end);
}

function emitU32(b: ProgramBuilder, h: PirHarvest): void {
  const { fn, pir, take } = h;
  const end = b.fresh('harvest_end');
  const tEnd = b.target(end);
  const tEmpty = h.empty ?? tEnd;
  const loadMarks = [0, 1, 2, 3, 4, 5, 6, 7].map(() => b.fresh('harvest_load'));
  const tLoad = loadMarks.map((mk) => b.target(mk));
  /** After chunk i: the next chunk's load, or the end (empty if nothing was found). */
  const after = (w: World, a: number, i: number): number => {
    if (i < 7) return tLoad[i + 1].pc;
    const found = w.m[a + ACTOR.L0];
    w.m[a + ACTOR.L0] = 0;
    return found === 0 ? tEmpty.pc : tEnd.pc;
  };
  for (let i = 0; i < 8; i++) {
    b.mark(loadMarks[i]);
    b.step(fn, `READ_ONCE(pir[${i}])`, (w, a) => {
      if (w.m[pir(w) + i] === 0) return after(w, a, i);
      w.m[a + ACTOR.L0] = 1;
      return NEXT;
    }).passesStores();
    b.step(fn, `xchg(pir[${i}])`, (w, a, sink) => {
      const o = pir(w) + i;
      const val = w.m[o];
      w.m[o] = 0;
      take(w, a, i, val, sink);
      return after(w, a, i);
    }).barriers(1);
  }
  b.mark(end);
}

/** PIR loads and exchanges of one harvest. */
export interface HarvestCost {
  loads: number;
  xchgs: number;
}

/**
 * Runs the emitted harvest alone on a PIR holding `vectors` and counts its steps: plain loads (the
 * steps marked `passesStores`) and locked exchanges (the steps with a barrier). The figures come
 * from the same steps the checker explores, not from a table.
 */
export function harvestCost(shape: HarvestShape, vectors: readonly number[]): HarvestCost {
  const b = new ProgramBuilder();
  emitPirHarvest(b, { fn: 'harvest', shape, pir: () => 0, take: () => {} });
  const code: Instr[] = b.build();
  // The PIR at 0 (eight words), the actor's block after it.
  const a = 8;
  const m = new Uint32Array(a + ACTOR.SIZE);
  for (const v of vectors) m[v >>> 5] |= 1 << (v & 31);
  const w = { m } as World;
  const cost = { loads: 0, xchgs: 0 };
  let pc = 0;
  while (pc < code.length) {
    const ins = code[pc];
    if (ins.passesStores === true) cost.loads++;
    else if ((ins.barriers ?? 0) > 0) cost.xchgs++;
    const next = ins.exec(w, a, NULL_SINK);
    pc = next === NEXT ? pc + 1 : next;
  }
  return cost;
}
