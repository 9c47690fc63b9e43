/**
 * X86_64 tests in AT&T syntax (herdtools7's catalogue/x86_64 and herd's instruction tests): what
 * the parser reads, what each construct does (expected values from the SDM sections cited), and
 * the one-line `file:line:` errors for what it refuses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import { parseLitmus } from '../../src/litmus/parse.ts';
import { type ModelResult, runLitmus } from '../../src/litmus/run.ts';

const DIR = fileURLToPath(new URL('./x86_64/', import.meta.url));

/** One thread's program in a test whose outcome lists `places`. */
function single(init: string, code: string[], places: string): string {
  return `X86_64 T\n{ ${init} }\n P0 ;\n${code.map((c) => ` ${c} ;`).join('\n')}\nlocations [${places}]\nforall (true)\n`;
}

/** The final values of a one-thread test (it has one outcome under either model). */
function finalOf(text: string): Record<string, number | string> {
  const r = runLitmus(parseLitmus(text, 't.litmus'), 'sc');
  assert.equal(r.outcomes.length, 1);
  return r.outcomes[0].values;
}

function both(text: string): { tso: ModelResult; sc: ModelResult } {
  const t = parseLitmus(text, 't.litmus');
  return { tso: runLitmus(t, 'tso'), sc: runLitmus(t, 'sc') };
}

