import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import { findField, readField } from '../../src/model/platform/fields.ts';
import { type RunResult, runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';

const BUILTIN_DIR = fileURLToPath(new URL('../../src/scenarios/builtin/', import.meta.url));
const YAML_FIXTURE = fileURLToPath(new URL('../fixtures/guest-and-host-if.yaml', import.meta.url));
const allBuiltins = readdirSync(BUILTIN_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();
/**
 * The built-ins that `irqlab run` executes: those with steps. The others describe concurrent
 * actors for `irqlab check` and have nothing to run step by step.
 */
const builtinNames = allBuiltins.filter((n) => (rawBuiltin(n).steps ?? []).length > 0);

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

function rawBuiltin(name: string): Raw {
  return JSON.parse(readFileSync(join(BUILTIN_DIR, `${name}.json`), 'utf8'));
}

function run(raw: Raw, file = 'test.json'): RunResult {
  return runScenario(parseScenarioText(JSON.stringify(raw), file), file);
}

function failures(r: RunResult): string[] {
  return r.expectations.filter((e) => !e.ok).map((e) => `${e.what}: expected ${e.expected}, got ${e.actual}`);
}

/** A field's value after the run, by name. */
function fieldValue(r: RunResult, name: string): unknown {
  const f = findField(r.world.L, name);
  assert.ok(f, `no field ${name}`);
  return readField(r.world.m, f.block.base, f.field);
}

describe('built-in scenarios', () => {
  test('there are built-in scenarios, and those without steps are for the checker', () => {
    assert.ok(builtinNames.length >= 20);
    for (const n of allBuiltins.filter((x) => !builtinNames.includes(x))) {
      assert.ok(Array.isArray(rawBuiltin(n).actors), `${n} has neither steps nor actors`);
    }
  });

  for (const name of builtinNames) {
    test(`${name}: runs and every expectation holds`, () => {
      const r = run(rawBuiltin(name), `builtin:${name}`);
      assert.equal(r.scenario, name);
      assert.ok(r.expectations.length > 0, 'a built-in scenario states at least one expectation');
      assert.deepEqual(failures(r), []);
      assert.equal(r.ok, true);
    });
  }

  test('the YAML fixture runs and its expectations hold', () => {
    const r = runScenario(parseScenarioText(readFileSync(YAML_FIXTURE, 'utf8'), YAML_FIXTURE));
    assert.deepEqual(failures(r), []);
    assert.equal(r.expectations.length, 9);
  });
});

describe('traces', () => {
  test('notification-processed-against-current-vmcs: the notification for vCPU 0 is processed on vCPU 1', () => {
    const r = run(rawBuiltin('notification-processed-against-current-vmcs'));
    const [post, processing, delivery] = r.entries;

    assert.equal(post.step, 0);
    assert.equal(post.actor, 'iommu');
    assert.equal(post.note, 'NDST still names pcpu0');
    assert.ok(post.changes.some((c) => c.field === 'vcpu0.PID.PIR[0x41]' && c.from === '0' && c.to === '1'));
    assert.ok(post.changes.some((c) => c.field === 'vcpu0.PID.ON' && c.from === '0' && c.to === '1'));

    // Entry 2: the pCPU's reaction, processing vCPU 1's descriptor (the current VMCS).
    assert.equal(processing.n, 2);
    assert.equal(processing.step, null);
    assert.equal(processing.actor, 'pcpu0');
    assert.deepEqual(
      processing.changes.find((c) => c.field === 'vcpu1.vIRR[0x55]'),
      { field: 'vcpu1.vIRR[0x55]', from: '0', to: '1' },
    );
    assert.deepEqual(
      processing.changes.find((c) => c.field === 'vcpu1.PID.PIR[0x55]'),
      { field: 'vcpu1.PID.PIR[0x55]', from: '1', to: '0' },
    );
    assert.ok(
      !processing.changes.some((c) => c.field.startsWith('vcpu0.')),
      'nothing of vCPU 0 changes: its PIR bit and ON stay set',
    );
    const kinds = processing.events.map((e) => e.kind);
    assert.ok(kinds.includes('pi_wrong_vcpu'));
    assert.ok(processing.events.some((e) => e.kind === 'pi_process' && e.b === 1 && e.c === 0x55));

    assert.equal(delivery.actor, 'vcpu1');
    assert.ok(delivery.events.some((e) => e.kind === 'deliver' && e.a === 1 && e.b === 0x55));
    assert.equal(r.entries.length, 3);

    assert.deepEqual(fieldValue(r, 'vcpu0.PID.PIR'), [0x41]);
    assert.equal(fieldValue(r, 'vcpu0.PID.ON'), true);
  });

  test('entries are numbered 1..N, and every step appears, in order, with reactions in between', () => {
    for (const name of builtinNames) {
      const raw = rawBuiltin(name);
      const r = run(raw);
      assert.deepEqual(
        r.entries.map((e) => e.n),
        r.entries.map((_, i) => i + 1),
        name,
      );
      // A step that is a KVM path (avic.load, avic.deliver) is several entries of the same step.
      const steps = r.entries.filter((e) => e.step !== null).map((e) => e.step);
      assert.deepEqual(
        [...new Set(steps)],
        raw.steps.map((_: unknown, i: number) => i),
        name,
      );
      assert.ok(
        steps.every((s, i) => i === 0 || s! >= steps[i - 1]!),
        name,
      );
      // A step's note is on its first entry.
      for (const [i, e] of r.entries.entries()) {
        const first = e.step !== null && !r.entries.slice(0, i).some((f) => f.step === e.step);
        if (!first) assert.equal(e.note, undefined, `${name}: only a step's first entry has its note`);
        else assert.equal(e.note, raw.steps[e.step!].note, `${name}: step ${e.step} keeps its note`);
      }
    }
  });

  test('changes chain: each change starts from the value the previous change of that field left', () => {
    for (const name of builtinNames) {
      const r = run(rawBuiltin(name));
      const last = new Map<string, string>();
      for (const e of r.entries) {
        for (const c of e.changes) {
          assert.notEqual(c.from, c.to, `${name} #${e.n}: ${c.field} did not change`);
          const prev = last.get(c.field);
          if (prev !== undefined) assert.equal(c.from, prev, `${name} #${e.n}: ${c.field}`);
          last.set(c.field, c.to);
        }
      }
    }
  });

  test('a run is deterministic', () => {
    for (const name of builtinNames) {
      const a = run(rawBuiltin(name));
      const b = run(rawBuiltin(name));
      assert.deepEqual(a.entries, b.entries, name);
      assert.deepEqual(a.expectations, b.expectations, name);
    }
  });
});

// ----------------------------------------------------------------------------------------------
// Mutation checks: the expectation checker is not vacuous. Every expectation of every built-in
// scenario is changed to a wrong value, one at a time; the run must then fail on exactly that one.

function asNumber(v: number | string): number {
  return typeof v === 'number' ? v : Number.parseInt(v, 16);
}

/** A vector list that differs from `list` (an element changed, or one added to an empty list). */
function otherVectors(list: (number | string)[]): (number | string)[] {
  if (list.length === 0) return ['0x20'];
  const out = [...list];
  const v = asNumber(out[out.length - 1]);
  out[out.length - 1] = v === 0xff ? 0xfe : v + 1;
  return out;
}

/** A state value that differs from `v` in what it means for any field. */
function otherState(v: unknown): unknown {
  if (typeof v === 'boolean') return !v;
  if (Array.isArray(v)) return v.length > 0 ? v.slice(0, -1) : ['0xff'];
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v, 16) + 1;
  if (v === 'none') return 0;
  // An APIC mode (vcpuN.apic.mode): another mode.
  const modes = ['xapic', 'x2apic', 'disabled'];
  if (typeof v === 'string' && modes.includes(v)) return modes[(modes.indexOf(v) + 1) % modes.length];
  // A flag set (vcpuN.vapic): another valid set, since an unknown flag name is a load error.
  return v === '-' ? 'VID' : '-';
}

interface Mutant {
  label: string;
  /** The `what` of the one expectation that must fail. */
  what: string;
  raw: Raw;
}

function mutants(name: string): Mutant[] {
  const base = rawBuiltin(name);
  const out: Mutant[] = [];
  const add = (label: string, what: string, edit: (e: Raw) => void) => {
    const raw = structuredClone(base);
    edit(raw.expect);
    out.push({ label: `${name}: ${label}`, what, raw });
  };
  const ex = base.expect ?? {};
  for (const k of Object.keys(ex.delivered ?? {})) {
    add(`delivered[${k}]`, `vcpu${k} handlers ran`, (e) => {
      e.delivered[k] = otherVectors(e.delivered[k]);
    });
  }
  for (const k of Object.keys(ex.hostIrqs ?? {})) {
    add(`hostIrqs[${k}]`, `pcpu${k} host handlers ran`, (e) => {
      e.hostIrqs[k] = otherVectors(e.hostIrqs[k]);
    });
  }
  for (const k of Object.keys(ex.exits ?? {})) {
    add(`exits[${k}]`, `vcpu${k} VM exits`, (e) => {
      const l: string[] = e.exits[k];
      e.exits[k] = l.length === 0 ? ['HLT'] : [...l.slice(0, -1), l.at(-1) === 'HLT' ? 'APIC_WRITE' : 'HLT'];
    });
  }
  for (const f of Object.keys(ex.state ?? {})) {
    add(`state ${f}`, f, (e) => {
      e.state[f] = otherState(e.state[f]);
    });
  }
  return out;
}

describe('mutation checks: a wrong expectation fails', () => {
  for (const name of builtinNames) {
    test(`${name}: each expectation, made wrong, is reported`, () => {
      const ms = mutants(name);
      assert.ok(ms.length > 0);
      for (const m of ms) {
        const r = run(m.raw);
        assert.equal(r.ok, false, `${m.label}: the run still passes`);
        const failed = r.expectations.filter((e) => !e.ok);
        assert.deepEqual(
          failed.map((e) => e.what),
          [m.what],
          `${m.label}: exactly the changed expectation fails`,
        );
        assert.notEqual(failed[0].expected, failed[0].actual, m.label);
      }
    });
  }

  test('a delivered expectation holds exactly when it lists the handlers that ran, in order', () => {
    const base = rawBuiltin('tpr-masks-lower-classes');
    const actual = [0x45, 0x32];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
          fc.shuffledSubarray(actual),
          fc.constant(actual),
        ),
        (want) => {
          const raw = structuredClone(base);
          raw.expect = { delivered: { '0': want } };
          const r = run(raw);
          assert.equal(r.ok, JSON.stringify(want) === JSON.stringify(actual), `delivered ${want}`);
        },
      ),
    );
  });

  test('a register expectation holds exactly when it names the set of vectors, in any order', () => {
    const base = rawBuiltin('simultaneous-vectors-by-priority');
    const r0 = run(base);
    const field = 'vcpu0.delivered';
    const actual = fieldValue(r0, field) as number[];
    assert.ok(actual.length >= 2);
    const sameSet = (a: number[]) => [...a].sort((x, y) => x - y).join() === actual.join();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 5 }),
          fc.shuffledSubarray(actual),
          fc.shuffledSubarray(actual, { minLength: actual.length }),
        ),
        fc.boolean(),
        (want, asHex) => {
          const raw = structuredClone(base);
          raw.expect = { state: { [field]: asHex ? want.map((v) => `0x${v.toString(16)}`) : want } };
          assert.equal(run(raw).ok, sameSet(want), `${field} = ${want}`);
        },
      ),
    );
  });

  test('an exits expectation with a reason that did not happen fails', () => {
    const raw = rawBuiltin('external-interrupt-exit');
    raw.expect.exits['0'] = ['EXTERNAL_INTERRUPT', 'EXTERNAL_INTERRUPT'];
    const r = run(raw);
    assert.equal(r.ok, false);
    const e = r.expectations.find((x) => !x.ok)!;
    assert.equal(e.expected, '[EXTERNAL_INTERRUPT, EXTERNAL_INTERRUPT]');
    assert.equal(e.actual, '[EXTERNAL_INTERRUPT]');
  });
});

