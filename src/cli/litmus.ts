/**
 * `irqlab litmus <file.litmus>...`: run x86 litmus tests (herdtools7 format) under x86-TSO and
 * sequential consistency and print, per memory model, whether the condition's body is reachable
 * (Allowed / Forbidden), herd's Ok/No and Observation lines, the outcomes and a shortest witness.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { LITMUS_MEMORY, type LitmusMemory } from '../litmus/machine.ts';
import { parseLitmus } from '../litmus/parse.ts';
import { type ModelResult, runLitmus } from '../litmus/run.ts';
import type { LitmusTest } from '../litmus/test.ts';
import type { Paint } from '../trace/text.ts';
import { EXIT } from './exit.ts';
import { paintFor } from './paint.ts';
import { VERSION } from './run.ts';

interface LitmusOpts {
  memory: string;
  json?: boolean;
}

function memoriesOf(m: string): LitmusMemory[] {
  if (m === 'both') return ['tso', 'sc'];
  if ((LITMUS_MEMORY as readonly string[]).includes(m)) return [m as LitmusMemory];
  throw new UserError(`--memory: expected sc, tso or both, got "${m}"`);
}

export function readLitmus(file: string): LitmusTest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseLitmus(text, file);
}

const QUANTIFIER_WORD = { exists: 'exists', 'not-exists': '~exists', forall: 'forall' } as const;

function outcomeText(values: Record<string, number | string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
}

function renderModel(t: LitmusTest, r: ModelResult, paint: Paint): string {
  const out: string[] = [];
  const label = r.memory.toUpperCase().padEnd(3);
  if (r.verdict === 'incomplete') {
    out.push(`  ${label} ${paint.red(`incomplete: ${r.reason} bound hit`)} after ${r.distinct} states`);
    return out.join('\n');
  }
  const verdict = r.verdict === 'allowed' ? 'Allowed' : 'Forbidden';
  const claim = r.claim === 'ok' ? paint.green('Ok') : paint.red('No');
  const obs = r.observation![0].toUpperCase() + r.observation!.slice(1);
  out.push(
    `  ${label} ${paint.bold(verdict.padEnd(9))} ${claim} · Observation ${t.name} ${obs} ${r.positive} ${r.negative} · ${r.outcomes.length} outcome(s), ${r.distinct} states, ${r.timeMs} ms`,
  );
  for (const o of r.outcomes)
    out.push(paint.dim(`      ${o.satisfies ? '*' : ' '} ${outcomeText(o.values)}`));
  if (r.witness) {
    const w = r.witness;
    const what = w.satisfies ? 'an execution where it holds' : 'an execution where it fails';
    out.push(`      witness, ${what} (${w.steps.length} steps, shortest):`);
    const width = String(w.steps.length).length;
    for (const s of w.steps) out.push(`        ${String(s.n).padStart(width)}. P${s.thread}: ${s.text}`);
    out.push(`        final: ${outcomeText(w.final)}`);
  }
  return out.join('\n');
}

function renderTest(t: LitmusTest, results: ModelResult[], paint: Paint): string {
  const head = `${paint.bold(`${t.arch} ${t.name}`)} (${t.file}): ${QUANTIFIER_WORD[t.condition.quantifier]} ${t.condition.text.replace(/^~?\s*(exists|forall)\s*/, '')}`;
  return [head, ...results.map((r) => renderModel(t, r, paint))].join('\n');
}

export function registerLitmus(program: Command): void {
  program
    .command('litmus')
    .description('run x86 litmus tests (herdtools7 format) under x86-TSO and sequential consistency')
    .argument('<files...>', 'litmus test files (X86 or X86_64)')
    .option('--memory <model>', 'sc, tso or both', 'both')
    .option('--json', 'print one JSON document')
    .action((files: string[], opts: LitmusOpts) => {
      const memories = memoriesOf(opts.memory);
      // Parse every file first, so a bad one is reported before any exploration.
      const tests = files.map(readLitmus);
      const runs = tests.map((t) => ({ t, results: memories.map((m) => runLitmus(t, m)) }));
      if (opts.json) {
        const doc = {
          schemaVersion: 1,
          tool: 'irqlab',
          version: VERSION,
          command: 'litmus',
          results: runs.map(({ t, results }) => ({
            file: t.file,
            name: t.name,
            doc: t.doc,
            condition: { quantifier: t.condition.quantifier, text: t.condition.text },
            models: results,
          })),
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        const paint = paintFor(process.stdout, false);
        process.stdout.write(`${runs.map(({ t, results }) => renderTest(t, results, paint)).join('\n\n')}\n`);
      }
      const incomplete = runs.some((r) => r.results.some((m) => m.verdict === 'incomplete'));
      process.exitCode = incomplete ? EXIT.incomplete : EXIT.ok;
    });
}
