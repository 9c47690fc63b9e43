/**
 * The committed harvest.wasm is what harvest.wat assembles to, so neither CI nor users need a
 * build step (re-run `npm run build:wasm` after editing the .wat).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { assembleHarvestWat, HARVEST_WASM } from '../../scripts/build-wasm.ts';
import { Wasm } from '../../src/runtime/index.ts';

test('src/runtime/harvest.wasm matches a fresh assembly of harvest.wat', async () => {
  const fresh = await assembleHarvestWat();
  const committed = new Uint8Array(await readFile(HARVEST_WASM));
  assert.equal(committed.length, fresh.length, 'size differs: run npm run build:wasm');
  assert.ok(
    committed.every((b, i) => b === fresh[i]),
    'bytes differ: run npm run build:wasm',
  );
});

test('harvest.wasm imports a shared memory and exports the two harvest functions', async () => {
  const mod = await Wasm.compile(new Uint8Array(await readFile(HARVEST_WASM)));
  const M = (
    globalThis as unknown as {
      WebAssembly: { Module: { imports(m: unknown): unknown; exports(m: unknown): unknown } };
    }
  ).WebAssembly.Module;
  assert.deepEqual(M.imports(mod), [{ module: 'env', name: 'memory', kind: 'memory' }]);
  assert.deepEqual(M.exports(mod), [
    { name: 'harvest_u32', kind: 'function' },
    { name: 'harvest_u64', kind: 'function' },
  ]);
  assert.throws(
    () => new Wasm.Instance(mod, { env: { memory: new Wasm.Memory({ initial: 1, maximum: 1 }) } }),
    'an unshared memory is rejected',
  );
});
