/**
 * Writes schema/scenario.schema.json, the JSON Schema of the scenario format, from the zod schema
 * in src/scenarios/schema.ts (`npm run schema`). test/scenarios/schema.test.ts checks that the
 * committed file is what this script produces.
 *
 * The input side is published (`io: 'input'`): what a file may contain, so hex strings as well as
 * numbers, and fields with a default are optional. Two things zod leaves out of the input side are
 * put back, because editors use them:
 *  - the range of a hex-or-integer value ("0x31" or 49) is checked by zod after the string has
 *    become a number, on the output side of a pipe; the range goes onto the integer branch, and the
 *    hex branch's pattern is bounded by the number of digits when the range allows it;
 *  - zod drops the default of a transforming field (the default is an output value); it is kept
 *    when it is also a valid input, which it is for every default in the format.
 * The cross-field rules of the schema's superRefine (vCPU and pCPU indices within the machine, a
 * device.post with irte or vcpu+vector, ...) have no JSON Schema form: the loader checks them.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { scenario } from '../src/scenarios/schema.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../schema/scenario.schema.json', import.meta.url));

type Json = Record<string, unknown>;

/** The hex-string branch of a hex-or-integer value whose integer range is 0..max. */
function hexBranch(branch: Json, max: number): Json {
  const digits = max.toString(16).length;
  // Bounded by digit count only when every value of that many digits is in range (max = 16^k - 1).
  if (max + 1 !== 16 ** digits) return branch;
  return { ...branch, pattern: `^0x0*[0-9a-fA-F]{1,${digits}}$` };
}

/** A sub-schema on its own, without the "$schema" line. */
function standalone(s: z.core.$ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io: 'input' }) as Json;
  return rest;
}

function override(ctx: { zodSchema: z.core.$ZodType; jsonSchema: Json }): void {
  const s = ctx.zodSchema;
  const json = ctx.jsonSchema;
  if (s instanceof z.ZodPipe && s.in instanceof z.ZodUnion && s.out instanceof z.ZodNumber) {
    const min = s.out.minValue;
    const max = s.out.maxValue;
    if (min === null || max === null) return;
    // Built from the union's options, not from json.anyOf: at this point the branches that are
    // themselves pipes may not have been filled in yet.
    json.anyOf = (s.in.options as z.core.$ZodType[]).map((o) => {
      const b = standalone(o);
      if (b.type === 'integer') return { ...b, minimum: min, maximum: max };
      if (b.type === 'string' && min === 0) return hexBranch(b, max);
      return b;
    });
    return;
  }
  if (s instanceof z.ZodDefault && json.default === undefined) {
    const value = s.def.defaultValue;
    if (z.safeParse(s.def.innerType, value).success) json.default = JSON.parse(JSON.stringify(value));
  }
}

/** The JSON Schema of the scenario format as the text of SCHEMA_FILE (pretty-printed, final newline). */
export function scenarioSchemaText(): string {
  const json = z.toJSONSchema(scenario, { io: 'input', override });
  return `${JSON.stringify(json, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, scenarioSchemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
