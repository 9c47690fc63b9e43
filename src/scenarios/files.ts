/**
 * Finding and reading scenario files: a path on disk, or the name of a built-in scenario.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { parseScenarioText } from './loader.ts';
import type { Scenario } from './schema.ts';

export const BUILTIN_DIR = fileURLToPath(new URL('./builtin/', import.meta.url));
/** The built-in simulation scenarios (`irqlab sim --all`): actors that repeat, and a workload. */
export const SIM_DIR = fileURLToPath(new URL('./sim/', import.meta.url));

function namesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Names of the built-in scenarios, sorted. */
export function builtinNames(): string[] {
  return namesIn(BUILTIN_DIR);
}

/** Names of the built-in simulation scenarios, sorted. */
export function simNames(): string[] {
  return namesIn(SIM_DIR);
}

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
  builtin: boolean;
}

export function loadScenario(arg: string): LoadedScenario {
  if (existsSync(arg)) {
    if (statSync(arg).isDirectory())
      throw new UserError(
        `${arg}: is a directory; give a scenario file (.json, .yaml) or a built-in name ('irqlab list' shows them)`,
      );
    let text: string;
    try {
      text = readFileSync(arg, 'utf8');
    } catch (e) {
      throw new UserError(
        `${arg}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    return { file: arg, scenario: parseScenarioText(text, arg), builtin: false };
  }
  for (const dir of [BUILTIN_DIR, SIM_DIR]) {
    const file = join(dir, `${arg}.json`);
    if (/^[a-z0-9][a-z0-9._-]*$/.test(arg) && existsSync(file)) {
      const s = parseScenarioText(readFileSync(file, 'utf8'), `builtin:${arg}`);
      if (s.name !== arg)
        throw new UserError(`builtin:${arg}: name "${s.name}" does not match its file name`);
      return { file, scenario: s, builtin: true };
    }
  }
  throw new UserError(
    `${arg}: no such file, and no built-in scenario of that name ('irqlab list' shows them)`,
  );
}

export function loadAllBuiltins(): LoadedScenario[] {
  return builtinNames().map((n) => loadScenario(n));
}
