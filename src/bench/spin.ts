/**
 * `irqlab bench check --spin` (and `npm run bench:spin`): irqlab against Spin on the same state
 * space, side by side in one run (issue 12; docs/decisions/0220-spin-in-bench-check.md).
 *
 * bench/spin/scaled.pml is a Promela model of the scaled seed-004 scenario (scaledScenario(n) in
 * check.ts): one d_step per irqlab action and only the words that vary, so both tools reach the
 * same states. For each n this compiles it with Debian's `spin` and gcc (`-DSAFETY -DNOREDUCE`:
 * Spin's partial-order reduction reduces nothing here; the hash table sized to the states, Spin's
 * right-sized run), runs pan under GNU time, and runs irqlab one thread and with `--reduce ample`
 * (and both with `--workers N` when asked), each search a process of its own (spin-run.ts), so CPU time
 * and peak RSS are those of one search for both tools. The runs go in rounds, each tool once per
 * round, so that a ratio compares runs made seconds apart: on a shared machine the speed drifts
 * by 15% and more between minutes, which the medians of runs made one tool after the other took
 * into the ratios (decision 0259). Printed per tool: CPU s, wall s, peak RSS, distinct and
 * generated states (medians over the rounds); then the irqlab / Spin ratios and the two-thread
 * speed-ups, each the median of the rounds' own ratios with their range. Spin's and irqlab's counts
 * are both printed and compared, so a model that drifts from the scenario shows (and the exit
 * code is 1).
 *
 * Without spin, gcc or /usr/bin/time (CI has none of them) it says so in one line and prints
 * irqlab's figures alone.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from '../runtime/ts-worker.ts';

/** The Promela model; the build copies bench/ beside src/, so this holds in dist/ too. */
const PML = fileURLToPath(new URL('../../bench/spin/scaled.pml', import.meta.url));
const TIME = '/usr/bin/time';

export interface SpinBenchOptions {
  /** vCPU counts of the scaled scenarios (2 and 3 by default; 4 is 68.6 million states). */
  readonly ns: readonly number[];
  /** Rounds per n, each tool once per round; the medians are printed. */
  readonly runs: number;
  /** Threads of an extra irqlab row (the parallel search); 1: no such row. */
  readonly workers: number;
  /** Also the `--reduce ample` row (default true). */
  readonly ample?: boolean;
  readonly progress?: (line: string) => void;
}

/** One tool's run of one scaled scenario (the median of the runs). */
export interface SpinBenchRow {
  readonly tool: string;
  readonly verdict: string;
  readonly distinct: number;
  /** Successors computed, duplicates included (Spin: transitions less the initial state). */
  readonly generated: number;
  /**
   * Spin only: how far its printed counts may be from the true ones. pan prints its counts with
   * "%9.8g" (pan.c, the "states, stored" and "transitions" lines): from 10^8 on, in exponent form
   * with 8 significant digits ("3.3832683e+08 transitions"), so such a count is known to half a
   * unit of its last digit; 0 when every count was printed whole.
   */
  readonly countsWithin?: number;
  /** Whole process: user + system CPU seconds, every thread. */
  readonly cpuS: number;
  readonly wallS: number;
  readonly peakRssBytes: number;
  /** The search alone (irqlab: explore(); Spin: the whole pan process). */
  readonly searchCpuS: number;
  /** Bytes the state store holds at the end, per state (Spin: "memory usage for states"). */
  readonly storeBytesPerState: number;
  /** Each round's run, in round order: what the ratios compare round by round. */
  readonly perRun: readonly RunFigures[];
  /** Threads that took part in the search (Spin: 1). */
  readonly threads: number;
  /**
   * Spin only: the CPU seconds of building pan (`spin -a`, gcc), which its CPU column leaves out;
   * irqlab's column counts its start (Node, its modules, the scenario's validation, the model).
   */
  readonly buildCpuS?: number;
}

/** One run of one tool: whole-process CPU and wall seconds, and the search's (Spin: the process's). */
export interface RunFigures {
  readonly cpuS: number;
  readonly wallS: number;
  readonly searchCpuS: number;
  readonly searchWallS: number;
}

