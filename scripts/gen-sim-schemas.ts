/**
 * Writes schema/costs.schema.json and schema/workload.schema.json, the JSON Schemas of the
 * simulator's cost files and workloads, from their zod schemas (`node --import tsx
 * scripts/gen-sim-schemas.ts`). Editors that read a `# yaml-language-server: $schema=...` line
 * complete field and primitive names from them. test/sim/schemas.test.ts checks that the committed
 * files are what this script produces. The input side is published (what a file may contain); the
 * rules of the loaders beyond JSON Schema (terms in a step's sum, cross-field rules) are checked
 * when the file is loaded.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { workload } from '../src/scenarios/workload.ts';
import { costFile } from '../src/sim/costs.ts';

export const SIM_SCHEMAS: Record<string, () => string> = {
  'costs.schema.json': () => `${JSON.stringify(z.toJSONSchema(costFile, { io: 'input' }), null, 2)}\n`,
  'workload.schema.json': () => `${JSON.stringify(z.toJSONSchema(workload, { io: 'input' }), null, 2)}\n`,
};

export function simSchemaPath(name: string): string {
  return fileURLToPath(new URL(`../schema/${name}`, import.meta.url));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of Object.entries(SIM_SCHEMAS)) {
    writeFileSync(simSchemaPath(name), text());
    console.log(`wrote ${simSchemaPath(name)}`);
  }
}
