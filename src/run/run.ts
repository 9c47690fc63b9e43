/**
 * `irqlab run`: one schedule of a scenario, chosen by the script's fixed rule (chooser.ts): the
 * compiled model (the same as the checker's) runs the scenario's steps in order, and after each
 * step the hardware reacts until nothing more happens on its own. Every step and every reaction
 * is one trace entry. Then the expectations are judged.
 */

import { scriptedChooser } from '../drive/chooser.ts';
import { drive, stepOf } from '../drive/drive.ts';
import { UserError } from '../errors.ts';
import { ACTOR } from '../model/kvm/program.ts';
import { DEFAULT_VARIANT, type Variant } from '../model/kvm/variants.ts';
import type { World } from '../model/platform/world.ts';
import type { SystemModel } from '../model/system/system.ts';
import { buildModel, SCRIPT_ACTOR } from '../scenarios/compile.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { recordStep, type TraceEntry } from '../trace/record.ts';
import { checkExpectations, type ExpectationResult } from './expect.ts';

export type { ExpectationResult } from './expect.ts';

export interface RunResult {
  scenario: string;
  entries: TraceEntry[];
  expectations: ExpectationResult[];
  ok: boolean;
  world: World;
}

/** A bound on one schedule: each reaction consumes a pending interrupt, so a run ends long before. */
const MAX_STEPS = 10_000;

/**
 * Runs a scenario to the end and judges its expectations. `file` names the scenario in the
 * UserError of a step that cannot happen in the state the previous steps left.
 */
export function runScenario(
  sc: Scenario,
  file: string = sc.name,
  variant: Variant = DEFAULT_VARIANT,
): RunResult {
  // No property monitors: a run reports what happened, and its expectations judge it.
  const model = buildModel(sc, variant, [], sc.memory ?? 'sc');
  const r = drive(model, scriptedChooser(model.actors.length), {
    maxSteps: MAX_STEPS,
    record: recordStep,
    stepOf: stepOf(model),
  });
  if (r.end === 'bound') throw new Error(`run did not reach quiescence within ${MAX_STEPS} steps`);
  // The script cannot go on: its next step is not possible in the state the run reached.
  const script = model.actors[0]?.name === SCRIPT_ACTOR ? model.actors[0] : undefined;
  if (
    r.end === 'stopped' ||
    (script !== undefined && r.final[model.actorBase[0] + ACTOR.PC] < script.code.length)
  )
    throw new UserError(stuck(model, r.final, file));
  const expectations = [
    ...checkpoints(sc, variant),
    ...checkExpectations(sc, withFinal(model, r.final), r.entries),
  ];
  return {
    scenario: sc.name,
    entries: r.entries,
    expectations,
    ok: expectations.every((e) => e.ok),
    world: model.w,
  };
}

function withFinal(model: SystemModel, s: Uint32Array): World {
  model.w.m = s;
  return model.w;
}

/**
 * The scenario's checkpoints: for each, the same schedule again, stopped once the script has done
 * steps[after] and the hardware has reacted to it, and the checkpoint's expectations judged there
 * (on the trace so far and the state at that point). Each result names its checkpoint.
 */
function checkpoints(sc: Scenario, variant: Variant): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  for (const cp of sc.checkpoints ?? []) {
    const model = buildModel(sc, variant, [], sc.memory ?? 'sc');
    const script = model.actors[0];
    const pcWord = model.actorBase[0] + ACTOR.PC;
    const inner = scriptedChooser(model.actors.length);
    const r = drive(
      model,
      {
        choose(s, acts, n, depth) {
          const k = inner.choose(s, acts, n, depth);
          if (k < 0 || acts[k] >= model.actors.length || acts[k] !== 0) return k;
          // The script is about to run its next instruction: stop if it starts a later step.
          const pc = s[pcWord];
          return (script.stepOfPc?.[pc] ?? Number.POSITIVE_INFINITY) > cp.after ? -1 : k;
        },
      },
      { maxSteps: MAX_STEPS, record: recordStep, stepOf: stepOf(model) },
    );
    const at = `after steps[${cp.after}]`;
    for (const e of checkExpectations({ ...sc, expect: cp.expect }, withFinal(model, r.final), r.entries))
      out.push({ ...e, what: `${at}: ${e.what}` });
  }
  return out;
}

/** Why a schedule stopped with actors not done: the first such actor's step and its reason. */
function stuck(model: SystemModel, s: Uint32Array, file: string): string {
  model.w.m = s;
  for (const [i, p] of model.actors.entries()) {
    const a = model.actorBase[i];
    const pc = s[a + ACTOR.PC];
    if (pc >= p.code.length) continue;
    const ins = p.code[pc];
    const step = p.stepOfPc?.[pc] ?? -1;
    const where = i === 0 && p.name === SCRIPT_ACTOR ? `steps[${step}]` : `actors[${p.name}].steps[${step}]`;
    const why = ins.why?.(model.w, a) ?? `${ins.fn}: ${ins.label} waits, and nothing else can run`;
    return `${file}: ${where}: ${why}`;
  }
  return `${file}: the run stopped with nothing left to do`;
}
