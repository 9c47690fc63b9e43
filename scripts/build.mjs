#!/usr/bin/env node
// Builds dist/: compiles src/ and bench/ with tsc (tsconfig.build.json rewrites the `.ts` import
// extensions to `.js`) and copies every other file under them (built-in scenarios, the manifest,
// harvest.wasm, the worker bootstrap) beside the compiled code, so code that finds a file through
// import.meta.url finds it in dist/ as in src/. Then bundles the report page (viewer/) with esbuild
// into dist/viewer/page.js and page.css, which `irqlab report` inlines into its HTML file, so a
// report needs no build step on the user's machine. Runs on `npm install` (the `prepare` script)
// and as `npm run build`. Plain JavaScript, so it needs nothing but Node, TypeScript and esbuild.
// Why: docs/decisions/0110-compiled-cli.md, 0191-report-page-build.md.
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
// The report page: one script (the page's modules and Observable Plot) and its style.
const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: [join(root, 'viewer', 'main.ts')],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'inline',
  outfile: join(dist, 'viewer', 'page.js'),
  logLevel: 'warning',
});
copyFileSync(join(root, 'viewer', 'style.css'), join(dist, 'viewer', 'page.css'));
writeFileSync(join(dist, STAMP), `${new Date().toISOString()}\n`);
process.stderr.write(`build: dist/ compiled, ${copied} other files copied\n`);
