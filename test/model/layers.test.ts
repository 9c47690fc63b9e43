/**
 * Imports only go down (README, "Simple and clear"; docs/decisions/0006): cli → report → check, run,
 * sim, trace, litmus, runtime → drive → scenarios → model, and inside src/model hw < platform < kvm <
 * system. Units of the same tier may import each other one way (no cycle between folders). And
 * src/model is pure: it imports no `node:` module and reads no clock and no random source, so a
 * state's successors depend on the state alone (what the checker's state store assumes).
 *
 * The rules are functions of an import list, so the tests below hold them against both the real
 * graph of src/ and small synthetic lists that must break them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The unit a file of src belongs to and its tier (higher may import lower). */
const TIERS: readonly (readonly [unit: string, tier: number])[] = [
  ['src/errors.ts', 0],
  ['src/model/hw', 1],
  ['src/model/platform', 2],
  ['src/model/kvm', 3],
  ['src/model/system', 4],
  ['src/scenarios', 5],
  ['src/drive', 6],
  ['src/check', 7],
  ['src/run', 7],
  ['src/sim', 7],
  ['src/trace', 7],
  ['src/litmus', 7],
  ['src/runtime', 7],
  // The report puts checks, traces and simulations together: above them, below the commands.
  ['src/report', 8],
  // The benchmarks behind `irqlab bench`: they drive the checker, the simulator and the runtime.
  ['src/bench', 8],
  ['src/cli', 9],
  ['src/index.ts', 9],
];

/**
 * Imports that leave src: none. (`irqlab bench` loads its benchmarks from src/bench; bench/ holds
 * only their standalone entry points and the Spin model, which import src, never the reverse.)
 */
const LEAVES_SRC: ReadonlySet<string> = new Set([]);

interface Import {
  readonly from: string;
  /** A path from the repository root for a relative import, else the specifier as written. */
  readonly to: string;
}

function unitOf(file: string): { unit: string; tier: number } | undefined {
  for (const [unit, tier] of TIERS) if (file === unit || file.startsWith(`${unit}/`)) return { unit, tier };
  return undefined;
}

/** The specifiers a source imports: static imports and re-exports, side-effect imports, import('…'). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

function resolve(from: string, spec: string): string {
  return spec.startsWith('.')
    ? normalize(join(dirname(from), spec))
        .split('\\')
        .join('/')
    : spec;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mjs|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Every import of every source file under src/. */
function graph(): Import[] {
  const out: Import[] = [];
  for (const from of sourceFiles('src')) {
    for (const spec of specifiers(readFileSync(join(ROOT, from), 'utf8')))
      out.push({ from, to: resolve(from, spec) });
  }
  return out;
}

/** Imports that break the direction rule, one line each. */
export function directionFaults(imports: readonly Import[]): string[] {
  const faults: string[] = [];
  const sideways = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const a = unitOf(from);
    if (a === undefined) {
      faults.push(`${from} is in no layer`);
      continue;
    }
    const local =
      to.startsWith('src/') || to.startsWith('bench/') || to.startsWith('scripts/') || to.startsWith('test/');
    if (!local) continue;
    if (!to.startsWith('src/')) {
      if (!LEAVES_SRC.has(`${from} -> ${to}`)) faults.push(`${from} imports ${to}, outside src`);
      continue;
    }
    const b = unitOf(to);
    if (b === undefined) {
      faults.push(`${from} imports ${to}, which is in no layer`);
      continue;
    }
    if (a.unit === b.unit) continue;
    if (b.tier > a.tier) faults.push(`${from} imports ${to}: ${a.unit} is below ${b.unit}`);
    else if (b.tier === a.tier) {
      const s = sideways.get(a.unit) ?? new Set<string>();
      s.add(b.unit);
      sideways.set(a.unit, s);
    }
  }
  for (const [a, bs] of sideways) {
    for (const b of bs) if (a < b && sideways.get(b)?.has(a)) faults.push(`${a} and ${b} import each other`);
  }
  return faults;
}

