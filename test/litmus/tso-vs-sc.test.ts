/**
 * Properties of the two memory models over random small litmus programs (stores, loads, MFENCE,
 * XCHG and LOCK INC on two locations): every SC outcome is a TSO outcome (an SC execution is a TSO
 * execution that flushes each store at once), and with an MFENCE after every plain store the TSO
 * outcomes are exactly the SC outcomes (x86-TSO's only relaxation is a load passing the own
 * buffered stores; CACM 2010 section 3).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LitmusMemory } from '../../src/litmus/machine.ts';
import { parseLitmus } from '../../src/litmus/parse.ts';
import { runLitmus } from '../../src/litmus/run.ts';

type Op =
  | { k: 'st'; loc: string; v: number }
  | { k: 'ld'; loc: string }
  | { k: 'mfence' }
  | { k: 'xchg' | 'inc'; loc: string };

const loc = fc.constantFrom('x', 'y');
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant('st' as const), loc, v: fc.integer({ min: 1, max: 2 }) }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('ld' as const), loc }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('mfence' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('xchg' as const, 'inc' as const), loc }) },
);
const program = fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 });

const LOAD_REGS = ['EAX', 'EBX', 'ECX'];

/** The program as a litmus file whose outcomes list every location and register it uses. */
function toLitmus(threads: Op[][], fenceStores: boolean): string {
  const cells = threads.map((ops) => {
    let loads = 0;
    const out: string[] = [];
    for (const o of ops) {
      if (o.k === 'st') {
        out.push(`MOV [${o.loc}],$${o.v}`);
        if (fenceStores) out.push('MFENCE');
      } else if (o.k === 'ld') out.push(`MOV ${LOAD_REGS[loads++]},[${o.loc}]`);
      else if (o.k === 'mfence') out.push('MFENCE');
      else if (o.k === 'xchg') out.push(`XCHG [${o.loc}],EDX`);
      else out.push(`LOCK INC [${o.loc}]`);
    }
    return out;
  });
  const rows = Math.max(...cells.map((c) => c.length));
  const table = [threads.map((_, t) => `P${t}`).join(' | ')];
  for (let r = 0; r < rows; r++) table.push(cells.map((c) => c[r] ?? '').join(' | '));
  const places = [
    'x',
    'y',
    ...threads.flatMap((_, t) => ['EAX', 'EBX', 'ECX', 'EDX'].map((reg) => `${t}:${reg}`)),
  ];
  const init = threads.map((_, t) => `${t}:EDX=${3 + t};`).join(' ');
  return `X86 random\n{ ${init} }\n${table.map((r) => ` ${r} ;`).join('\n')}\nlocations [${places.join(';')}]\nforall (true)\n`;
}

function outcomes(text: string, memory: LitmusMemory): Set<string> {
  const r = runLitmus(parseLitmus(text, 'random.litmus'), memory);
  assert.notEqual(r.verdict, 'incomplete');
  return new Set(r.outcomes.map((o) => JSON.stringify(o.values)));
}

describe('x86-TSO against SC on random programs', () => {
  it('every SC outcome is a TSO outcome', () => {
    fc.assert(
      fc.property(program, (threads) => {
        const text = toLitmus(threads, false);
        const tso = outcomes(text, 'tso');
        for (const o of outcomes(text, 'sc')) assert.ok(tso.has(o), `${o} missing under TSO in\n${text}`);
      }),
      { numRuns: 120 },
    );
  });

  it('with MFENCE after every store, TSO has exactly the SC outcomes', () => {
    fc.assert(
      fc.property(program, (threads) => {
        const text = toLitmus(threads, true);
        assert.deepEqual([...outcomes(text, 'tso')].sort(), [...outcomes(text, 'sc')].sort(), text);
        // and the fences change nothing under SC
        assert.deepEqual(
          [...outcomes(toLitmus(threads, false), 'sc')].sort(),
          [...outcomes(text, 'sc')].sort(),
        );
      }),
      { numRuns: 120 },
    );
  });

  it('TSO is strictly weaker on some program (the property above is not vacuous)', () => {
    const sb = toLitmus(
      [
        [
          { k: 'st', loc: 'x', v: 1 },
          { k: 'ld', loc: 'y' },
        ],
        [
          { k: 'st', loc: 'y', v: 1 },
          { k: 'ld', loc: 'x' },
        ],
      ],
      false,
    );
    assert.ok(outcomes(sb, 'tso').size > outcomes(sb, 'sc').size);
  });
});
