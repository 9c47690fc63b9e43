/** src/sim stays pure (ARCHITECTURE.md principle 1 for the simulator): no node: imports, no clock, no Math.random. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../src/sim/', import.meta.url));

test('src/sim has no node: imports, no clock and no Math.random', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 8);
  for (const f of files) {
    const text = readFileSync(join(DIR, f), 'utf8');
    assert.doesNotMatch(text, /from ['"]node:/, `${f} imports node:`);
    assert.doesNotMatch(
      text,
      /Math\.random|Date\.now|new Date\(|performance\.now/,
      `${f} reads a clock or Math.random`,
    );
  }
});
