/**
 * Cost tables from disk (`--costs FILE`) and `irqlab costs`, which prints a table with the source of
 * each number. A FILE is a path to a YAML cost file, or the name of a built-in table
 * (src/sim/costs/<name>.yaml). Bad input is one line naming the file, the place and the fault
 * (exit 2).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import {
  type CostTable,
  PRIMITIVE_NAMES,
  PRIMITIVES,
  parseCostText,
  parseStepMapText,
  type StepMap,
} from '../sim/costs.ts';

export const COSTS_DIR = fileURLToPath(new URL('../sim/costs/', import.meta.url));
const STEP_MAP = 'steps.yaml';

/** The default table for a machine: AMD's when it uses AVIC, else Intel's. */
export function defaultCostTable(avic: boolean): string {
  return avic ? 'amd-epyc' : 'intel-skylake-sp';
}

/** Names of the built-in cost tables, sorted. */
export function builtinCostTables(): string[] {
  return readdirSync(COSTS_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== STEP_MAP)
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

let stepMap: StepMap | undefined;
function sharedStepMap(): StepMap {
  stepMap ??= parseStepMapText(readFileSync(join(COSTS_DIR, STEP_MAP), 'utf8'), `builtin:${STEP_MAP}`);
  return stepMap;
}

function builtinTable(name: string): CostTable | undefined {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || name === 'steps') return undefined;
  const file = join(COSTS_DIR, `${name}.yaml`);
  if (!existsSync(file)) return undefined;
  const t = parseCostText(readFileSync(file, 'utf8'), `builtin:${name}`, sharedStepMap(), builtinTable);
  if (t.name !== name) throw new UserError(`builtin:${name}: name "${t.name}" does not match its file name`);
  return t;
}

/** `--costs FILE`: a cost file on disk, else a built-in table of that name. */
export function loadCostTable(arg: string): CostTable {
  if (existsSync(arg) && statSync(arg).isFile())
    return parseCostText(readFileSync(arg, 'utf8'), arg, sharedStepMap(), builtinTable);
  const t = builtinTable(arg);
  if (t) return t;
  throw new UserError(
    `${arg}: no such file, and no built-in cost table of that name (built-in: ${builtinCostTables().join(', ')})`,
  );
}

export function registerCosts(program: Command): void {
  program
    .command('costs')
    .description('print a cost table: each primitive in cycles, with its source (validates --costs files)')
    .argument('[table]', 'a cost file (.yaml) or a built-in table name', defaultCostTable(false))
    .option('--json', 'print the table as one JSON document')
    .action((arg: string, opts: { json?: boolean }) => {
      const t = loadCostTable(arg);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ schemaVersion: 1, tool: 'irqlab', costs: t }, null, 2)}\n`);
        return;
      }
      const out: string[] = [];
      out.push(`${t.name}: ${t.cpu}`);
      out.push(`clock ${t.clockGHz.value} GHz (${t.clockGHz.source})`);
      out.push('');
      const w = Math.max(...PRIMITIVE_NAMES.map((p) => p.length));
      for (const p of PRIMITIVE_NAMES) {
        const e = t.primitives[p];
        out.push(`${p.padEnd(w)}  ${String(e.cycles).padStart(6)} cycles  ${PRIMITIVES[p]}`);
        out.push(`${' '.repeat(w)}  source: ${e.source}`);
      }
      out.push('');
      out.push(`${t.steps.length} step entries, ${t.events.length} event entries (src/sim/costs/steps.yaml)`);
      if (t.published.length > 0) {
        out.push('');
        out.push('published end-to-end figures (to compare with the simulation, never inputs):');
        for (const f of t.published) {
          const v = f.cycles !== undefined ? `${f.cycles} cycles` : f.ns !== undefined ? `${f.ns} ns` : '';
          out.push(`  ${f.what}: ${v}${f.change ? ` (${f.change})` : ''}; ${f.source}`);
        }
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
