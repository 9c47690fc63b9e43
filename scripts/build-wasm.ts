/**
 * Assembles the WebAssembly kernels, src/runtime/harvest.wat and src/check/state-diff.wat, into
 * .wasm files beside them with wabt (a devDependency, so this runs at build time only; the .wasm
 * files are committed and test/runtime/wasm-build.test.ts and test/check/state-diff.test.ts check
 * that they still match their .wat, so neither CI nor users need a build step).
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
export const STATE_DIFF_WAT = new URL('../src/check/state-diff.wat', import.meta.url);
export const STATE_DIFF_WASM = new URL('../src/check/state-diff.wasm', import.meta.url);

/** Every kernel: its text and the binary committed beside it. */
const KERNELS: readonly { readonly wat: URL; readonly wasm: URL }[] = [
  { wat: HARVEST_WAT, wasm: HARVEST_WASM },
  { wat: STATE_DIFF_WAT, wasm: STATE_DIFF_WASM },
];

/** Assembles WAT text with the threads (shared memory, atomics) and SIMD features. */
export async function assembleWat(name: string, text: string): Promise<Uint8Array> {
  const w = await wabt();
  const mod = w.parseWat(name, text, { threads: true, simd: true });
  try {
    // Not mod.validate(): wabt 1.0.39's validate ignores the feature flags and rejects every
    // shared memory ("memories may not be shared"). WebAssembly.Module validates on load anyway.
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    return Uint8Array.from(buffer);
  } finally {
    mod.destroy();
  }
}

/** Assembles a committed .wat file. */
export async function assembleWatFile(wat: URL): Promise<Uint8Array> {
  return assembleWat(fileURLToPath(wat).split('/').pop()!, await readFile(wat, 'utf8'));
}

/** Assembles the committed harvest.wat. */
export function assembleHarvestWat(): Promise<Uint8Array> {
  return assembleWatFile(HARVEST_WAT);
}

async function main(argv: readonly string[]): Promise<number> {
  let status = 0;
  for (const k of KERNELS) {
    const bytes = await assembleWatFile(k.wat);
    // Compiling is the validation step (see above).
    await Wasm.compile(bytes);
    const out = fileURLToPath(k.wasm);
    if (argv.includes('--check')) {
      const committed = new Uint8Array(await readFile(out));
      const same = committed.length === bytes.length && committed.every((b, i) => b === bytes[i]);
      process.stdout.write(same ? `${out}: up to date\n` : `${out}: differs from its .wat\n`);
      if (!same) status = 1;
      continue;
    }
    await writeFile(out, bytes);
    process.stdout.write(`wrote ${out} (${bytes.length} bytes)\n`);
  }
  return status;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