// ----------------------------------------------------------------------------------------------
// Regression tests for the runner's steps and expectations.

/** A two-pCPU machine with vCPU 0 running on pCPU 0 and vCPU 1 only loaded on pCPU 1. */
function scenario(steps: Raw[], expect: Raw = {}, machine: Raw = {}): Raw {
  return {
    name: 'probe',
    description: 'd',
    source: 's',
    machine: { pcpus: 2, vcpus: [{ pcpu: 0, running: true }, { pcpu: 1 }], ...machine },
    steps,
    expect,
  };
}

/** Runs and expects a UserError with exactly this message. */
function runRejects(raw: Raw, message: string): void {
  assert.throws(
    () => run(raw, 'probe.json'),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `not a UserError: ${String(e)}`);
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe('vm.exit and vm.entry check the state at their step', () => {
  test('vm.exit of a vCPU that is only loaded is an error naming the step', () => {
    runRejects(
      scenario([
        { do: 'guest.sti', vcpu: 0 },
        { do: 'vm.exit', vcpu: 1 },
      ]),
      'probe.json: steps[1]: vcpu1 is not running in guest mode',
    );
  });

  test('vm.exit of a vCPU loaded on the pCPU another vCPU runs on does not stop that vCPU: it is an error', () => {
    // The bug: vCPU 1's exit put pCPU 0 in root mode, "exiting" vCPU 0.
    const raw = scenario(
      [{ do: 'vm.exit', vcpu: 1 }],
      {},
      { pcpus: 1, vcpus: [{ pcpu: 0, running: true }, { pcpu: 0 }] },
    );
    runRejects(raw, 'probe.json: steps[0]: vcpu1 is not running in guest mode');
  });

  test('vm.exit twice: the second is an error', () => {
    runRejects(
      scenario([
        { do: 'vm.exit', vcpu: 0 },
        { do: 'vm.exit', vcpu: 0 },
      ]),
      'probe.json: steps[1]: vcpu0 is not running in guest mode',
    );
  });

  test('the error names the scenario when no file is given', () => {
    const sc = parseScenarioText(JSON.stringify(scenario([{ do: 'vm.exit', vcpu: 1 }])), 'x.json');
    assert.throws(() => runScenario(sc), { message: 'probe: steps[0]: vcpu1 is not running in guest mode' });
  });

  test('vm.exit records the given reason (default HLT), and its trace line says so once', () => {
    const r = run(
      scenario(
        [
          { do: 'vm.exit', vcpu: 0 },
          { do: 'vm.entry', vcpu: 0, pcpu: 0 },
          { do: 'vm.exit', vcpu: 0, reason: 'EXTERNAL_INTERRUPT' },
        ],
        { exits: { '0': ['HLT', 'EXTERNAL_INTERRUPT'] }, state: { 'pcpu0.mode': 0, 'pcpu0.vmcs': 0 } },
      ),
    );
    assert.deepEqual(failures(r), []);
    const exits = r.entries.filter((e) => e.step === 0 || e.step === 2);
    assert.deepEqual(
      exits.map((e) => e.action),
      ['VM exit HLT', 'VM exit EXTERNAL_INTERRUPT'],
    );
    assert.deepEqual(exits[0].events, [{ kind: 'vmexit', a: 0, b: 0, c: 12, d: 0 }]);
  });

  test('an unknown exit reason is rejected when the file is loaded', () => {
    assert.throws(
      () => run(scenario([{ do: 'vm.exit', vcpu: 0, reason: 'VMFUNC' }])),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /^test\.json: at steps\[0\]\.reason: /);
        return true;
      },
    );
  });

  test('vm.entry on a pCPU that runs another vCPU is an error naming the step', () => {
    runRejects(
      scenario([{ do: 'vm.entry', vcpu: 1, pcpu: 0 }]),
      'probe.json: steps[0]: pcpu0 already runs vcpu0 in guest mode',
    );
  });

  test('vm.entry of a vCPU that runs elsewhere, or already runs there, is an error naming the step', () => {
    runRejects(
      scenario([
        { do: 'vm.exit', vcpu: 0 },
        { do: 'vm.entry', vcpu: 1, pcpu: 1 },
        { do: 'vm.entry', vcpu: 1, pcpu: 0 },
      ]),
      'probe.json: steps[2]: vcpu1 already runs in guest mode on pcpu1',
    );
    runRejects(
      scenario([{ do: 'vm.entry', vcpu: 0, pcpu: 0 }]),
      'probe.json: steps[0]: vcpu0 already runs in guest mode on pcpu0',
    );
  });

  test('migration: vm.entry on another pCPU moves the VMCS, and pid.set ndst redirects notifications', () => {
    const r = run(
      scenario(
        [
          { do: 'vm.exit', vcpu: 0 },
          { do: 'vm.entry', vcpu: 1, pcpu: 0 },
          {
            do: 'device.post',
            vcpu: 1,
            vector: '0x41',
            note: 'NDST still names pcpu1: a host interrupt there',
          },
          { do: 'pid.set', vcpu: 1, ndst: 0, on: false },
          { do: 'device.post', vcpu: 1, vector: '0x42' },
        ],
        {
          delivered: { '1': ['0x42', '0x41'] },
          hostIrqs: { '1': ['0xf2'] },
          state: {
            'pcpu0.vmcs': 1,
            'pcpu1.vmcs': 'none',
            'vcpu1.pcpu': 0,
            'vcpu0.pcpu': 0,
            'vcpu1.PID.NDST': 0,
            'pcpu0.mode': 1,
          },
        },
        {
          vcpus: [
            { pcpu: 0, running: true },
            { pcpu: 1, autoEoi: true },
          ],
        },
      ),
    );
    assert.deepEqual(failures(r), []);
    const set = r.entries.find((e) => e.step === 3)!;
    assert.equal(set.action, 'software sets vcpu1 PID ON=0 NDST=pcpu0');
    assert.deepEqual(
      set.changes.find((c) => c.field === 'vcpu1.PID.NDST'),
      { field: 'vcpu1.PID.NDST', from: '1', to: '0' },
    );
  });

  test('pid.set ndst is encoded for the APIC mode (xAPIC: ID in bits 15:8)', () => {
    for (const [x2apic, ndst] of [
      [true, 1],
      [false, 0x100],
    ] as const) {
      const r = run(
        scenario([{ do: 'pid.set', vcpu: 0, ndst: 1 }], { state: { 'vcpu0.PID.NDST': ndst } }, { x2apic }),
      );
      assert.deepEqual(failures(r), [], `x2apic ${x2apic}`);
    }
  });

  test('pid.set ndst must name a pCPU of the machine', () => {
    assert.throws(() => run(scenario([{ do: 'pid.set', vcpu: 0, ndst: 2 }])), {
      message: 'test.json: at steps[0].ndst: unknown pCPU 2 (machine has 2)',
    });
  });
});