/** A ratio over rounds: the median of the rounds' own ratios, and their least and greatest. */
export interface RoundRatio {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * a[i] / b[i] for each round i, summed up: the median of those ratios (the lower middle for an
 * even count, as the rows' medians) and their range. The two runs of a round were made seconds
 * apart, so a drift of the machine's speed between rounds cancels out of each ratio.
 */
export function roundRatio(a: readonly number[], b: readonly number[]): RoundRatio {
  if (a.length !== b.length) throw new Error('roundRatio: one figure per round on both sides');
  // A round whose denominator is 0 (GNU time counts hundredths: the 2-vCPU pan) has no ratio.
  const rs = a.flatMap((x, i) => (b[i] > 0 ? [x / b[i]] : []));
  if (rs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
}

export interface SpinBenchCase {
  readonly vcpus: number;
  readonly spin: SpinBenchRow | null;
  readonly irqlab: SpinBenchRow;
  readonly threads: SpinBenchRow | null;
  readonly ample: SpinBenchRow | null;
  /** `--reduce ample` with `--workers N` (N > 1). */
  readonly ampleThreads: SpinBenchRow | null;
  /**
   * Spin's distinct and generated counts equal irqlab's (and on N threads, reduced or not, equal
   * one thread's); null without Spin.
   */
  readonly sameStateSpace: boolean | null;
}

export interface SpinBenchResult {
  /** `spin -V`, or null when Spin did not run. */
  readonly spin: string | null;
  /** Why Spin did not run (what is missing), or null. */
  readonly spinMissing: string | null;
  readonly machine: { readonly cores: number; readonly cpu: string; readonly node: string };
  /** /proc/loadavg's three figures before the first run (the machine may be shared). */
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly runs: number;
  readonly cases: readonly SpinBenchCase[];
}

/** The named program is an executable file in a PATH directory (no shell involved). */
function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/** What Spin's side needs and is missing ('' when nothing is). */
export function spinMissing(): string {
  const missing = ['spin', 'gcc'].filter((c) => !onPath(c));
  try {
    accessSync(TIME, constants.X_OK);
  } catch {
    missing.push('GNU time');
  }
  return missing.join(', ');
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

function must(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** log2 of Spin's hash table size: the next power of two above twice the states. */
const SPIN_W: Record<number, number> = { 2: 16, 3: 22, 4: 28 };

/**
 * A count as pan prints it ("%9.8g"): the value, and how far the true count may be from it: half
 * a unit of the 8th significant digit when it is in exponent form (%g drops trailing zeros, so
 * "1e+08" has the same precision as "1.2345678e+08"), else 0.
 */
export function spinCount(text: string): { value: number; within: number } {
  const m = /^\d+(?:\.\d+)?e\+?(\d+)$/.exec(text);
  return { value: Number(text), within: m === null ? 0 : 0.5 * 10 ** (Number(m[1]) - 7) };
}

/** Whether irqlab's count equals Spin's, to the precision Spin printed it with. */
export function sameCount(spin: number, within: number, irqlab: number): boolean {
  return Math.abs(spin - irqlab) <= within;
}

/** Spin's side of one n: pan compiled in a directory of its own, and its runs so far. */
interface SpinSide {
  readonly dir: string;
  readonly w: number;
  /** CPU seconds of `spin -a` and gcc. */
  readonly buildCpuS: number;
  readonly runs: { wallS: number; cpuS: number; rssKiB: number; out: string }[];
}

function spinBuild(n: number, tmp: string): SpinSide {
  const dir = join(tmp, `spin${n}`);
  must('mkdir', ['-p', dir], tmp);
  const tf = join(dir, 'build-time.txt');
  // Under GNU time too: what building pan costs, which pan's own figures leave out.
  let buildCpuS = 0;
  for (const argv of [
    ['spin', '-a', `-DN=${n}`, PML],
    ['gcc', '-O2', '-DSAFETY', '-DNOREDUCE', '-o', 'pan', 'pan.c'],
  ]) {
    must(TIME, ['-f', '%U %S', '-o', tf, ...argv], dir);
    const [user, sys] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    buildCpuS += user + sys;
  }
  return { dir, w: SPIN_W[n] ?? 30, runs: [], buildCpuS };
}

function spinRun(side: SpinSide): void {
  const tf = join(side.dir, 'time.txt');
  const out = must(TIME, ['-f', '%e %U %S %M', '-o', tf, './pan', '-m1000', `-w${side.w}`], side.dir);
  const [wall, user, sys, rss] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  side.runs.push({ wallS: wall, cpuS: user + sys, rssKiB: rss, out });
}

function spinRow(side: SpinSide): SpinBenchRow {
  const rs = side.runs;
  const out = rs[0].out;
  const count = (re: RegExp) => spinCount(re.exec(out)?.[1] ?? 'NaN');
  const num = (re: RegExp) => count(re).value;
  const stored = count(/([\d.e+]+) states, stored/);
  const transitions = count(/([\d.e+]+) transitions \(= stored\+matched\)/);
  const cpuS = median(rs.map((r) => r.cpuS));
  return {
    tool: 'spin -DSAFETY -DNOREDUCE',
    verdict: /errors: 0\b/.test(out) ? 'holds' : 'errors',
    distinct: stored.value,
    generated: transitions.value - 1,
    countsWithin: Math.max(stored.within, transitions.within),
    cpuS,
    wallS: median(rs.map((r) => r.wallS)),
    peakRssBytes: median(rs.map((r) => r.rssKiB)) * 1024,
    searchCpuS: cpuS,
    storeBytesPerState: (num(/([\d.]+)\s+actual memory usage for states/) * 2 ** 20) / stored.value,
    perRun: rs.map((r) => ({ cpuS: r.cpuS, wallS: r.wallS, searchCpuS: r.cpuS, searchWallS: r.wallS })),
    threads: 1,
    buildCpuS: side.buildCpuS,
  };
}

/**
 * spin-run.ts beside this module: compiled in dist/ (its bundle, as the CLI's search threads run:
 * decision 0260), else from source through tsx.
 */
function runnerArgv(): string[] {
  const url = new URL('./spin-run.ts', import.meta.url);
  if (!import.meta.url.endsWith('.js')) return ['--import', 'tsx', fileURLToPath(url)];
  return [fileURLToPath(compiledEntry(url))];
}

/** One irqlab configuration of one n, and its runs so far (spin-run.ts's JSON and the wall time). */
interface IrqlabSide {
  readonly extra: readonly string[];
  readonly tool: string;
  readonly runs: { json: Record<string, number | string>; wallS: number }[];
}

function irqlabRun(n: number, side: IrqlabSide): void {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...runnerArgv(), String(n), ...side.extra], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wallS = (performance.now() - t0) / 1000;
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || line === undefined)
    throw new Error(
      `irqlab ${n} vCPUs ${side.extra.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`,
    );
  side.runs.push({ json: JSON.parse(line), wallS });
}

function irqlabRow(side: IrqlabSide): SpinBenchRow {
  const rs = side.runs.map((r) => r.json);
  const j = rs[0];
  const med = (k: string) => median(rs.map((x) => Number(x[k])));
  // Asked for more threads than took part: a search starts its helpers only at a wide level.
  const w = side.extra.indexOf('--workers');
  const took = Number(j.threads ?? 1);
  const tool =
    w >= 0 && took < Number(side.extra[w + 1]) ? `${side.tool} asked, ${took} took part` : side.tool;
  return {
    tool,
    verdict: String(j.verdict),
    distinct: Number(j.distinct),
    generated: Number(j.generated),
    cpuS: med('processCpuS'),
    wallS: median(side.runs.map((r) => r.wallS)),
    peakRssBytes: med('peakRssBytes'),
    searchCpuS: med('searchCpuS'),
    storeBytesPerState: Number(j.storeBytes) / Number(j.distinct),
    perRun: side.runs.map((r) => ({
      cpuS: Number(r.json.processCpuS),
      wallS: r.wallS,
      searchCpuS: Number(r.json.searchCpuS),
      searchWallS: Number(r.json.searchWallS),
    })),
    threads: took,
  };
}

/** Runs the comparison (synchronously: every search is a child process). */
export function runSpinBench(opts: SpinBenchOptions): SpinBenchResult {
  const progress = opts.progress ?? (() => {});
  const missing = spinMissing();
  const spinV = missing === '' ? spawnSync('spin', ['-V'], { encoding: 'utf8' }).stdout.trim() : null;
  const loadBefore = loadAverage();
  const tmp = mkdtempSync(join(tmpdir(), 'irqlab-spin-'));
  const cases: SpinBenchCase[] = [];
  try {
    for (const n of opts.ns) {
      const side = (extra: string[], tool: string): IrqlabSide => ({ extra, tool, runs: [] });
      const W = String(opts.workers);
      const sides = {
        irqlab: side([], 'irqlab, one thread'),
        threads: opts.workers > 1 ? side(['--workers', W], `irqlab, ${W} threads`) : null,
        ample: opts.ample !== false ? side(['--reduce', 'ample'], 'irqlab, --reduce ample') : null,
        ampleThreads:
          opts.ample !== false && opts.workers > 1
            ? side(['--reduce', 'ample', '--workers', W], `irqlab, --reduce ample, ${W} threads`)
            : null,
      };
      let spinSide: SpinSide | null = null;
      if (spinV !== null) {
        progress(`spin: ${n} vCPUs: spin -a, gcc`);
        spinSide = spinBuild(n, tmp);
      }
      // The reduced search first, right after pan: its ratio to Spin's CPU is the closest call.
      const tools = [sides.ample, sides.ampleThreads, sides.irqlab, sides.threads].filter((x) => x !== null);
      for (let round = 1; round <= opts.runs; round++) {
        progress(
          `spin: ${n} vCPUs: round ${round} of ${opts.runs}: ${spinSide === null ? '' : 'pan; '}${tools.map((t) => t.tool).join('; ')}`,
        );
        if (spinSide !== null) spinRun(spinSide);
        for (const t of tools) irqlabRun(n, t);
      }
      const spin = spinSide === null ? null : spinRow(spinSide);
      const row = (t: IrqlabSide | null) => (t === null ? null : irqlabRow(t));
      const irqlab = irqlabRow(sides.irqlab);
      const threads = row(sides.threads);
      const ample = row(sides.ample);
      const ampleThreads = row(sides.ampleThreads);
      const same = (a: SpinBenchRow | null, b: SpinBenchRow | null) =>
        a === null || b === null || (a.distinct === b.distinct && a.generated === b.generated);
      const sameThreads = same(threads, irqlab) && same(ampleThreads, ample);
      const within = spin?.countsWithin ?? 0;
      const sameStateSpace =
        spin === null
          ? null
          : sameCount(spin.distinct, within, irqlab.distinct) &&
            sameCount(spin.generated, within, irqlab.generated) &&
            sameThreads;
      cases.push({ vcpus: n, spin, irqlab, threads, ample, ampleThreads, sameStateSpace });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    spin: spinV,
    spinMissing: missing === '' ? null : missing,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      node: process.version,
    },
    loadBefore,
    loadAfter: loadAverage(),
    runs: opts.runs,
    cases,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const x2 = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** A ratio over rounds as printed: its median, and the rounds' range when there are several. */
function byRound(a: SpinBenchRow, b: SpinBenchRow, figure: keyof RunFigures): string {
  const q = roundRatio(
    a.perRun.map((r) => r[figure]),
    b.perRun.map((r) => r[figure]),
  );
  if (Number.isNaN(q.median)) return '-';
  const m = `${q.median.toFixed(2)}x`;
  return q.min === q.max ? m : `${m} (rounds ${q.min.toFixed(2)}-${q.max.toFixed(2)}x)`;
}

/** The report: context, one table per n, the ratios irqlab / Spin. */
export function formatSpinBench(r: SpinBenchResult): string {
  const m = r.machine;
  const out = [
    `irqlab bench check --spin · ${r.spin ?? 'Spin not run'} · node ${m.node} · ${m.cores} cores (${m.cpu}) · ${r.runs} round${r.runs === 1 ? '' : 's'}, each tool once per round: medians, and ratios by round · load average ${r.loadBefore} before, ${r.loadAfter} after`,
  ];
  if (r.spinMissing !== null)
    out.push(
      `spin: not run: ${r.spinMissing} not installed (apt-get install spin gcc time); irqlab's figures only`,
    );
  for (const c of r.cases) {
    out.push(
      '',
      `== scaled seed 004, ${c.vcpus} vCPUs (${c.vcpus + 1} vectors), sc`,
      '| tool | verdict | distinct | generated | CPU s | wall s | peak RSS MiB | RSS B/state | distinct/CPU s | search CPU s | store B/state |',
      '|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const w of [c.spin, c.irqlab, c.threads, c.ample, c.ampleThreads]) {
      if (w === null) continue;
      out.push(
        `| ${w.tool} | ${w.verdict} | ${int(w.distinct)} | ${int(w.generated)} | ${w.cpuS.toFixed(2)} | ${w.wallS.toFixed(2)} | ${int(w.peakRssBytes / 2 ** 20)} | ${int(w.peakRssBytes / w.distinct)} | ${int(w.distinct / w.cpuS)} | ${w.searchCpuS.toFixed(2)} | ${int(w.storeBytesPerState)} |`,
      );
    }
    // Threads against one, on the search's wall time (both processes start alike); only where
    // the helpers took part.
    const speedup = (many: SpinBenchRow | null, one: SpinBenchRow | null) => {
      if (many !== null && one !== null && many.threads > 1)
        out.push(
          `${many.tool.slice(8)} against one: ${byRound(one, many, 'searchWallS')} faster (the search's wall time)`,
        );
    };
    speedup(c.threads, c.irqlab);
    speedup(c.ampleThreads, c.ample);
    const s = c.spin;
    if (s === null) continue;
    const ratios = (w: SpinBenchRow) =>
      `CPU ${byRound(w, s, 'cpuS')} (search alone ${byRound(w, s, 'searchCpuS')}), wall ${byRound(w, s, 'wallS')}, peak RSS ${x2(w.peakRssBytes, s.peakRssBytes)}`;
    out.push(
      `irqlab / spin: ${ratios(c.irqlab)}; distinct ${int(c.irqlab.distinct)} / ${int(s.distinct)}, generated ${int(c.irqlab.generated)} / ${int(s.generated)}${(s.countsWithin ?? 0) > 0 ? ` (Spin printed its counts to ±${int(s.countsWithin ?? 0)})` : ''}: same state space: ${c.sameStateSpace ? 'yes' : 'NO'}`,
    );
    if (c.threads !== null) out.push(`irqlab ${c.threads.tool.slice(8)} / spin: ${ratios(c.threads)}`);
    if (c.ample !== null)
      out.push(
        `irqlab --reduce ample / spin: ${ratios(c.ample)}; ${int(c.ample.distinct)} distinct, ${((1 - c.ample.distinct / c.irqlab.distinct) * 100).toFixed(1)}% fewer than unreduced`,
      );
    if (c.ampleThreads !== null)
      out.push(`irqlab ${c.ampleThreads.tool.slice(8)} / spin: ${ratios(c.ampleThreads)}`);
    // What each CPU column holds besides the search: irqlab's start, and not pan's build.
    out.push(
      `not in Spin's CPU: building pan (spin -a, gcc) ${(s.buildCpuS ?? 0).toFixed(2)} CPU s; in irqlab's: its start (Node, modules, the scenario's validation, the model) ${(c.irqlab.cpuS - c.irqlab.searchCpuS).toFixed(2)} CPU s`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** The --json document. */
export function spinBenchJson(r: SpinBenchResult, version: string): object {
  return {
    schemaVersion: 1,
    tool: 'irqlab',
    version,
    seed: null,
    command: 'bench check --spin',
    result: r,
    stats: {},
    counterexample: null,
  };
}
