/**
 * Validation messages in the project's words (src/scenarios/messages.ts): for every kind of issue
 * the scenario schema can produce, the exact line a user sees, and never zod's own wording
 * ("Invalid input", "Too small: expected number to be >=1", "expected int to be
 * <=9007199254740991", "received undefined"). The expected lines are written from what a scenario
 * author needs to read: the file, the place, and what is allowed there.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { closest } from '../../src/scenarios/messages.ts';

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

/** A small valid scenario with steps (irqlab run) and an actor (irqlab check). */
function good(): Raw {
  return {
    name: 'probe',
    description: 'a valid scenario to break',
    source: 'test',
    machine: {
      pcpus: 2,
      vcpus: [{ pcpu: 0, running: true }, { pcpu: 1 }],
      irtes: [{ vcpu: 0, vector: '0x41' }],
      ioapic: [{ pin: 2, vector: '0x30' }],
    },
    steps: [
      { do: 'device.post', irte: 0 },
      { do: 'guest.selfIpi', vcpu: 0, vector: 49 },
      { do: 'host.eoi', pcpu: 1 },
    ],
    actors: [{ name: 'vcpu1', vcpu: 1, steps: [{ do: 'kvm.enter' }] }],
    expect: { delivered: { '0': ['0x41', '0x31'] } },
  };
}

function messageFor(edit: (s: Raw) => void, file = 'bad.json'): string {
  const s = good();
  edit(s);
  try {
    parseScenarioText(JSON.stringify(s, null, 2), file);
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    return e.message;
  }
  assert.fail('the scenario was accepted');
}

const PROPERTIES =
  'no-stuck-pir, no-wrong-vcpu, rvi-at-entry, no-lost-interrupt, wakeup-list, no-lost-wakeup, apicv-activation, no-irq-window-with-avic, no-lost-msi, lock-order, deadlock, irte-affinity, irte-guest-mode, avic-vmcb, irte-owner';
const REASONS =
  'EXCEPTION_NMI, EXTERNAL_INTERRUPT, INTERRUPT_WINDOW, NMI_WINDOW, HLT, VMCALL, IO_INSTRUCTION, MSR_READ, MSR_WRITE, TPR_BELOW_THRESHOLD, APIC_ACCESS, EOI_INDUCED, EPT_VIOLATION, EPT_MISCONFIG, APIC_WRITE, AVIC_INCOMPLETE_IPI, AVIC_NOACCEL';
const STEP_KINDS =
  'device.post, guest.tpr, guest.eoi, guest.selfIpi, guest.icr, guest.icrRaw, guest.sti, guest.cli, guest.nop, guest.hlt, guest.iret, guest.timer, guest.apicWrite, guest.apicRead, guest.mmio, guest.msr, time.advance, vm.entry, vm.exit, pid.set, cpu.interrupt, ioapic.line, ioapic.mask, host.setLapic, guestIoapic.line, guestIoapic.write, guestIoapic.reg, guestIoapic.mask, host.sti, host.cli, host.eoi, avic.load, avic.put, avic.deliver';

