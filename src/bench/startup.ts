/**
 * `irqlab bench startup`: how long a whole `irqlab` process takes to start and finish, against
 * `node -e 0` on the same machine at the same moment. Figures are printed, never asserted
 * (test/bench/startup.test.ts checks the structure only).
 *
 * Each round spawns every command once, in turn, so a burst of load on the machine falls on all of
 * them alike; the figure per command is the median wall-clock time of its runs, from spawn to exit,
 * measured in this process. `irqlab` is `node bin/irqlab.mjs`, as npx runs it: with a build in
 * dist/ it runs the compiled CLI, otherwise the TypeScript sources through tsx (the row says which).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StartupBenchOptions {
  /** Runs of each command (after one warm-up run of each). */
  readonly runs: number;
  readonly progress?: (line: string) => void;
}

export interface StartupRow {
  /** As a user types it. */
  readonly command: string;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** medianMs over the median of `node -e 0`. */
  readonly ratio: number;
  /** What bin/irqlab.mjs ran: "dist" (compiled), "tsx" (sources), or null for `node -e 0`. */
  readonly ran: 'dist' | 'tsx' | null;
}

export interface StartupBenchResult {
  readonly runs: number;
  readonly node: string;
  readonly cores: number;
  readonly rows: readonly StartupRow[];
}

/** The package root, from src/bench/ in the sources or dist/src/bench/ in the build. */
function packageRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '../../..']) {
    const root = join(here, up);
    if (existsSync(join(root, 'bin', 'irqlab.mjs'))) return root;
  }
  throw new Error(`bench startup: no bin/irqlab.mjs above ${here}`);
}

interface Case {
  readonly command: string;
  readonly argv: readonly string[];
  readonly irqlab: boolean;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One run of a case: wall-clock ms, and what bin/irqlab.mjs ran. */
function once(c: Case, cwd: string): { ms: number; ran: 'dist' | 'tsx' | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.argv, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(`bench startup: ${c.command} exited ${r.status ?? r.signal}: ${r.stderr}`);
  if (!c.irqlab) return { ms, ran: null };
  // bin/irqlab.mjs says on stderr when it falls back to the sources.
  return { ms, ran: r.stderr.includes('running the TypeScript sources') ? 'tsx' : 'dist' };
}

export function runStartupBench(opts: StartupBenchOptions): StartupBenchResult {
  if (!Number.isInteger(opts.runs) || opts.runs < 1)
    throw new Error('bench startup: runs must be at least 1');
  const root = packageRoot();
  const bin = join(root, 'bin', 'irqlab.mjs');
  const cases: Case[] = [
    { command: 'node -e 0', argv: ['-e', '0'], irqlab: false },
    { command: 'irqlab --version', argv: [bin, '--version'], irqlab: true },
    { command: 'irqlab list', argv: [bin, 'list'], irqlab: true },
  ];
  const times = cases.map(() => [] as number[]);
  const ran = cases.map((c) => once(c, root).ran);
  for (let round = 0; round < opts.runs; round++) {
    cases.forEach((c, i) => {
      times[i].push(once(c, root).ms);
    });
    if ((round + 1) % 10 === 0) opts.progress?.(`bench startup: ${round + 1}/${opts.runs} rounds`);
  }
  const base = median(times[0]);
  return {
    runs: opts.runs,
    node: process.version,
    cores: availableParallelism(),
    rows: cases.map((c, i) => ({
      command: c.command,
      medianMs: median(times[i]),
      minMs: Math.min(...times[i]),
      maxMs: Math.max(...times[i]),
      ratio: median(times[i]) / base,
      ran: ran[i],
    })),
  };
}

export function formatStartupBench(r: StartupBenchResult): string {
  const head = ['command', 'median ms', 'min ms', 'max ms', 'x node -e 0', 'ran'];
  const body = r.rows.map((x) => [
    x.command,
    x.medianMs.toFixed(1),
    x.minMs.toFixed(1),
    x.maxMs.toFixed(1),
    x.ratio.toFixed(2),
    x.ran === null ? '' : x.ran === 'dist' ? 'dist/ (compiled)' : 'sources via tsx (no current build)',
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((row) => row[j].length)));
  const line = (row: string[]) =>
    row
      .map((cell, j) => (j === 0 || j === row.length - 1 ? cell.padEnd(widths[j]) : cell.padStart(widths[j])))
      .join('  ')
      .trimEnd();
  return [
    `irqlab bench startup · node ${r.node} · ${r.cores} cores · whole process, spawn to exit, median of ${r.runs} runs each (interleaved, after one warm-up)`,
    '',
    line(head),
    ...body.map(line),
    '',
  ].join('\n');
}

/** The --json document (one JSON value; no colour, no progress). */
export function startupBenchJson(r: StartupBenchResult, version: string): object {
  return {
    schemaVersion: 1,
    tool: 'irqlab',
    version,
    seed: null,
    command: 'bench startup',
    result: r,
    stats: {},
    counterexample: null,
  };
}