describe('AT&T syntax', () => {
  it('reads SB as herd writes it: source first, 32-bit registers in code, 64-bit in the condition', () => {
    const t = parseLitmus(
      `X86_64 SB
{ }
 P0            | P1            ;
 movl $1,(x)   | movl $1,(y)   ;
 movl (y),%eax | MOVL (X),%EAX ;
exists (0:rax=0 /\\ 1:RAX=0)
`,
      'sb.litmus',
    );
    assert.equal(t.arch, 'X86_64');
    assert.deepEqual(
      t.threads.map((p) => p.map((i) => i.op)),
      [
        ['store', 'load'],
        ['store', 'load'],
      ],
    );
    assert.deepEqual(
      t.cells.map((c) => c.name),
      ['x', 'y', 'X'],
    );
    const { tso, sc } = both(
      `X86_64 SB\n{ }\n P0 | P1 ;\n movl $1,(x) | movl $1,(y) ;\n movl (y),%eax | movl (x),%eax ;\nexists (0:rax=0 /\\ 1:RAX=0)\n`,
    );
    // SB: allowed under x86-TSO, forbidden under SC (CACM 2010; SDM Vol. 3A 9.2.3.4).
    assert.equal(tso.verdict, 'allowed');
    assert.equal(sc.verdict, 'forbidden');
    assert.deepEqual(Object.keys(tso.outcomes[0].values), ['0:rax', '1:rax']);
  });

  it('register parts: a 32-bit write zero-extends, 8- and 16-bit writes merge (SDM Vol. 1 3.4.1.1)', () => {
    const v = finalOf(
      single(
        '0:rax=-1; 0:rbx=0x1234; 0:rcx=0x11223344',
        ['movl $1,%eax', 'movb $-1,%bl', 'movw $7,%cx', 'movq %rcx,%rdx', 'movl %ecx,%esi'],
        '0:rax; 0:rbx; 0:rcx; 0:rdx; 0:esi',
      ),
    );
    assert.deepEqual(v, {
      '0:rax': 1,
      '0:rbx': 0x12ff,
      '0:rcx': 0x11220007,
      '0:rdx': 0x11220007,
      '0:esi': 0x11220007,
    });
  });

  it('typed locations: sizes, signedness, 64-bit values and arrays with initialisers', () => {
    const v = finalOf(
      single(
        'uint64_t x; int64_t t[2]={1,-1}; char c; short s; unsigned u = 0xffffffff; int64_t 0:r8',
        ['movq $-1,(x)', 'movb $-1,(c)', 'movw $-2,(s)', 'movq (t),%r8'],
        'x; t; c; s; u; 0:r8',
      ),
    );
    assert.deepEqual(v, { x: '18446744073709551615', 't[0]': 1, c: -1, s: -2, u: 4294967295, '0:r8': 1 });
  });

  it('addresses as values and computed addresses: disp(%base,%index,scale) (herd A009)', () => {
    const v = finalOf(
      single(
        'int t[3]={10,20,30}; 0:rax=t; 0:rbx=2',
        [
          'movl 0(%rax,%rbx,4),%ecx',
          'movl 4(%rax),%edx',
          'movl $7,-4(%rax,%rbx,4)',
          'movq $t,%rsi',
          'movl x(%rip),%edi',
        ],
        '0:rax; 0:rcx; 0:rdx; 0:rsi; t[1]; 0:rdi',
      ),
    );
    assert.deepEqual(v, { '0:rax': 't', '0:rcx': 30, '0:rdx': 20, '0:rsi': 't', 't[1]': 7, '0:rdi': 0 });
  });

  it('an address outside the test locations: one line naming the instruction, exit 2', () => {
    const text = single('int t[2]; 0:rax=t; 0:rbx=2', ['nop', 'movl 0(%rax,%rbx,4),%ecx'], '0:rcx');
    assert.throws(
      () => runLitmus(parseLitmus(text, 'f.litmus'), 'tso'),
      (e: unknown) =>
        e instanceof UserError &&
        /^f\.litmus:5: P0: movl 0\(%rax,%rbx,4\),%ecx: the address t\+8 is not a 4-byte location of the test$/.test(
          e.message,
        ),
    );
  });

  it('NOP forms, ENDBR64 and the fences other than MFENCE change nothing (herd A003-A005)', () => {
    const v = finalOf(
      single(
        '0:rax=5',
        [
          'nop',
          'NOP',
          'nopl 0(%rax,%rax,1)',
          'nopw 0(%rax,%eax,0)',
          'NOPL %cs:0(%rax,%eax,0)',
          'endbr64',
          'lfence',
          'sfence',
        ],
        '0:rax',
      ),
    );
    assert.deepEqual(v, { '0:rax': 5 });
  });

  it('ALU, flags and branches: shl, and, cmp, Jcc, jmp, ret (SDM Vol. 2)', () => {
    const v = finalOf(
      single(
        '0:rax=1; 0:rbx=-1',
        [
          'shl 2,%eax',
          'shlq $62,%rbx',
          'cmpl $4,%eax',
          'je L1',
          'movl $99,%ecx',
          'L1: cmpq $0,%rbx',
          'jl L2',
          'movl $98,%ecx',
          'ret',
          'L2:',
          'movl $1,%edx',
          'jmp L3',
          'movl $97,%edx',
          'L3:',
          'ret',
          'movl $96,%edx',
        ],
        '0:rax; 0:rbx; 0:rcx; 0:rdx',
      ),
    );
    assert.deepEqual(v, { '0:rax': 4, '0:rbx': '-4611686018427387904', '0:rcx': 0, '0:rdx': 1 });
  });

  it('locked read-modify-writes: xchg both ways, lock add/inc/xadd/cmpxchg with the flags CMPXCHG sets', () => {
    const v = finalOf(
      single(
        'int x = 5; uint64_t y = 1; int z; 0:rax=7; 0:rbx=3; 0:rcx=9',
        [
          'xchg %eax,(x)',
          'xchgl (x),%eax',
          'lock addq $10,(y)',
          'lock; incq (y)',
          'lock xaddl %ebx,(z)',
          'movl $0,%eax',
          'lock cmpxchgl %ecx,(z)',
          'jne L',
          'movl $1,%edx',
          'L:',
        ],
        'x; y; z; 0:rax; 0:rbx; 0:rdx',
      ),
    );
    // z was 0, xadd: z=3, ebx=0; cmpxchg compares eax=0 with z=3: not equal, eax := 3, ZF clear.
    assert.deepEqual(v, { x: 5, y: 12, z: 3, '0:rax': 3, '0:rbx': 0, '0:rdx': 0 });
  });

  it('a spinlock with XCHG: mutual exclusion under x86-TSO and SC; without it the increment races', () => {
    const file = `${DIR}spinlock.litmus`;
    const text = readFileSync(file, 'utf8');
    const t = parseLitmus(text, file);
    for (const memory of ['tso', 'sc'] as const)
      assert.equal(runLitmus(t, memory).verdict, 'forbidden', memory);
    const racy = text.replace(/xchgl %eax,\(l\) {5}/g, 'movl (l),%eax     ');
    assert.notEqual(racy, text);
    const r = both(racy);
    assert.equal(r.tso.verdict, 'allowed');
    assert.equal(r.sc.verdict, 'allowed');
  });

  it('MP with a spinning reader: forbidden under x86-TSO (SDM Vol. 3A 9.2.3.2); the loop terminates', () => {
    const file = `${DIR}MP+spin.litmus`;
    const r = runLitmus(parseLitmus(readFileSync(file, 'utf8'), file), 'tso');
    assert.equal(r.verdict, 'forbidden');
    assert.deepEqual(
      r.outcomes.map((o) => o.values),
      [{ '1:rbx': 1 }],
    );
  });

  it('a witness shows whether each conditional branch is taken', () => {
    const r = runLitmus(
      parseLitmus(
        `X86_64 W\n{ }\n P0 | P1 ;\n movl $1,(x) | L: movl (x),%eax ;\n | cmpl $0,%eax ;\n | je L ;\nexists (1:rax=1)\n`,
        'w.litmus',
      ),
      'sc',
    );
    const texts = r.witness!.steps.map((s) => s.text);
    assert.ok(texts.includes('je L (not taken)'), texts.join('\n'));
  });

  it('an 8-byte store reaches memory in one step: its witness has one flush', () => {
    const r = runLitmus(
      parseLitmus(`X86_64 Q\n{ uint64_t x; }\n P0 ;\n movq $-1,(x) ;\nexists ([x]=-1)\n`, 'q.litmus'),
      'tso',
    );
    assert.deepEqual(
      r.witness!.steps.map((s) => s.text),
      ['movq $-1,(x) (buffered)', 'flush x=18446744073709551615'],
    );
  });
});

