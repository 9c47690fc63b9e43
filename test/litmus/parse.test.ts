/**
 * The herdtools7 x86 litmus format: what the parser reads, and the one-line `file:line:` errors
 * for everything it does not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { parseLitmus } from '../../src/litmus/parse.ts';
import { runLitmus } from '../../src/litmus/run.ts';

const SB = `X86 SB
"Fre PodWR Fre PodWR"
Generator=diycross7 (version 7.54+01(dev))
Com=Fr Fr
(* a comment
   over two lines *)
{ x=0; y=0;
  0:EAX=7; }
 P0          | P1          ;
 MOV [x],$1  | MOV [y],$1  ;
 MOV EAX,[y] | mov eax,[x] ;
locations [x;]
exists
(0:EAX=0 /\\ 1:EAX=0)
`;

describe('parseLitmus', () => {
  it('reads the header, initial state, thread table, locations and condition', () => {
    const t = parseLitmus(SB, 'sb.litmus');
    assert.equal(t.name, 'SB');
    assert.equal(t.doc, 'Fre PodWR Fre PodWR');
    assert.equal(t.meta.Com, 'Fr Fr');
    assert.equal(t.arch, 'X86');
    assert.deepEqual(
      t.cells.map((c) => c.name),
      ['x', 'y'],
    );
    assert.deepEqual(t.initRegs[0][0], { lo: 7, hi: 0 });
    assert.deepEqual(
      t.threads.map((p) => p.map((i) => i.text)),
      [
        ['MOV [x],$1', 'MOV EAX,[y]'],
        ['MOV [y],$1', 'MOV EAX,[x]'],
      ],
    );
    assert.equal(t.threads[1][1].line, 11);
    assert.equal(t.condition.quantifier, 'exists');
    assert.equal(t.condition.text, 'exists (0:EAX=0 /\\ 1:EAX=0)');
    // locations first, then the condition's places
    assert.deepEqual(
      t.observed.map((o) => (o.kind === 'mem' ? t.cells[o.cell].name : `${o.thread}:${o.reg}/${o.width}`)),
      ['x', '0:0/4', '1:0/4'],
    );
  });

  it('reads empty cells, LOCK instructions, XCHG both ways, hex and negative immediates', () => {
    const t = parseLitmus(
      `X86 T
{ }
 P0                 | P1              ;
 LOCK ADD [x],$0x10 |                 ;
 LOCK INC [x]       | XCHG EAX,[x]    ;
 LOCK XADD [x],EBX  | LOCK CMPXCHG [y],ECX ;
 MOV ECX,$-1        | MFENCE          ;
forall (true)
`,
      't.litmus',
    );
    assert.deepEqual(
      t.threads.map((p) => p.map((i) => (i.op === 'rmw' ? i.rmw : i.op))),
      [
        ['add', 'inc', 'xadd', 'mov'],
        ['xchg', 'cmpxchg', 'mfence'],
      ],
    );
    const mov = t.threads[0][3];
    assert.ok(mov.op === 'mov' && mov.src.kind === 'imm' && mov.src.value.lo === 0xffffffff);
  });

  it('gives ~exists and forall herd meanings: Ok / No and the Observation', () => {
    const text = (cond: string) => SB.replace('exists\n(0:EAX=0 /\\ 1:EAX=0)', cond);
    const notExists = parseLitmus(text('~exists (0:EAX=0 /\\ 1:EAX=0)'), 'a.litmus');
    assert.equal(runLitmus(notExists, 'tso').claim, 'no');
    assert.equal(runLitmus(notExists, 'sc').claim, 'ok');
    const forall = parseLitmus(text('forall (0:EAX=1 \\/ 1:EAX=1)'), 'b.litmus');
    const tso = runLitmus(forall, 'tso');
    assert.equal(tso.claim, 'no');
    assert.equal(tso.observation, 'sometimes');
    assert.equal(tso.witness?.satisfies, false, 'forall: the witness is a counterexample');
    assert.deepEqual(tso.witness?.final['0:EAX'], 0);
    const sc = runLitmus(forall, 'sc');
    assert.equal(sc.claim, 'ok');
    assert.equal(sc.observation, 'always');
    assert.equal(sc.witness, undefined);
    // ~ binds tighter than /\, which binds tighter than \/; true and false
    const prec = parseLitmus(text('exists (~0:EAX=1 /\\ ~1:EAX=1 \\/ false)'), 'c.litmus');
    assert.equal(runLitmus(prec, 'tso').verdict, 'allowed');
    assert.equal(runLitmus(prec, 'sc').verdict, 'forbidden');
  });
});

describe('errors: one line, file:line', () => {
  const cases: [string, string, RegExp][] = [
    ['AArch64 SB\n{}\n', 'arch', /^bad\.litmus:1: architecture "AArch64" is not supported/],
    ['X86 T\n{ x=1;\n P0 ;\n', 'unclosed init', /^bad\.litmus:2: the initial state "\{" is never closed/],
    ['X86 T\n{}\n P0 | P2 ;\n', 'header', /^bad\.litmus:3: thread 1 of the table header should be "P1"/],
    [
      'X86 T\n{}\n P0 ;\n BTS [x],$1 ;\nexists (x=1)\n',
      'unsupported instruction',
      /^bad\.litmus:4: P0: unsupported instruction "BTS \[x\],\$1"/,
    ],
    [
      'X86 T\n{}\n P0 ;\n JMP L0 ;\nexists (x=1)\n',
      'unknown label',
      /^bad\.litmus:4: P0: no label "L0" in P0/,
    ],
    ['X86 T\n{}\n P0 ;\n ADD [x],$1 ;\nexists (x=1)\n', 'unlocked RMW', /^bad\.litmus:4: .*without LOCK/],
    [
      'X86 T\n{}\n P0 ;\n MOV R9,[x] ;\nexists (x=1)\n',
      'register',
      /^bad\.litmus:4: P0: MOV R9,\[x\]: "R9" is not a supported register \(EAX, /,
    ],
    ['X86 T\n{}\n P0 | P1 ;\n MOV [x],$1 ;\nexists (x=1)\n', 'cells', /^bad\.litmus:4: this row has 1 cell/],
    [
      'X86 T\n{}\n P0 ;\n MOV [x],$1\nexists (x=1)\n',
      'row end',
      /^bad\.litmus:4: a row of the thread table must end with ";"/,
    ],
    [
      'X86 T\n{}\n P0 ;\n MOV [x],$1 ;\n',
      'no condition',
      /^bad\.litmus:4: the file ends before the condition/,
    ],
    [
      'X86 T\n{}\n P0 ;\n MOV [x],$1 ;\nexists (x=1\n /\\ 2:EAX=0)\n',
      'thread in condition',
      /^bad\.litmus:6: 2:EAX: there is no thread P2/,
    ],
    [
      'X86 T\n{}\n P0 ;\n MOV [x],$1 ;\nexists (x=1 /\\)\n',
      'condition syntax',
      /^bad\.litmus:5: expected a location/,
    ],
    ['X86 T\n{}\n P0 ;\n MOV [x],$1 ;\nexists (x=1) junk\n', 'trailing', /^bad\.litmus:5: unexpected "junk"/],
    [
      'X86_64 T\n{ int x; }\n P0 ;\n movq $1,(x) ;\nexists ([x]=1)\n',
      'mixed-size access',
      /^bad\.litmus:4: P0: movq \$1,\(x\): an 8-byte access to x, which is an int \(4 bytes\): mixed-size accesses are not supported$/,
    ],
    ['X86 T\n(* open\n{}\n', 'comment', /^bad\.litmus:2: comment "\(\*" is never closed/],
    [
      'X86 T\n{}\n P0 ;\n MOV [x],$99999999999 ;\nexists (x=1)\n',
      'range',
      /^bad\.litmus:4: 99999999999 does not fit in 32 bits/,
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
