import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SIM_SCHEMAS, simSchemaPath } from '../../scripts/gen-sim-schemas.ts';

test('schema/costs.schema.json and schema/workload.schema.json are what scripts/gen-sim-schemas.ts generates', () => {
  for (const [name, text] of Object.entries(SIM_SCHEMAS)) {
    assert.equal(
      readFileSync(simSchemaPath(name), 'utf8'),
      text(),
      `schema/${name} is stale: run node --import tsx scripts/gen-sim-schemas.ts`,
    );
  }
});
