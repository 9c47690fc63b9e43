/**
 * bin/irqlab.mjs picks what to run (docs/decisions/0110-compiled-cli.md): the compiled CLI in dist/
 * when its build stamp is newer than every source file, otherwise the sources through tsx, saying
 * why on stderr. Each case copies bin/ into a scratch package whose src/ and node_modules/ link to
 * this checkout's, with a dist/ made up for the case (a stand-in for the CLI's bundle, decision
 * 0260, that says it ran).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'irqlab-bin-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A scratch package; `dist` makes a dist/ whose stamp has the given time (seconds since 1970). */
function pkg(name: string, dist?: { stampTime: number }): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'irqlab.mjs'), join(dir, 'bin', 'irqlab.mjs'));
  for (const link of ['src', 'node_modules', 'package.json']) symlinkSync(join(ROOT, link), join(dir, link));
  if (dist) {
    mkdirSync(join(dir, 'dist', 'src', 'cli'), { recursive: true });
    writeFileSync(
      join(dir, 'dist', 'src', 'cli', 'main.bundle.js'),
      "process.stdout.write('compiled main.bundle.js ran\\n');\n",
    );
    writeFileSync(join(dir, 'dist', 'build-stamp'), 'test\n');
    utimesSync(join(dir, 'dist', 'build-stamp'), dist.stampTime, dist.stampTime);
  }
  return dir;
}

function irqlab(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'irqlab.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a current build in dist/ is run, silently', () => {
  const r = irqlab(pkg('current', { stampTime: Date.now() / 1000 + 3600 }), '--version');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'compiled main.bundle.js ran\n');
  assert.equal(r.stderr, '');
});

test('without dist/, the sources run through tsx and stderr says so in one line', () => {
  const r = irqlab(pkg('none'), '--version');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
  assert.equal(
    r.stderr,
    'irqlab: no build in dist/ (npm run build); running the TypeScript sources through tsx\n',
  );
});

test('a source file newer than the build: the sources run, and stderr names the file', () => {
  // A stamp from 1980 is older than every file of a checkout.
  const r = irqlab(pkg('stale', { stampTime: 315532800 }), '--version');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /compiled main\.bundle\.js ran/);
  assert.match(
    r.stderr,
    /^irqlab: src\/\S+ is newer than the build in dist\/ \(npm run build\); running the TypeScript sources through tsx\n$/,
  );
});
