/**
 * Choosers: the one place where a driver resolves nondeterminism (ARCHITECTURE.md, "one model,
 * several drivers"). Every driver executes the same compiled model through `enabled` and `step`;
 * at each state it hands the enabled actions to its chooser, which picks one or stops. The
 * exhaustive checker takes every choice (src/check/explorer.ts) and needs no object for it; the
 * drivers of one schedule use these: a script in order (`irqlab run`), a recorded path (replay),
 * a seeded random pick (`irqlab check --simulate`), and the simulator's earliest due event.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export interface Chooser {
  /**
   * Picks one of the `n` enabled actions `acts[0..n)` at step `depth` of the schedule: returns its
   * index in `acts`, or -1 to end the schedule here. Called with n = 0 at a state where nothing is
   * enabled, so that a chooser can say why its schedule could not go on.
   */
  choose(s: Uint32Array, acts: Int32Array, n: number, depth: number): number;
}

/**
 * `irqlab run`'s fixed rule: the hardware reacts first (a pCPU takes a pending interrupt, a vCPU
 * takes a recognized virtual interrupt or its handler EOIs, a store buffer drains), in action-id
 * order, until nothing happens on its own; then the lowest-numbered actor runs one step (the
 * script first when there is one: it is actor 0). `actors` is the number of program actors;
 * action ids at or above it are the hardware's (SystemModel.enabled).
 */
export function scriptedChooser(actors: number): Chooser {
  return {
    choose(_s, acts, n) {
      for (let k = 0; k < n; k++) if (acts[k] >= actors) return k;
      return n > 0 ? 0 : -1;
    },
  };
}

/** Why a recorded path cannot be followed (replay's "did not reproduce"). */
export class PathDiverged extends Error {}

/** Replays `path` (action ids), stopping at its end; an action not enabled where the path has it diverges. */
export function replayChooser(path: readonly number[]): Chooser {
  return {
    choose(_s, acts, n, depth) {
      if (depth >= path.length) return -1;
      for (let k = 0; k < n; k++) if (acts[k] === path[depth]) return k;
      throw new PathDiverged(
        `step ${depth + 1} (action ${path[depth]}) is not enabled in the state the trace reaches`,
      );
    },
  };
}

/**
 * A uniformly random pick among the enabled actions, from a seeded generator (xoroshiro128+, the
 * pure-rand package fast-check uses), so that a seed names a schedule on every machine.
 */
export class RandomChooser implements Chooser {
  private rng: RandomGenerator;
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed | 0);
  }
  choose(_s: Uint32Array, _acts: Int32Array, n: number): number {
    return n === 0 ? -1 : uniformInt(this.rng, 0, n - 1);
  }
}