/** [what, edit, the whole line]. One or more per issue kind. */
const CASES: [string, (s: Raw) => void, string][] = [
  // invalid_type: a required field left out, or a value of the wrong type
  ['required field missing', (s) => delete s.description, 'at description: description is required'],
  [
    'required field in a step',
    (s) => delete s.steps[1].vector,
    'at steps[1].vector: vector must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a flag given as a string',
    (s) => (s.machine.x2apic = 'yes'),
    'at machine.x2apic: x2apic must be true or false, not "yes"',
  ],
  ['a list given as an object', (s) => (s.steps = {}), 'at steps: steps must be a list, not an object'],
  ['a string given as a number', (s) => (s.source = 5), 'at source: source must be a string, not 5'],
  [
    'an index given as null',
    (s) => (s.machine.vcpus[1].pcpu = null),
    'at machine.vcpus[1].pcpu: pcpu must be an integer -1 or more, not null',
  ],
  ['an object given as a list', (s) => (s.machine = []), 'at machine: machine must be an object, not a list'],
  // too_small / too_big on numbers, the safe-integer bound of int() included
  [
    'a count below its range',
    (s) => (s.machine.pcpus = 0),
    'at machine.pcpus: pcpus must be an integer 1-32, not 0',
  ],
  [
    'a count above its range',
    (s) => (s.machine.pcpus = 33),
    'at machine.pcpus: pcpus must be an integer 1-32, not 33',
  ],
  [
    'a count beyond any integer',
    (s) => (s.machine.pcpus = 1e20),
    'at machine.pcpus: pcpus must be an integer 1-32, not 100000000000000000000',
  ],
  ['a fraction', (s) => (s.machine.pcpus = 1.5), 'at machine.pcpus: pcpus must be an integer 1-32, not 1.5'],
  [
    'a negative index',
    (s) => (s.steps[2].pcpu = -1),
    'at steps[2].pcpu: pcpu must be an integer 0 or more, not -1',
  ],
  [
    'an index beyond any integer',
    (s) => (s.steps[2].pcpu = 1e20),
    // the other: the refinement's unknown pCPU, which zod runs anyway
    'at steps[2].pcpu: pcpu must be an integer 0 or more, not 100000000000000000000 (and 1 more)',
  ],
  [
    'an I/O APIC pin',
    (s) => (s.machine.ioapic[0].pin = 24),
    'at machine.ioapic[0].pin: pin must be an integer 0-23, not 24',
  ],
  [
    'a vector too big',
    (s) => (s.steps[1].vector = 300),
    'at steps[1].vector: vector must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a vector beyond any integer',
    (s) => (s.steps[1].vector = 1e20),
    'at steps[1].vector: vector must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a vector as a fraction',
    (s) => (s.steps[1].vector = 1.5),
    'at steps[1].vector: vector must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a vector in a list',
    (s) => (s.machine.vcpus[0].virr = ['0x31', '0x100']),
    'at machine.vcpus[0].virr[1]: vector must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a byte field names itself',
    (s) => (s.machine.vcpus[0].tpr = 256),
    'at machine.vcpus[0].tpr: tpr must be an integer 0-255 or a hex string such as "0x31"',
  ],
  [
    'a 32-bit field names itself',
    (s) => (s.machine.vcpus[0].apicId = '0x100000000'),
    'at machine.vcpus[0].apicId: apicId must be an integer 0-0xffffffff or a hex string such as "0x31"',
  ],
  // Found by the random test below: the refinement read machine.vcpus[-1710758458907745].pcpu and
  // threw a TypeError (an internal error, exit 70) instead of this line.
  [
    "an actor's vCPU far below 0",
    (s) => (s.actors[0].vcpu = -1710758458907745),
    'at actors[0].vcpu: vcpu must be an integer 0 or more, not -1710758458907745',
  ],
  // too_small / too_big on strings and lists
  ['an empty string', (s) => (s.description = ''), 'at description: description must not be empty'],
  ['an empty list', (s) => (s.machine.vcpus = []), 'at machine.vcpus: vcpus must have at least 1 entry'],
  [
    'a list too long',
    (s) => (s.machine.vcpus = Array.from({ length: 33 }, () => ({}))),
    'at machine.vcpus: vcpus must have at most 32 entries',
  ],
  // invalid_format
  [
    'a bad scenario name',
    (s) => (s.name = 'Probe'),
    'at name: name must be lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
  ],
  [
    'a bad actor name',
    (s) => (s.actors[0].name = '1st'),
    'at actors[0].name: an actor name must be a lower-case letter, then lower-case letters, digits, "_" and "-"',
  ],
  // invalid_key (record keys)
  [
    'a bad preset name',
    (s) => (s.presets = { 'Before Fix': {} }),
    'at presets."Before Fix": a preset name must be lower-case letters, digits and "-", starting with a letter or digit',
  ],
  [
    'a delivered key that is no index',
    (s) => (s.expect.delivered = { first: [] }),
    'at expect.delivered.first: keys are vCPU indices',
  ],
  // invalid_value (enums), with "did you mean" for a near miss
  ['a memory model', (s) => (s.memory = 'weak'), 'at memory: memory must be sc or tso, not "weak"'],
  [
    'a misspelt property',
    (s) => (s.properties = ['no-stuck-pirr']),
    `at properties[0]: property must be one of ${PROPERTIES}, not "no-stuck-pirr" (did you mean "no-stuck-pir"?)`,
  ],
  [
    'an exit reason in lower case',
    (s) => s.steps.push({ do: 'vm.exit', vcpu: 0, reason: 'hlt' }),
    `at steps[3].reason: reason must be one of ${REASONS}, not "hlt" (did you mean "HLT"?)`,
  ],
  [
    'an exit reason in expect',
    (s) => (s.expect.exits = { '0': ['EXTERNAL_INTERUPT'] }),
    `at expect.exits.0[0]: exit reason must be one of ${REASONS}, not "EXTERNAL_INTERUPT" (did you mean "EXTERNAL_INTERRUPT"?)`,
  ],
  [
    'a trigger',
    (s) => (s.machine.ioapic[0].trigger = 'Level'),
    'at machine.ioapic[0].trigger: trigger must be edge or level, not "Level" (did you mean "level"?)',
  ],
  // unrecognized_keys, with "did you mean" over the fields allowed there
  [
    'a misspelt field',
    (s) => (s.machine.vcpus[1].tprr = 0),
    'at machine.vcpus[1]: unknown field "tprr" (did you mean "tpr"?)',
  ],
  [
    'a misspelt step field',
    (s) => (s.steps[1].vectr = 49),
    'at steps[1]: unknown field "vectr" (did you mean "vector"?)',
  ],
  [
    'a field in the wrong case',
    (s) => (s.machine.vcpus[0].apicid = 1),
    'at machine.vcpus[0]: unknown field "apicid" (did you mean "apicId"?)',
  ],
  ['an unknown field, nothing near', (s) => (s.colour = 'blue'), 'at (top level): unknown field "colour"'],
  [
    'two unknown fields',
    (s) => Object.assign(s.machine, { cpus: 2, colour: 1 }),
    'at machine: unknown field "cpus" (did you mean "pcpus"?), "colour"',
  ],
  // invalid_union: the step kind ("do")
  [
    'a misspelt step kind',
    (s) => (s.steps[1].do = 'guest.hlr'),
    'at steps[1].do: unknown step kind "guest.hlr" (did you mean "guest.hlt"?)',
  ],
  [
    'a step kind far from any',
    (s) => (s.steps[1].do = 'guest.nmi'),
    `at steps[1].do: unknown step kind "guest.nmi" (kinds: ${STEP_KINDS})`,
  ],
  [
    'a step without a kind',
    (s) => delete s.steps[2].do,
    `at steps[2].do: a step needs "do", its kind (one of ${STEP_KINDS})`,
  ],
  [
    "an actor's step under steps",
    (s) => (s.steps[2] = { do: 'kvm.load', pcpu: 1 }),
    'at steps[2].do: kvm.load is a step of an actor (irqlab check), not of "steps" (irqlab run)',
  ],
  [
    'a step of steps in an actor',
    (s) => s.actors[0].steps.push({ do: 'vm.entry', pcpu: 1 }),
    'at actors[0].steps[1].do: vm.entry is a step of "steps" (irqlab run), not of an actor (irqlab check)',
  ],
  // invalid_union: a value of no branch's type
  [
    'a state value of no kind',
    (s) => (s.expect.state = { 'vcpu0.SVI': 1.5 }),
    'at expect.state."vcpu0.SVI": expected true/false, a list of vectors, a number, a hex string or a name such as "none"',
  ],
  [
    'a not-a-scenario',
    (s) => (s.machine.features = 'avic'),
    'at machine.features: features must be an object, not "avic"',
  ],
];

