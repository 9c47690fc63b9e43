#!/usr/bin/env node
// Builds dist/: compiles src/ and bench/ with tsc (tsconfig.build.json rewrites the `.ts` import
// extensions to `.js`) and copies every other file under them (built-in scenarios, the manifest,
// harvest.wasm, the worker bootstrap) beside the compiled code, so code that finds a file through
// import.meta.url finds it in dist/ as in src/. Runs on `npm install` (the `prepare` script) and as
// `npm run build`. Plain JavaScript, so it needs nothing but Node and the TypeScript package.
// Why: docs/decisions/0110-compiled-cli.md.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = join(root, 'dist');
/** Written last: bin/irqlab.mjs runs dist/ only when this exists, so a half-done build is no build. */
const STAMP = 'build-stamp';

rmSync(dist, { recursive: true, force: true });
// The package exports no ./bin path, so find tsc beside its package.json.
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${r.status ?? r.signal})\n`);
  process.exit(1);
}
let copied = 0;
for (const top of ['src', 'bench']) {
  for (const e of readdirSync(join(root, top), { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name.endsWith('.ts')) continue;
    const from = join(e.parentPath, e.name);
    const to = join(dist, relative(root, from));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    copied++;
  }
}
writeFileSync(join(dist, STAMP), `${new Date().toISOString()}\n`);
process.stderr.write(`build: dist/ compiled, ${copied} other files copied\n`);
