#!/usr/bin/env node
// Builds dist/: compiles src/ and bench/ with tsc (tsconfig.build.json rewrites the `.ts` import
// extensions to `.js`) and copies every other file under them (built-in scenarios, the manifest,
// harvest.wasm, the worker bootstrap) beside the compiled code, so code that finds a file through
// import.meta.url finds it in dist/ as in src/. Then bundles the report page (viewer/) with esbuild
// into dist/viewer/page.js and page.css, which `irqlab report` inlines into its HTML file, so a
// report needs no build step on the user's machine, and bundles each process's and search thread's
// entry with what it imports into `x.bundle.js` beside `x.js`, which loads faster. Runs on `npm
// install` (the `prepare` script) and as `npm run build`. Plain JavaScript, so it needs nothing but
// Node, TypeScript and esbuild. Why: docs/decisions/0110-compiled-cli.md,
// 0191-report-page-build.md, 0260-bundled-entries.md.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
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
/** An esbuild plugin: each compiled module's `import.meta.url` is its own file's, not the bundle's. */
function ownUrl(bundleDir) {
  return {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!args.path.startsWith(dist) || !text.includes('import.meta.url')) return undefined;
        const rel = JSON.stringify(relative(bundleDir, args.path).split(sep).join('/'));
        return {
          contents: text.replaceAll('import.meta.url', `new URL(${rel}, import.meta.url).href`),
          loader: 'js',
        };
      });
    },
  };
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
// The entries a process or a search thread starts from, each bundled with what it imports (zod
// and commander included) into `x.bundle.js` beside `x.js`: Node 20 loads ES modules one by one,
// about 0.4 ms each, and the CLI imports about 250 (docs/decisions/0260-bundled-entries.md).
// Every module keeps its own `import.meta.url` (rewritten to its compiled file's URL), so code that
// finds a file, a worker or a WebAssembly module beside itself finds it in dist/ as before. yaml
// (loaded on first use through createRequire) and tsx (the worker bootstrap's, for sources) stay
// outside.
const BUNDLED = [
  'src/cli/main.js',
  'src/check/search-worker.js',
  'src/check/bfs-worker.js',
  'src/bench/spin-run.js',
];
for (const entry of BUNDLED) {
  const outfile = join(dist, entry.replace(/\.js$/, '.bundle.js'));
  await esbuild.build({
    entryPoints: [join(dist, entry)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    external: ['yaml', 'tsx', 'tsx/*'],
    // CommonJS packages in an ES module bundle call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __irqlabRequire } from 'node:module';\nconst require = __irqlabRequire(import.meta.url);",
    },
    plugins: [ownUrl(dirname(outfile))],
  });
}
writeFileSync(join(dist, STAMP), `${new Date().toISOString()}\n`);
process.stderr.write(`build: dist/ compiled, ${copied} other files copied\n`);
