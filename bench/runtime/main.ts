/**
 * Standalone entry: `node --import tsx bench/runtime/main.ts [--quick] [--json]` (also
 * `npm run bench:runtime`); the same as `irqlab bench runtime`.
 */
import { formatRuntimeBench, runRuntimeBench, runtimeBenchJson } from '../../src/bench/runtime/index.ts';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--quick' && a !== '--json') {
    process.stderr.write(`bench/runtime: unknown argument ${a} (expected --quick, --json)\n`);
    process.exit(2);
  }
}
const json = args.includes('--json');
const r = await runRuntimeBench({
  quick: args.includes('--quick'),
  progress: json ? undefined : (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(
  json ? `${JSON.stringify(runtimeBenchJson(r, '0.1.0'), null, 2)}\n` : formatRuntimeBench(r),
);
