#!/usr/bin/env node
// Runs the compiled CLI in dist/, which `npm install` builds (the `prepare` script, scripts/build.mjs):
// its bundle, one file that loads faster than the compiled modules one by one (decision 0260).
// Without a complete build, or when a source file is newer than the build (a dev checkout after an
// edit or a pull), it runs the TypeScript sources through tsx instead, which starts about ten times
// slower, and says so on stderr. Why: docs/decisions/0110-compiled-cli.md.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Why dist/ cannot be run, or undefined when it can. */
function distUnusable() {
  let built;
  try {
    built = statSync(join(root, 'dist', 'build-stamp')).mtimeMs;
    statSync(join(root, 'dist', 'src', 'cli', 'main.bundle.js'));
  } catch {
    return 'no build in dist/';
  }
  // The sources the build reads; in a package unpacked by npm every file has the same time.
  for (const top of ['src', 'bench']) {
    let entries;
    try {
      entries = readdirSync(join(root, top), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile()) continue;
      const file = join(e.parentPath, e.name);
      if (statSync(file).mtimeMs > built) return `${relative(root, file)} is newer than the build in dist/`;
    }
  }
  return undefined;
}

const why = distUnusable();
if (why === undefined) {
  await import('../dist/src/cli/main.bundle.js');
} else {
  process.stderr.write(`irqlab: ${why} (npm run build); running the TypeScript sources through tsx\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