type Op = { k: 'st' | 'ld' | 'xchg' | 'inc' | 'add'; loc: 'x' | 'y'; v: number } | { k: 'mfence' };

/** The same program in both syntaxes; its outcome lists x, y and every register. */
function bothSyntaxes(threads: Op[][]): [string, string] {
  const regs = ['EAX', 'EBX', 'ECX'];
  const out = (arch: 'X86' | 'X86_64') =>
    threads.map((ops) => {
      let r = 0;
      return ops.map((o) => {
        const reg = regs[r % 3];
        const att = `%${reg.toLowerCase()}`;
        if (o.k === 'mfence') return arch === 'X86' ? 'MFENCE' : 'mfence';
        if (o.k === 'st') return arch === 'X86' ? `MOV [${o.loc}],$${o.v}` : `movl $${o.v},(${o.loc})`;
        if (o.k === 'inc') return arch === 'X86' ? `LOCK INC [${o.loc}]` : `lock incl (${o.loc})`;
        if (o.k === 'add')
          return arch === 'X86' ? `LOCK ADD [${o.loc}],$${o.v}` : `lock; addl $${o.v},(${o.loc})`;
        r++;
        if (o.k === 'ld') return arch === 'X86' ? `MOV ${reg},[${o.loc}]` : `movl (${o.loc}),${att}`;
        return arch === 'X86' ? `XCHG [${o.loc}],${reg}` : `xchgl ${att},(${o.loc})`;
      });
    });
  const text = (arch: 'X86' | 'X86_64') => {
    const cells = out(arch);
    const rows = Math.max(...cells.map((c) => c.length));
    const table = [threads.map((_, t) => `P${t}`).join(' | ')];
    for (let k = 0; k < rows; k++) table.push(cells.map((c) => c[k] ?? '').join(' | '));
    const places = ['x', 'y', ...threads.flatMap((_, t) => regs.map((r) => `${t}:${r}`))];
    const init = threads.map((_, t) => `${t}:EAX=${5 + t};`).join(' ');
    return `${arch} T\n{ ${init} }\n${table.map((row) => ` ${row} ;`).join('\n')}\nlocations [${places.join(';')}]\nforall (true)\n`;
  };
  return [text('X86'), text('X86_64')];
}