/** What makes a file of src/model impure, one line each. */
export function purityFaults(file: string, source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  const faults: string[] = [];
  for (const spec of specifiers(code)) if (spec.startsWith('node:')) faults.push(`${file} imports ${spec}`);
  const reads: readonly [RegExp, string][] = [
    [/\bDate\b/, 'a clock (Date)'],
    [/\bperformance\b/, 'a clock (performance)'],
    [/\bprocess\.hrtime\b/, 'a clock (process.hrtime)'],
    [/\bMath\.random\b/, 'a random source (Math.random)'],
    [/\bcrypto\b/, 'a random source (crypto)'],
  ];
  for (const [re, what] of reads) if (re.test(code)) faults.push(`${file} reads ${what}`);
  return faults;
}

describe('layers: imports only go down', () => {
  const imports = graph();

  test('the graph is read: each layer of the model is imported from the one above', () => {
    const has = (from: string, to: string) => imports.some((i) => i.from === from && i.to === to);
    assert.ok(has('src/model/system/system.ts', 'src/model/kvm/program.ts'));
    assert.ok(has('src/model/kvm/posted-intr.ts', 'src/model/platform/world.ts'));
    assert.ok(has('src/model/platform/world.ts', 'src/model/hw/pid.ts'));
    assert.ok(has('src/cli/bench.ts', 'src/bench/startup.ts'), 'a dynamic import() is read too');
    assert.ok(imports.length > 300, `only ${imports.length} imports read`);
  });

  test('no import in src runs up a layer, and units of one tier do not import each other both ways', () => {
    assert.deepEqual(directionFaults(imports), []);
  });

  test('an upward import, a sideways cycle and an import out of src are each caught', () => {
    assert.deepEqual(
      directionFaults([
        { from: 'src/model/kvm/avic.ts', to: 'src/model/system/system.ts' },
        { from: 'src/model/platform/avic-steps.ts', to: 'src/model/kvm/ir-list.ts' },
        { from: 'src/drive/drive.ts', to: 'src/trace/record.ts' },
        { from: 'src/check/a.ts', to: 'src/trace/b.ts' },
        { from: 'src/trace/b.ts', to: 'src/check/a.ts' },
        { from: 'src/run/run.ts', to: 'bench/check/index.ts' },
        { from: 'src/model/hw/pid.ts', to: 'src/errors.ts' },
        { from: 'src/cli/main.ts', to: 'src/model/hw/pid.ts' },
      ]),
      [
        'src/model/kvm/avic.ts imports src/model/system/system.ts: src/model/kvm is below src/model/system',
        'src/model/platform/avic-steps.ts imports src/model/kvm/ir-list.ts: src/model/platform is below src/model/kvm',
        'src/drive/drive.ts imports src/trace/record.ts: src/drive is below src/trace',
        'src/run/run.ts imports bench/check/index.ts, outside src',
        'src/check and src/trace import each other',
      ],
    );
  });

  test('specifiers: multi-line imports, type imports, re-exports, import() and side-effect imports', () => {
    const src = [
      "import {\n  a,\n  b,\n} from '../a.ts';",
      "import type { T } from './t.ts';",
      "export { x } from './x.ts';",
      "import './side.ts';",
      "const m = await import(\n  '../../bench/m.ts'\n);",
      "const s = 'from ./not-an-import.ts';",
    ].join('\n');
    assert.deepEqual(specifiers(src).sort(), [
      '../../bench/m.ts',
      '../a.ts',
      './side.ts',
      './t.ts',
      './x.ts',
    ]);
  });
});

describe('src/model is pure', () => {
  test('no file of src/model imports node: or reads a clock or a random source', () => {
    const files = sourceFiles('src/model');
    assert.ok(files.length > 40, `only ${files.length} files under src/model`);
    const faults = files.flatMap((f) => purityFaults(f, readFileSync(join(ROOT, f), 'utf8')));
    assert.deepEqual(faults, []);
  });

  test('each kind of impurity is caught, and a comment that names one is not', () => {
    const bad = [
      "import { readFileSync } from 'node:fs';",
      'const t = Date.now();',
      'const u = performance.now();',
      'const r = Math.random();',
    ].join('\n');
    assert.deepEqual(purityFaults('x.ts', bad), [
      'x.ts imports node:fs',
      'x.ts reads a clock (Date)',
      'x.ts reads a clock (performance)',
      'x.ts reads a random source (Math.random)',
    ]);
    assert.deepEqual(purityFaults('y.ts', '/** not Math.random() */\n// nor Date.now()\nconst a = 1;'), []);
  });
});
