/**
 * Assembles src/runtime/harvest.wat into src/runtime/harvest.wasm with wabt (a devDependency, so
 * this runs at build time only; the .wasm is committed and test/runtime/wasm-build.test.ts checks
 * that it still matches the .wat, so neither CI nor users need a build step).
 *
 * Usage: node --import tsx scripts/build-wasm.ts [--check]
 *   --check  exit 1 (without writing) if the committed .wasm differs from a fresh assembly.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';
import { Wasm } from '../src/runtime/wasm-api.ts';

export const HARVEST_WAT = new URL('../src/runtime/harvest.wat', import.meta.url);
export const HARVEST_WASM = new URL('../src/runtime/harvest.wasm', import.meta.url);

/** Assembles WAT text with the threads feature (shared memory, atomics). */
export async function assembleWat(name: string, text: string): Promise<Uint8Array> {
  const w = await wabt();
  const mod = w.parseWat(name, text, { threads: true });
  try {
    // Not mod.validate(): wabt 1.0.39's validate ignores the feature flags and rejects every
    // shared memory ("memories may not be shared"). WebAssembly.Module validates on load anyway.
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    return Uint8Array.from(buffer);
  } finally {
    mod.destroy();
  }
}

/** Assembles the committed harvest.wat. */
export async function assembleHarvestWat(): Promise<Uint8Array> {
  return assembleWat('harvest.wat', await readFile(HARVEST_WAT, 'utf8'));
}

async function main(argv: readonly string[]): Promise<number> {
  const bytes = await assembleHarvestWat();
  // Compiling is the validation step (see above).
  await Wasm.compile(bytes);
  const out = fileURLToPath(HARVEST_WASM);
  if (argv.includes('--check')) {
    const committed = new Uint8Array(await readFile(out));
    const same = committed.length === bytes.length && committed.every((b, i) => b === bytes[i]);
    process.stdout.write(same ? `${out}: up to date\n` : `${out}: differs from harvest.wat\n`);
    return same ? 0 : 1;
  }
  await writeFile(out, bytes);
  process.stdout.write(`wrote ${out} (${bytes.length} bytes)\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
