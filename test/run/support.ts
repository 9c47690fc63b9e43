/**
 * What the runner's tests share: a scenario written as a plain object and run, and the events and
 * fields they read back from the run.
 */
import assert from 'node:assert/strict';
import { findField, readField } from '../../src/model/platform/fields.ts';
import { type RunResult, runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';

// biome-ignore lint/suspicious/noExplicitAny: scenario files are written here as plain objects
export type Raw = Record<string, any>;

/** Runs a scenario given as a plain object (name, description and source filled in). */
export function run(raw: Raw): RunResult {
  const sc = { name: 't', description: 'd', source: 's', ...raw };
  return runScenario(parseScenarioText(JSON.stringify(sc), 't.json'), 't.json');
}

/** The vectors the guest of vCPU x received, in order. */
export function delivered(r: RunResult, x: number): number[] {
  return r.entries
    .flatMap((e) => e.events)
    .filter((e) => e.kind === 'deliver' && e.a === x)
    .map((e) => e.b);
}

/** The basic exit reasons of vCPU x's VM exits, in order. */
export function exits(r: RunResult, x: number): number[] {
  return r.entries
    .flatMap((e) => e.events)
    .filter((e) => e.kind === 'vmexit' && e.a === x)
    .map((e) => e.c);
}

/** A field of the final state, by its name in the layout (`vcpu0.PID.ON`, `pcpu1.hostIF`, ...). */
export function field(r: RunResult, name: string): unknown {
  const f = findField(r.world.L, name);
  assert.ok(f, name);
  return readField(r.world.m, f.block.base, f.field);
}
