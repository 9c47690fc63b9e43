/**
 * irqlab against Spin on the same state space, side by side in one run:
 *
 *   node --import tsx bench/spin/compare.ts [--n 2,3] [--runs 3] [--workers 2] [--dist]
 *   (npm run bench:spin)
 *
 * irqlab runs three ways: one thread; `--workers` threads (src/check/parallel.ts, default 2; 1
 * skips the row), whose counts must equal the one thread's; and one thread with `--reduce ample`
 * (fewer states, compared with Spin's unreduced run). `--dist` runs the build in dist/ (npm run
 * build) instead of the sources through tsx, which starts a helper thread in about 0.1 s instead of
 * about 2 s.
 *
 * scaled.pml is a Promela model of the scaled seed-004 scenario of `irqlab bench check`
 * (scaledScenario(N) in bench/check/index.ts): one Promela d_step per irqlab action, only the words
 * that vary, so both tools reach the same states (checked here: the run fails when the counts
 * differ). For each N the script compiles the model with Debian's `spin` and gcc (`-DSAFETY
 * -DNOREDUCE`: Spin's partial-order reduction reduces nothing here; hash table and stack sized to
 * the state count, Spin's right-sized run), runs pan and irqlab's checker (bench/spin/irqlab-run.ts,
 * a process of its own) under GNU time, and prints per tool the median over the runs of: CPU
 * seconds (user + sys) of the whole process, distinct states per CPU second, peak RSS, peak RSS per
 * state, and the bytes the state store itself holds per state (Spin's "memory usage for states";
 * irqlab's tree store, kept edges included), then irqlab / Spin ratios. irqlab's CPU includes
 * loading TypeScript (about 1 s); its explore() alone is given too.
 *
 * Needs spin, gcc and GNU time (/usr/bin/time); without them it says so and exits 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME = '/usr/bin/time';

interface Timed {
  wallS: number;
  cpuS: number;
  rssKiB: number;
  out: string;
}

/** Runs cmd under GNU time in cwd; throws with its output if it fails. */
function timed(cmd: string, args: string[], cwd: string, tmp: string): Timed {
  const tf = join(tmp, 'time.txt');
  const r = spawnSync(TIME, ['-f', '%e %U %S %M', '-o', tf, cmd, ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${out}`);
  const [wall, user, sys, rss] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallS: wall, cpuS: user + sys, rssKiB: rss, out };
}

function must(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

interface Row {
  tool: string;
  distinct: number;
  generated: number;
  cpuS: number;
  wallS: number;
  rssKiB: number;
  storeBytesPerState: number;
  note: string;
}

/** log2 of Spin's hash table size: the next power of two above twice the states. */
const SPIN_W: Record<number, number> = { 2: 16, 3: 22, 4: 28 };

function spinRow(n: number, runs: number, tmp: string): Row {
  const dir = join(tmp, `spin${n}`);
  must('mkdir', ['-p', dir], tmp);
  must('spin', ['-a', `-DN=${n}`, join(HERE, 'scaled.pml')], dir);
  must('gcc', ['-O2', '-DSAFETY', '-DNOREDUCE', '-o', 'pan', 'pan.c'], dir);
  const rs: Timed[] = [];
  for (let i = 0; i < runs; i++) rs.push(timed('./pan', ['-m1000', `-w${SPIN_W[n] ?? 28}`], dir, tmp));
  const out = rs[0].out;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  if (!/errors: 0\b/.test(out)) throw new Error(`spin N=${n}: pan reported errors:\n${out}`);
  const stored = num(/([\d.e+]+) states, stored/);
  const transitions = num(/([\d.e+]+) transitions \(= stored\+matched\)/);
  const memMiB = num(/([\d.]+)\s+actual memory usage for states/);
  return {
    tool: 'spin -DSAFETY -DNOREDUCE',
    distinct: stored,
    generated: transitions - 1,
    cpuS: median(rs.map((r) => r.cpuS)),
    wallS: median(rs.map((r) => r.wallS)),
    rssKiB: median(rs.map((r) => r.rssKiB)),
    storeBytesPerState: (memMiB * 2 ** 20) / stored,
    note: `pan -m1000 -w${SPIN_W[n] ?? 28}; transitions - 1 (the initial state)`,
  };
}

/** How irqlab runs: one thread, several (--workers), or one thread with --reduce ample. */
interface Mode {
  readonly workers: number;
  readonly reduce: boolean;
}

/** irqlab-run.ts from the build in dist/ (--dist), else from source through tsx. */
let fromDist = false;

function irqlabRow(n: number, runs: number, tmp: string, mode: Mode): Row & { exploreCpuS: number } {
  const rs: (Timed & { j: Record<string, number | string> })[] = [];
  const extra = [
    ...(mode.workers > 1 ? ['--workers', String(mode.workers)] : []),
    ...(mode.reduce ? ['--reduce', 'ample'] : []),
  ];
  const entry = fromDist
    ? [join(ROOT, 'dist/bench/spin/irqlab-run.js')]
    : ['--import', 'tsx', join(HERE, 'irqlab-run.ts')];
  for (let i = 0; i < runs; i++) {
    const t = timed('node', [...entry, String(n), ...extra], ROOT, tmp);
    const line = t.out.split('\n').find((l) => l.startsWith('{'));
    if (line === undefined) throw new Error(`irqlab N=${n}: no result line:\n${t.out}`);
    rs.push({ ...t, j: JSON.parse(line) });
  }
  const j = rs[0].j;
  if (j.verdict !== 'holds') throw new Error(`irqlab N=${n}: verdict ${j.verdict}, expected holds`);
  const exploreCpuS = median(rs.map((r) => Number(r.j.exploreCpuS)));
  const tool = mode.reduce
    ? 'irqlab, --reduce ample'
    : mode.workers > 1
      ? `irqlab, ${mode.workers} threads`
      : 'irqlab (one thread)';
  return {
    tool,
    distinct: Number(j.distinct),
    generated: Number(j.generated),
    cpuS: median(rs.map((r) => r.cpuS)),
    wallS: median(rs.map((r) => r.wallS)),
    rssKiB: median(rs.map((r) => r.rssKiB)),
    storeBytesPerState: Number(j.storeBytes) / Number(j.distinct),
    note: `search alone ${exploreCpuS.toFixed(2)} CPU s, ${median(rs.map((r) => Number(r.j.exploreWallS))).toFixed(2)} wall s (${Math.round(Number(j.distinct) / exploreCpuS).toLocaleString('en-US')} distinct/CPU s)`,
    exploreCpuS,
  };
}

function parseArgs(argv: string[]): { ns: number[]; runs: number; workers: number } {
  let ns = [2, 3];
  let runs = 3;
  let workers = 2;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--n' && v !== undefined && /^[1-8](,[1-8])*$/.test(v)) {
      ns = v.split(',').map(Number);
      i++;
    } else if (a === '--runs' && v !== undefined && /^[1-9]\d*$/.test(v)) {
      runs = Number(v);
      i++;
    } else if (a === '--workers' && v !== undefined && /^[1-9]\d*$/.test(v)) {
      workers = Number(v);
      i++;
    } else if (a === '--dist') {
      fromDist = true;
    } else {
      process.stderr.write(
        `bench/spin/compare.ts: argument ${i + 1}: unknown or malformed '${a}' (expected --n 2,3, --runs k, --workers w or --dist)\n`,
      );
      process.exit(2);
    }
  }
  return { ns, runs, workers };
}

function main(): void {
  const { ns, runs, workers } = parseArgs(process.argv.slice(2));
  if (fromDist && !existsSync(join(ROOT, 'dist/bench/spin/irqlab-run.js'))) {
    process.stderr.write('bench/spin: --dist needs the build (npm run build)\n');
    process.exit(1);
  }
  const missing = ['spin', 'gcc'].filter((c) => !have(c));
  if (!existsSync(TIME)) missing.push(`${TIME} (GNU time)`);
  if (missing.length > 0) {
    process.stderr.write(`bench/spin: needs ${missing.join(', ')} (apt-get install spin gcc time)\n`);
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'irqlab-spin-'));
  const int = (x: number) => Math.round(x).toLocaleString('en-US');
  try {
    const spinV = spawnSync('spin', ['-V'], { encoding: 'utf8' }).stdout.trim();
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(
      `irqlab vs ${spinV} · node ${process.version} · median of ${runs} run(s) · load average ${load}\n`,
    );
    for (const n of ns) {
      const s = spinRow(n, runs, tmp);
      const q = irqlabRow(n, runs, tmp, { workers: 1, reduce: false });
      const par = workers > 1 ? irqlabRow(n, runs, tmp, { workers, reduce: false }) : undefined;
      const red = irqlabRow(n, runs, tmp, { workers: 1, reduce: true });
      const same =
        s.distinct === q.distinct &&
        s.generated === q.generated &&
        (par === undefined || (par.distinct === q.distinct && par.generated === q.generated));
      process.stdout.write(`\n== scaled seed 004, ${n} vCPUs (${n + 1} vectors)\n`);
      process.stdout.write(
        '| tool | distinct | generated | CPU s | wall s | distinct/CPU s | peak RSS MiB | RSS B/state | store B/state | note |\n|:--|--:|--:|--:|--:|--:|--:|--:|--:|:--|\n',
      );
      for (const r of [s, q, ...(par ? [par] : []), red]) {
        process.stdout.write(
          `| ${r.tool} | ${int(r.distinct)} | ${int(r.generated)} | ${r.cpuS.toFixed(2)} | ${r.wallS.toFixed(2)} | ${int(r.distinct / r.cpuS)} | ${int(r.rssKiB / 1024)} | ${int((r.rssKiB * 1024) / r.distinct)} | ${int(r.storeBytesPerState)} | ${r.note} |\n`,
        );
      }
      const ratios = (r: Row & { exploreCpuS: number }) =>
        `CPU ${(r.cpuS / s.cpuS).toFixed(2)}x (search alone ${(r.exploreCpuS / s.cpuS).toFixed(2)}x), wall ${(r.wallS / s.wallS).toFixed(2)}x, peak RSS ${(r.rssKiB / s.rssKiB).toFixed(2)}x`;
      process.stdout.write(
        `irqlab / spin: ${ratios(q)}, store bytes per state ${(q.storeBytesPerState / s.storeBytesPerState).toFixed(2)}x; same state space: ${same ? 'yes' : 'NO'}\n`,
      );
      if (par)
        process.stdout.write(
          `irqlab ${workers} threads / spin: ${ratios(par)}; ${workers} threads / one: wall ${(q.wallS / par.wallS).toFixed(2)}x faster (search alone ${(Number(q.note.match(/([\d.]+) wall s/)?.[1]) / Number(par.note.match(/([\d.]+) wall s/)?.[1])).toFixed(2)}x)\n`,
        );
      process.stdout.write(
        `irqlab --reduce ample / spin (-DNOREDUCE): ${ratios(red)}; ${int(red.distinct)} distinct, ${((1 - red.distinct / q.distinct) * 100).toFixed(1)}% fewer than unreduced\n`,
      );
      if (!same) process.exitCode = 1;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main();