describe('every issue kind, in project words', () => {
  for (const [what, edit, line] of CASES) {
    test(what, () => {
      assert.equal(messageFor(edit), `bad.json: ${line}`);
    });
  }

  test('the top level must be an object', () => {
    assert.throws(
      () => parseScenarioText('[1, 2]', 'list.json'),
      (e: unknown) =>
        e instanceof UserError &&
        e.message === 'list.json: at (top level): a scenario must be an object, not a list',
    );
  });
});

/** What zod says in its own words, which a user must never see. */
const ZOD_WORDS =
  /Invalid input|Invalid key|Invalid option|Invalid string|Too (small|big)|expected [a-z]+ to (be|have)|received|[<>]=|9007199254740991|Unrecognized key|\{field\}/;

describe('no zod wording reaches the user', () => {
  /** Every place in the good scenario: paths to objects, lists and values. */
  function places(v: unknown, path: (string | number)[] = []): (string | number)[][] {
    const out = [path];
    if (Array.isArray(v)) for (const [i, x] of v.entries()) out.push(...places(x, [...path, i]));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) out.push(...places(x, [...path, k]));
    return out;
  }
  const all = places(good()).filter((p) => p.length > 0);

  test('a random value at a random place, or a place removed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
        (path, value) => {
          const s = good();
          let parent: Raw = s;
          for (const k of path.slice(0, -1)) parent = parent[k];
          const last = path[path.length - 1];
          if (value === undefined) {
            if (Array.isArray(parent)) parent.splice(last as number, 1);
            else delete parent[last];
          } else parent[last] = value;
          let msg: string | undefined;
          try {
            parseScenarioText(JSON.stringify(s), 'bad.json');
          } catch (e) {
            assert.ok(e instanceof UserError, String(e));
            msg = e.message;
          }
          if (msg === undefined) return; // the value was valid there
          assert.ok(msg.startsWith('bad.json: '), msg);
          assert.ok(!msg.includes('\n'), msg);
          // Quoted text is the user's own (a key or value they wrote), which may say anything.
          assert.doesNotMatch(msg.replace(/"(?:[^"\\]|\\.)*"/g, '""'), ZOD_WORDS, msg);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('did you mean', () => {
  test('a misspelt field name in expect.state', () => {
    assert.equal(
      messageFor((s) => (s.expect.state = { 'vcpu0.PID.NO': true })),
      'bad.json: at expect.state."vcpu0.PID.NO": unknown field (did you mean "vcpu0.PID.ON"?) (fields look like vcpu0.PID.ON, vcpu0.vIRR, pcpu0.IRR)',
    );
    assert.equal(
      messageFor((s) => (s.expect.state = { 'vcpu0.colour': true })),
      'bad.json: at expect.state."vcpu0.colour": unknown field (fields look like vcpu0.PID.ON, vcpu0.vIRR, pcpu0.IRR)',
    );
  });

  test('one slip in a short name, a third of the letters in a long one, case is free', () => {
    assert.equal(closest('tprr', ['tpr', 'pcpu']), 'tpr');
    assert.equal(closest('cpus', ['pcpus', 'vcpus']), 'pcpus');
    assert.equal(closest('apicid', ['apicId']), 'apicId');
    assert.equal(closest('no-stuck-prr', ['no-stuck-pir', 'no-lost-msi']), 'no-stuck-pir');
    assert.equal(closest('colour', ['name', 'machine', 'source']), undefined);
    assert.equal(closest('x', ['y']), 'y');
  });

  test('dotted names are compared part by part', () => {
    assert.equal(closest('guest.hlr', ['guest.eoi', 'guest.hlt']), 'guest.hlt');
    assert.equal(closest('gust.hlt', ['guest.hlt']), 'guest.hlt');
    assert.equal(closest('guest.nmi', ['guest.eoi', 'guest.hlt']), undefined);
    assert.equal(
      closest('guest.eio', ['guest.eoi', 'guest.hlt']),
      'guest.eoi',
      'a transposition is one slip',
    );
    assert.equal(closest('guest', ['guest.hlt']), undefined);
  });
});
