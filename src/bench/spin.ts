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
 * and peak RSS are those of one search for both tools. Printed per tool: CPU s, wall s, peak RSS,
 * distinct and generated states, and the irqlab / Spin ratios. Spin's and irqlab's counts are both
 * printed and compared, so a model that drifts from the scenario shows (and the exit code is 1).
 *
 * Without spin, gcc or /usr/bin/time (CI has none of them) it says so in one line and prints
 * irqlab's figures alone.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Promela model; the build copies bench/ beside src/, so this holds in dist/ too. */
const PML = fileURLToPath(new URL('../../bench/spin/scaled.pml', import.meta.url));
const TIME = '/usr/bin/time';

export interface SpinBenchOptions {
  /** vCPU counts of the scaled scenarios (2 and 3 by default; 4 is 68.6 million states). */
  readonly ns: readonly number[];
  /** Runs per tool and n; the median is printed. */
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

function spinRow(n: number, runs: number, tmp: string): SpinBenchRow {
  const dir = join(tmp, `spin${n}`);
  must('mkdir', ['-p', dir], tmp);
  must('spin', ['-a', `-DN=${n}`, PML], dir);
  must('gcc', ['-O2', '-DSAFETY', '-DNOREDUCE', '-o', 'pan', 'pan.c'], dir);
  const w = SPIN_W[n] ?? 30;
  const tf = join(tmp, 'time.txt');
  const rs: { wallS: number; cpuS: number; rssKiB: number; out: string }[] = [];
  for (let i = 0; i < runs; i++) {
    const out = must(TIME, ['-f', '%e %U %S %M', '-o', tf, './pan', '-m1000', `-w${w}`], dir);
    const [wall, user, sys, rss] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    rs.push({ wallS: wall, cpuS: user + sys, rssKiB: rss, out });
  }
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
  };
}

/** spin-run.ts beside this module: compiled in dist/, else from source through tsx. */
function runnerArgv(): string[] {
  const url = new URL('./spin-run.ts', import.meta.url);
  return import.meta.url.endsWith('.js')
    ? [fileURLToPath(url.href.replace(/\.ts$/, '.js'))]
    : ['--import', 'tsx', fileURLToPath(url)];
}

function irqlabRow(n: number, runs: number, extra: string[], tool: string): SpinBenchRow {
  const rs: Record<string, number | string>[] = [];
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...runnerArgv(), String(n), ...extra], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    walls.push((performance.now() - t0) / 1000);
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
    if (r.status !== 0 || line === undefined)
      throw new Error(`irqlab ${n} vCPUs ${extra.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    rs.push(JSON.parse(line));
  }
  const j = rs[0];
  const med = (k: string) => median(rs.map((x) => Number(x[k])));
  // Asked for more threads than took part: a search starts its helpers only at a wide level.
  const w = extra.indexOf('--workers');
  const took = Number(j.threads ?? 1);
  const label = w >= 0 && took < Number(extra[w + 1]) ? `${tool} asked, ${took} took part` : tool;
  return {
    tool: label,
    verdict: String(j.verdict),
    distinct: Number(j.distinct),
    generated: Number(j.generated),
    cpuS: med('processCpuS'),
    wallS: median(walls),
    peakRssBytes: med('peakRssBytes'),
    searchCpuS: med('searchCpuS'),
    storeBytesPerState: Number(j.storeBytes) / Number(j.distinct),
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
      let spin: SpinBenchRow | null = null;
      if (spinV !== null) {
        progress(`spin: ${n} vCPUs: spin -a, gcc, pan × ${opts.runs}`);
        spin = spinRow(n, opts.runs, tmp);
      }
      progress(`spin: ${n} vCPUs: irqlab one thread × ${opts.runs}`);
      const irqlab = irqlabRow(n, opts.runs, [], 'irqlab, one thread');
      let threads: SpinBenchRow | null = null;
      if (opts.workers > 1) {
        progress(`spin: ${n} vCPUs: irqlab --workers ${opts.workers} × ${opts.runs}`);
        threads = irqlabRow(
          n,
          opts.runs,
          ['--workers', String(opts.workers)],
          `irqlab, ${opts.workers} threads`,
        );
      }
      let ample: SpinBenchRow | null = null;
      if (opts.ample !== false) {
        progress(`spin: ${n} vCPUs: irqlab --reduce ample × ${opts.runs}`);
        ample = irqlabRow(n, opts.runs, ['--reduce', 'ample'], 'irqlab, --reduce ample');
      }
      let ampleThreads: SpinBenchRow | null = null;
      if (opts.ample !== false && opts.workers > 1) {
        progress(`spin: ${n} vCPUs: irqlab --reduce ample --workers ${opts.workers} × ${opts.runs}`);
        ampleThreads = irqlabRow(
          n,
          opts.runs,
          ['--reduce', 'ample', '--workers', String(opts.workers)],
          `irqlab, --reduce ample, ${opts.workers} threads`,
        );
      }
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

/** The report: context, one table per n, the ratios irqlab / Spin. */
export function formatSpinBench(r: SpinBenchResult): string {
  const m = r.machine;
  const out = [
    `irqlab bench check --spin · ${r.spin ?? 'Spin not run'} · node ${m.node} · ${m.cores} cores (${m.cpu}) · median of ${r.runs} run${r.runs === 1 ? '' : 's'} · load average ${r.loadBefore} before, ${r.loadAfter} after`,
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
    const s = c.spin;
    if (s === null) continue;
    const ratios = (w: SpinBenchRow) =>
      `CPU ${x2(w.cpuS, s.cpuS)} (search alone ${x2(w.searchCpuS, s.cpuS)}), wall ${x2(w.wallS, s.wallS)}, peak RSS ${x2(w.peakRssBytes, s.peakRssBytes)}`;
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
