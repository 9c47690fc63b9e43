/**
 * Standalone entry: `node --import tsx bench/startup/main.ts [--runs N] [--json]` (also
 * `npm run bench:startup`); the same as `irqlab bench startup`. See index.ts for what it measures.
 */
import { readFileSync } from 'node:fs';
import { formatStartupBench, runStartupBench, startupBenchJson } from '../../src/bench/startup.ts';

const args = process.argv.slice(2);
let runs = 20;
let json = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--json') json = true;
  else if (a === '--runs' && /^[1-9]\d*$/.test(args[i + 1] ?? '')) runs = Number(args[++i]);
  else {
    process.stderr.write(`bench/startup: bad argument ${a} (expected --runs N, --json)\n`);
    process.exit(2);
  }
}
const r = runStartupBench({ runs, progress: json ? undefined : (line) => process.stderr.write(`${line}\n`) });
if (json) {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${JSON.stringify(startupBenchJson(r, String(version)), null, 2)}\n`);
} else {
  process.stdout.write(formatStartupBench(r));
}