describe('the same program in Intel (X86) and AT&T (X86_64) syntax', () => {
  const loc = fc.constantFrom('x' as const, 'y' as const);
  const v = fc.integer({ min: 1, max: 2 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('st' as const), loc, v }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('ld' as const), loc, v }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('mfence' as const) }) },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constantFrom('xchg' as const, 'inc' as const, 'add' as const), loc, v }),
    },
  );
  const program = fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 });

  it('has the same outcomes under x86-TSO and under SC', () => {
    fc.assert(
      fc.property(program, fc.constantFrom('tso' as const, 'sc' as const), (threads, memory) => {
        const [intel, att] = bothSyntaxes(threads);
        const values = (text: string) =>
          runLitmus(parseLitmus(text, 't.litmus'), memory)
            .outcomes.map((o) => JSON.stringify(Object.values(o.values)))
            .sort();
        assert.deepEqual(values(att), values(intel), `${intel}\n${att}`);
      }),
      { numRuns: 150 },
    );
  });
});

describe('AT&T errors: one line, file:line', () => {
  const t = (code: string, init = '') => `X86_64 T\n{ ${init} }\n P0 ;\n ${code} ;\nexists ([x]=1)\n`;
  const cases: [string, string, RegExp][] = [
    [t('bts $1,(x)'), 'unsupported', /^bad\.litmus:4: P0: unsupported instruction "bts \$1,\(x\)"/],
    [
      t('movl %rax,(x)'),
      'size',
      /^bad\.litmus:4: P0: movl %rax,\(x\): a 8-byte register in a 4-byte operation/,
    ],
    [t('addl $1,(x)'), 'unlocked', /^bad\.litmus:4: P0: addl \$1,\(x\): .*without LOCK is not atomic/],
    [
      t('lock movl $1,(x)'),
      'lock mov',
      /^bad\.litmus:4: P0: lock movl \$1,\(x\): MOV cannot take a LOCK prefix/,
    ],
    [
      t('movb %ah,(x)', 'char x'),
      'high byte',
      /^bad\.litmus:4: P0: movb %ah,\(x\): the high-byte register "ah"/,
    ],
    [
      t('movl %fs:(x),%eax'),
      'segment',
      /^bad\.litmus:4: P0: movl %fs:\(x\),%eax: the segment override "%fs:"/,
    ],
    [t('mov $1,(%rax)'), 'size unknown', /^bad\.litmus:4: P0: mov \$1,\(%rax\): the operand size is unknown/],
    [t('endbr64 %rax'), 'endbr64 operand', /^bad\.litmus:4: P0: endbr64 %rax: ENDBR64 takes no operands/],
    [t('jne L9'), 'no label', /^bad\.litmus:4: P0: no label "L9" in P0/],
    [t('movl $1,(x)', 'float x'), 'type', /^bad\.litmus:2: initial state: the type "float" is not supported/],
    [
      t('movq $0x1ffffffffffffffff,(x)'),
      'range',
      /^bad\.litmus:4: 0x1ffffffffffffffff does not fit in 64 bits/,
    ],
    [
      t('shll $1,(x)'),
      'shift memory',
      /^bad\.litmus:4: P0: shll \$1,\(x\): SHL is read with a register destination/,
    ],
    [
      'X86_64 T\n{ }\n P0 ;\n L: movl $1,(x) ;\n jmp L ;\nexists ([x]=1)\n',
      'store on a loop',
      /^bad\.litmus:4: P0: movl \$1,\(x\): a store on a loop is not supported/,
    ],
    [
      'X86_64 T\n{ int t[2]={1,2,3}; }\n P0 ;\n nop ;\nexists (0:rax=0)\n',
      'initialiser',
      /^bad\.litmus:2: .*3 values for t\[2\]/,
    ],
    [
      'X86_64 T\n{ int x; int x; }\n P0 ;\n nop ;\nexists (0:rax=0)\n',
      'twice',
      /^bad\.litmus:2: x is declared twice/,
    ],
    [
      'X86_64 T\n{ }\n P0 ;\n nop ;\nexists (0:xmm0=0)\n',
      'condition register',
      /^bad\.litmus:5: "xmm0" is not a supported register/,
    ],
  ];
  for (const [text, what, re] of cases) {
    it(what, () => {
      assert.throws(
        () => parseLitmus(text, 'bad.litmus'),
        (e: unknown) => {
          assert.ok(e instanceof UserError, `a UserError, got ${e}`);
          assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }
});
