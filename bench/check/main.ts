/**
 * Standalone entry: `node --import tsx bench/check/main.ts [--quick] [--json]` (also
 * `npm run bench:check`); the same as `irqlab bench check`. See index.ts for what it measures.
 */
import { readFileSync } from 'node:fs';
import { checkBenchJson, formatCheckBench, runCheckBench } from '../../src/bench/check.ts';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--quick' && a !== '--json' && a !== '--scaled4') {
    process.stderr.write(`bench/check: unknown argument ${a} (expected --quick, --json, --scaled4)\n`);
    process.exit(2);
  }
}
const json = args.includes('--json');
const r = runCheckBench({
  quick: args.includes('--quick'),
  scaled4: args.includes('--scaled4'),
  progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
});
if (json) {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${JSON.stringify(checkBenchJson(r, String(version)), null, 2)}\n`);
} else {
  process.stdout.write(formatCheckBench(r));
}
