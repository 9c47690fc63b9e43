/**
 * herdtools7's 88 x86 litmus tests, unmodified, against the outcomes herd7 gives them
 * (../shared/litmus/herdtools7/: the tests, their EXPECTED.txt and README.md with where each
 * outcome comes from). The folder sits beside the repository (../shared from its root); CI has it
 * there. IRQLAB_HERDTOOLS7 names another place (a git worktree elsewhere). Without the folder the
 * suite is skipped with a message saying so.
 *
 * What EXPECTED.txt states: `Allowed` when herd's Observation is Sometimes or Always, i.e. some
 * final state satisfies the condition's proposition P, `Forbidden` when none does (Never). That
 * is irqlab's verdict, for every quantifier.
 *
 * Under SC the outcome each test is about must be impossible. For `exists P` and `~exists P`
 * that outcome is P (a relaxed or incoherent result): Forbidden, Observation Never. For
 * `forall P` (herd's instruction tests, one thread each) it is a counterexample ~P: P must
 * hold in every final state, Observation Always, so the verdict on P is Allowed, not Forbidden.
 *
 * For the 46 X86 tests, x86/EXPECTED-herd7.tsv also gives herd7's counts of outcomes that satisfy
 * P and that do not, under both models; irqlab's must be the same.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLitmus } from '../../src/litmus/parse.ts';
import { runLitmus } from '../../src/litmus/run.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = process.env.IRQLAB_HERDTOOLS7 || join(ROOT, '..', 'shared', 'litmus', 'herdtools7');

/** The .litmus files under dir, as paths relative to it without the extension. */
function testsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.litmus')) out.push(relative(dir, p).slice(0, -'.litmus'.length));
    }
  };
  walk(dir);
  return out.sort();
}

function expected(folder: string): Map<string, 'allowed' | 'forbidden'> {
  const out = new Map<string, 'allowed' | 'forbidden'>();
  for (const line of readFileSync(join(DIR, folder, 'EXPECTED.txt'), 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [name, verdict] = line.trim().split(/\s+/);
    assert.ok(verdict === 'Allowed' || verdict === 'Forbidden', `EXPECTED.txt: ${line}`);
    out.set(name, verdict === 'Allowed' ? 'allowed' : 'forbidden');
  }
  return out;
}

/**
 * x86/EXPECTED-herd7.tsv: herd7's Observation counts (outcomes satisfying P, and not) under
 * x86-TSO and SC for the X86 tests. None of them uses XCHG, so herd's sc.cat flaw (README) does
 * not touch these counts.
 */
function herdCounts(): Map<string, { tso: [number, number]; sc: [number, number] }> {
  const out = new Map<string, { tso: [number, number]; sc: [number, number] }>();
  const [head, ...rows] = readFileSync(join(DIR, 'x86', 'EXPECTED-herd7.tsv'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(head, 'name\ttest\tx86tso\tx86tso_positive\tx86tso_negative\tsc\tsc_positive\tsc_negative');
  for (const row of rows) {
    const [name, , , tp, tn, , sp, sn] = row.split('\t');
    out.set(name, { tso: [Number(tp), Number(tn)], sc: [Number(sp), Number(sn)] });
  }
  return out;
}

const present = existsSync(DIR);
const skip = present
  ? false
  : `herdtools7's tests are not at ${DIR} (../shared/litmus/herdtools7 beside the repository, or IRQLAB_HERDTOOLS7)`;

describe("herdtools7's x86 litmus tests (../shared/litmus/herdtools7)", { skip }, () => {
  if (!present) return;
  const folders = ['x86', 'x86_64'];
  const herd = herdCounts();
  const all = folders.flatMap((folder) =>
    [...expected(folder)].map(([name, verdict]) => ({ folder, name, verdict })),
  );

  it('EXPECTED.txt lists exactly the tests of each folder, 88 in all', () => {
    for (const folder of folders)
      assert.deepEqual([...expected(folder).keys()].sort(), testsUnder(join(DIR, folder)), folder);
    assert.equal(all.length, 88);
  });

  for (const { folder, name, verdict } of all) {
    it(`${folder}/${name}: ${verdict} under x86-TSO, its outcome impossible under SC`, () => {
      const file = join(DIR, folder, `${name}.litmus`);
      const t = parseLitmus(readFileSync(file, 'utf8'), file);
      assert.equal(t.arch, folder === 'x86' ? 'X86' : 'X86_64');
      const tso = runLitmus(t, 'tso');
      const sc = runLitmus(t, 'sc');
      assert.equal(tso.verdict, verdict, `x86-TSO: ${tso.observation} ${tso.positive} ${tso.negative}`);
      if (t.condition.quantifier === 'forall')
        assert.equal(sc.observation, 'always', 'SC: a counterexample to forall');
      else assert.equal(sc.verdict, 'forbidden', 'SC: the outcome of exists / ~exists');
      const counts = folder === 'x86' ? herd.get(name) : undefined;
      if (folder === 'x86') {
        assert.ok(counts, `${name} in EXPECTED-herd7.tsv`);
        assert.deepEqual([tso.positive, tso.negative], counts.tso, 'x86-TSO: herd7 positive and negative');
        assert.deepEqual([sc.positive, sc.negative], counts.sc, 'SC: herd7 positive and negative');
      }
      // Every SC outcome is a TSO outcome (an SC execution is a TSO one that flushes at once).
      const tsoKeys = new Set(tso.outcomes.map((o) => JSON.stringify(o.values)));
      for (const o of sc.outcomes)
        assert.ok(tsoKeys.has(JSON.stringify(o.values)), `SC outcome ${JSON.stringify(o.values)} under TSO`);
    });
  }
});