describe('the machine at the start', () => {
  test('a running vCPU listed before a loaded one on the same pCPU is the one running there', () => {
    const r = run({
      name: 'probe',
      description: 'd',
      source: 's',
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true }, { pcpu: 0 }] },
      steps: [{ do: 'guest.selfIpi', vcpu: 0, vector: '0x31' }],
      expect: {
        delivered: { '0': ['0x31'] },
        state: { 'pcpu0.vmcs': 0, 'pcpu0.mode': 1, 'vcpu1.pcpu': 0 },
      },
    });
    assert.deepEqual(failures(r), []);
  });
});

describe('state expectations compare values, not text', () => {
  const base = () => rawBuiltin('tpr-masks-lower-classes');
  const holds = (state: Raw) => {
    const raw = base();
    raw.expect = { state };
    const r = run(raw);
    assert.deepEqual(failures(r), [], JSON.stringify(state));
  };

  test('a vector listed twice in a register expectation is the same set', () => {
    holds({ 'vcpu0.vISR': ['0x32', 50, '0x32'] });
    holds({ 'vcpu0.delivered': ['0x45', '0x32', 69] });
  });

  test('8- and 32-bit fields: a hex string and a number of the same value are equal', () => {
    holds({ 'vcpu0.SVI': '0x32', 'vcpu0.VPPR': 48, 'pcpu0.SVR': '0x1FF', 'pcpu0.mode': '0x1' });
    holds({ 'vcpu0.SVI': 50 });
  });

  test('flags, indices and flag sets in any of their spellings', () => {
    holds({ 'vcpu0.PID.ON': 0, 'vcpu0.IF': 1, 'vcpu0.halted': false });
    holds({ 'pcpu0.vmcs': 0, 'vcpu0.pcpu': '0x0' });
    holds({ 'vcpu0.vapic': 'VID' });
  });

  test('flag sets are compared as sets', () => {
    const raw = base();
    // With IF=0 the vector recognized after the TPR write is not delivered: "recognized" stays set.
    raw.steps = [{ do: 'guest.cli', vcpu: 0 }, ...raw.steps.slice(0, 3)];
    raw.expect = { state: { 'vcpu0.vapic': 'recognized|VID' } };
    const r = run(raw);
    assert.deepEqual(failures(r), []);
    assert.equal(r.expectations[0].expected, 'VID|recognized');
  });

  test('a wrong value still fails, and is printed the way the field prints', () => {
    const raw = base();
    raw.expect = { state: { 'vcpu0.SVI': 49, 'vcpu0.vISR': ['0x32', '0x32', '0x33'] } };
    const r = run(raw);
    assert.deepEqual(failures(r), [
      'vcpu0.SVI: expected 0x31, got 0x32',
      'vcpu0.vISR: expected {0x32,0x33}, got {0x32}',
    ]);
  });

  test('values that cannot mean anything for the field are rejected when the file is loaded', () => {
    const cases: [Raw, RegExp][] = [
      [
        { 'vcpu0.SVI': '50' },
        /at expect\.state\."vcpu0\.SVI": a decimal string such as "50" is not read as a number: write 50 or "0x32"$/,
      ],
      [{ 'vcpu0.SVI': 256 }, /at expect\.state\."vcpu0\.SVI": value out of range 0-255/],
      [{ 'vcpu0.SVI': true }, /at expect\.state\."vcpu0\.SVI": expected a number or a hex string/],
      [{ 'vcpu0.vIRR': 49 }, /at expect\.state\."vcpu0\.vIRR": expected a list of vectors/],
      [{ 'vcpu0.PID.ON': 2 }, /at expect\.state\."vcpu0\.PID\.ON": expected true or false/],
      [{ 'pcpu0.vmcs': 'vcpu0' }, /at expect\.state\."pcpu0\.vmcs": expected an index/],
      [{ 'vcpu0.vapic': 'VID|recognised' }, /at expect\.state\."vcpu0\.vapic": unknown flag "recognised"/],
    ];
    for (const [state, re] of cases) {
      const raw = base();
      raw.expect = { state };
      assert.throws(
        () => run(raw),
        (e: unknown) => {
          assert.ok(e instanceof UserError, String(e));
          assert.match(e.message, re);
          return true;
        },
      );
    }
  });
});
