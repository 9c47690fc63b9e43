import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../../src/errors.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';

const BUILTIN_DIR = fileURLToPath(new URL('../../src/scenarios/builtin/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const YAML_FIXTURE = join(FIXTURES, 'guest-and-host-if.yaml');

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

/** A small valid scenario (as written in a file) that the bad-file tests break one field at a time. */
function good(): Raw {
  return {
    name: 'probe',
    description: 'a valid scenario to break',
    source: 'test',
    machine: {
      pcpus: 2,
      vcpus: [{ pcpu: 0, running: true }, { pcpu: 1 }],
      irtes: [{ vcpu: 0, vector: '0x41' }],
    },
    steps: [
      { do: 'device.post', irte: 0 },
      { do: 'guest.selfIpi', vcpu: 0, vector: 49 },
      { do: 'host.eoi', pcpu: 1 },
    ],
    expect: { delivered: { '0': ['0x41', '0x31'] }, state: { 'vcpu0.PID.ON': false } },
  };
}

function edited(edit: (s: Raw) => void): Raw {
  const s = good();
  edit(s);
  return s;
}

/**
 * Parses and expects a UserError whose message is one line, starts with the file name, names the
 * field path and matches `what`.
 */
function rejects(text: string, file: string, path: string | null, what: RegExp): string {
  let err: unknown;
  try {
    parseScenarioText(text, file);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
  const msg = err.message;
  assert.ok(!msg.includes('\n'), `not one line: ${JSON.stringify(msg)}`);
  assert.ok(msg.startsWith(`${file}: `), `does not name the file: ${msg}`);
  if (path !== null) assert.ok(msg.includes(`at ${path}: `), `does not name the path "${path}": ${msg}`);
  assert.match(msg, what);
  return msg;
}

function rejectsJson(s: Raw, path: string | null, what: RegExp): string {
  return rejects(JSON.stringify(s, null, 2), 'bad.json', path, what);
}

describe('good files', () => {
  const files = readdirSync(BUILTIN_DIR).filter((f) => f.endsWith('.json'));

  test('there are built-in scenarios', () => {
    assert.ok(files.length >= 20, `only ${files.length} built-in scenarios`);
  });

  for (const f of files) {
    test(`built-in ${f} parses and its name matches the file`, () => {
      const s = parseScenarioText(readFileSync(join(BUILTIN_DIR, f), 'utf8'), f);
      assert.equal(s.name, f.slice(0, -'.json'.length));
      assert.ok(s.machine.vcpus.length >= 1);
    });
  }

  test('the YAML fixture parses, with hex numbers and hex strings', () => {
    const s = parseScenarioText(readFileSync(YAML_FIXTURE, 'utf8'), YAML_FIXTURE);
    assert.equal(s.name, 'guest-and-host-if');
    assert.equal(s.steps.length, 10);
    const posts = s.steps.filter((st) => st.do === 'device.post').map((st) => st.vector);
    assert.deepEqual(posts, [0x51, 0x52, 0x53]);
    assert.deepEqual(s.expect.delivered, { '0': [0x51, 0x53, 0x52] });
    assert.deepEqual(s.expect.hostIrqs, { '0': [0xf2] });
  });

  test('YAML and JSON of the same document give the same scenario', () => {
    const text = readFileSync(YAML_FIXTURE, 'utf8');
    const fromYaml = parseScenarioText(text, 'x.yaml');
    const fromJson = parseScenarioText(JSON.stringify(parseYaml(text)), 'x.json');
    assert.deepEqual(fromYaml, fromJson);
    // .yml is YAML too
    assert.deepEqual(parseScenarioText(text, 'x.YML'), fromYaml);
  });

  test('defaults fill in everything a minimal file leaves out', () => {
    const s = parseScenarioText(
      JSON.stringify({
        name: 'min',
        description: 'd',
        source: 's',
        machine: { vcpus: [{}] },
        steps: [{ do: 'guest.sti', vcpu: 0 }],
      }),
      'min.json',
    );
    assert.deepEqual(s.machine, {
      pcpus: 1,
      x2apic: true,
      features: { apicv: true, vtdPosting: true, ipiv: false, avic: false },
      vcpus: [
        {
          ldr: 0,
          dfr: 'flat',
          notificationVector: 0xf2,
          pcpu: -1,
          running: false,
          if: true,
          halted: false,
          tpr: 0,
          autoEoi: false,
          eoiExit: [],
          pid: { on: false, sn: false, nv: 0xf2, pir: [] },
          virr: [],
        },
      ],
      irtes: [],
      hostIF: true,
      hostAutoEoi: true,
      guestIoapic: [],
      apicRegisters: false,
      lapicTimer: false,
      ioapic: [],
      apicvInhibits: [],
    });
    assert.deepEqual(s.expect, {});
  });

  test('step defaults: guest.icr is fixed, physical, edge, no shorthand', () => {
    const s = parseScenarioText(
      JSON.stringify(edited((x) => x.steps.push({ do: 'guest.icr', vcpu: 0, vector: 0x40, dest: 1 }))),
      'icr.json',
    );
    const st = s.steps.at(-1)!;
    assert.ok(st.do === 'guest.icr');
    assert.equal(st.deliveryMode, 'fixed');
    assert.equal(st.destMode, 'physical');
    assert.equal(st.trigger, 'edge');
    assert.equal(st.shorthand, 'none');
  });

  test('a vector written as a number or as a hex string is the same vector', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), (v, upper) => {
        const hexDigits = upper ? v.toString(16).toUpperCase() : v.toString(16);
        const a = parseScenarioText(JSON.stringify(edited((s) => (s.steps[1].vector = v))), 'a.json');
        const b = parseScenarioText(
          JSON.stringify(edited((s) => (s.steps[1].vector = `0x${hexDigits}`))),
          'b.json',
        );
        assert.deepEqual(a, b);
        const st = a.steps[1];
        assert.ok(st.do === 'guest.selfIpi');
        assert.equal(st.vector, v);
      }),
    );
  });
});

describe('bad files: one-line errors naming file, path and problem', () => {
  test('unknown field at the top level', () => {
    rejectsJson(
      edited((s) => (s.colour = 'blue')),
      '(top level)',
      /unknown field "colour"/,
    );
  });

  test('unknown field in machine', () => {
    rejectsJson(
      edited((s) => (s.machine.cpus = 2)),
      'machine',
      /unknown field "cpus"/,
    );
  });

  test('unknown field in a vCPU', () => {
    rejectsJson(
      edited((s) => (s.machine.vcpus[1].tprr = 0)),
      'machine.vcpus[1]',
      /unknown field "tprr"/,
    );
  });

  test('unknown field in a step', () => {
    rejectsJson(
      edited((s) => (s.steps[1].vectr = 49)),
      'steps[1]',
      /unknown field "vectr"/,
    );
  });

  test('wrong type', () => {
    rejectsJson(
      edited((s) => (s.machine.pcpus = 'two')),
      'machine.pcpus',
      /: pcpus must be an integer 1-32, not "two"$/,
    );
    rejectsJson(
      edited((s) => (s.machine.x2apic = 'yes')),
      'machine.x2apic',
      /: x2apic must be true or false, not "yes"$/,
    );
    rejectsJson(
      edited((s) => (s.steps = {})),
      'steps',
      /: steps must be a list, not an object$/,
    );
  });

  for (const v of [300, -1, '0x100', 256, '0xFFF']) {
    test(`vector out of range: ${JSON.stringify(v)}`, () => {
      rejectsJson(
        edited((s) => (s.steps[1].vector = v)),
        'steps[1].vector',
        /vector must be an integer 0-255 or a hex string such as "0x31"/,
      );
    });
  }

  test('every integer vector outside 0-255 is rejected with the path of the field', () => {
    const outside = fc.oneof(
      fc.integer({ min: -1_000_000, max: -1 }),
      fc.integer({ min: 256, max: 0x7fffffff }),
    );
    fc.assert(
      fc.property(outside, fc.boolean(), (v, asHex) => {
        // A hex string cannot carry a sign; negative values are tried as numbers only.
        const written = asHex && v >= 0 ? `0x${v.toString(16)}` : v;
        rejectsJson(
          edited((s) => (s.machine.irtes[0].vector = written)),
          'machine.irtes[0].vector',
          /vector must be an integer 0-255 or a hex string such as "0x31"/,
        );
      }),
      { numRuns: 60 },
    );
  });

  test('a vector that is neither an integer nor a hex string says what is expected', () => {
    for (const v of ['49', '0x', 'x31', 1.5, true, null, [49]]) {
      const msg = rejectsJson(
        edited((s) => (s.steps[1].vector = v)),
        'steps[1].vector',
        /: vector must be an integer 0-255 or a hex string such as "0x31"$/,
      );
      assert.ok(!msg.includes('Invalid input'), msg);
    }
  });

  test('the same inside lists, records and nested unions, with the path down to the element', () => {
    rejectsJson(
      edited((s) => (s.machine.vcpus[0].virr = ['0x31', '49'])),
      'machine.vcpus[0].virr[1]',
      /: vector must be an integer 0-255 or a hex string such as "0x31"$/,
    );
    rejectsJson(
      edited((s) => (s.expect.delivered['0'] = [1.5])),
      'expect.delivered.0[0]',
      /: vector must be an integer 0-255 or a hex string such as "0x31"$/,
    );
    rejectsJson(
      edited((s) => (s.expect.state['vcpu0.vIRR'] = ['0x31', '49'])),
      'expect.state."vcpu0.vIRR"[1]',
      /: vector must be an integer 0-255 or a hex string such as "0x31"$/,
    );
    rejectsJson(
      edited((s) => (s.expect.state['vcpu0.vIRR'] = [300])),
      'expect.state."vcpu0.vIRR"[0]',
      /: vector must be an integer 0-255 or a hex string such as "0x31"$/,
    );
    const msg = rejectsJson(
      edited((s) => (s.expect.state['vcpu0.SVI'] = 1.5)),
      'expect.state."vcpu0.SVI"',
      /: expected true\/false, a list of vectors, a number, a hex string or a name such as "none"$/,
    );
    assert.ok(!msg.includes('Invalid input'), msg);
  });

  test('unknown vCPU in a step', () => {
    rejectsJson(
      edited((s) => (s.steps[1].vcpu = 2)),
      'steps[1].vcpu',
      /unknown vCPU 2 \(machine has 2\)/,
    );
  });

  test('unknown vCPU in an IRTE and in an expectation', () => {
    rejectsJson(
      edited((s) => (s.machine.irtes[0].vcpu = 5)),
      'machine.irtes[0].vcpu',
      /unknown vCPU 5/,
    );
    rejectsJson(
      edited((s) => (s.expect.delivered = { '7': [] })),
      'expect.delivered.7',
      /unknown vCPU 7/,
    );
  });

  test('unknown pCPU in a step, in a vCPU and in hostIrqs', () => {
    rejectsJson(
      edited((s) => (s.steps[2].pcpu = 2)),
      'steps[2].pcpu',
      /unknown pCPU 2 \(machine has 2\)/,
    );
    rejectsJson(
      edited((s) => (s.machine.vcpus[1].pcpu = 9)),
      'machine.vcpus[1].pcpu',
      /unknown pCPU 9/,
    );
    rejectsJson(
      edited((s) => (s.expect.hostIrqs = { '3': [] })),
      'expect.hostIrqs.3',
      /unknown pCPU 3/,
    );
  });

  test('two running vCPUs on one pCPU, and a running vCPU without a pCPU', () => {
    rejectsJson(
      edited((s) => Object.assign(s.machine.vcpus[1], { pcpu: 0, running: true })),
      'machine.vcpus[1].pcpu',
      /pCPU 0 already runs vCPU 0/,
    );
    rejectsJson(
      edited((s) => Object.assign(s.machine.vcpus[1], { pcpu: -1, running: true })),
      'machine.vcpus[1].running',
      /a running vCPU needs a pcpu/,
    );
  });

  test('unknown step kind', () => {
    rejectsJson(
      edited((s) => (s.steps[1].do = 'guest.nmi')),
      'steps[1].do',
      /: unknown step kind "guest.nmi" \(kinds: device\.post, guest\.tpr, .*, avic\.deliver\)$/,
    );
  });

  test('unknown IRTE', () => {
    rejectsJson(
      edited((s) => s.steps.push({ do: 'device.post', irte: 1 })),
      'steps[3].irte',
      /unknown IRTE 1/,
    );
  });

  test('device.post without a target, and with both targets', () => {
    rejectsJson(
      edited((s) => s.steps.push({ do: 'device.post' })),
      'steps[3]',
      /device.post needs irte, or vcpu and vector/,
    );
    rejectsJson(
      edited((s) => s.steps.push({ do: 'device.post', vcpu: 0 })),
      'steps[3]',
      /device.post needs irte, or vcpu and vector/,
    );
    rejectsJson(
      edited((s) => s.steps.push({ do: 'device.post', irte: 0, vcpu: 0, vector: 0x41 })),
      'steps[3]',
      /give either irte or vcpu\+vector, not both/,
    );
  });

  test('an ICR write without dest or vector', () => {
    rejectsJson(
      edited((s) => s.steps.push({ do: 'guest.icr', vcpu: 0, vector: 0x40 })),
      'steps[3].dest',
      /needs dest/,
    );
    rejectsJson(
      edited((s) => s.steps.push({ do: 'guest.icr', vcpu: 0, dest: 1 })),
      'steps[3].vector',
      /needs a vector/,
    );
  });

  test('an I/O APIC step on a pin that is not programmed', () => {
    rejectsJson(
      edited((s) => s.steps.push({ do: 'ioapic.line', pin: 3, level: true })),
      'steps[3].pin',
      /pin 3 is not programmed in machine.ioapic/,
    );
  });

  test('bad scenario name', () => {
    rejectsJson(
      edited((s) => (s.name = 'Has Spaces')),
      'name',
      /lower-case letters/,
    );
  });

  test('unknown expectation field name', () => {
    const msg = rejectsJson(
      edited((s) => (s.expect.state['vcpu0.PID.OFF'] = true)),
      'expect.state."vcpu0.PID.OFF"',
      /unknown field/,
    );
    assert.match(msg, /vcpu0\.PID\.ON/, 'the message shows what field names look like');
    rejectsJson(
      edited((s) => (s.expect.state['vcpu2.vIRR'] = [])),
      'expect.state."vcpu2.vIRR"',
      /unknown field/,
    );
  });

  test('keys with dots are quoted the same way in every message', () => {
    // A zod issue (wrong type) and the loader's own checks on the same kind of key.
    rejectsJson(
      edited((s) => (s.expect.state['vcpu0.PID.ON'] = { on: true })),
      'expect.state."vcpu0.PID.ON"',
      /expected true\/false/,
    );
    rejectsJson(
      edited((s) => (s.expect.state['vcpu0.PID.ON'] = 2)),
      'expect.state."vcpu0.PID.ON"',
      /expected true or false \(or 1 or 0\)/,
    );
    rejectsJson(
      edited((s) => (s.expect.state['vcpu0.PPR'] = 0)),
      'expect.state."vcpu0.PPR"',
      /unknown field/,
    );
    // Plain keys are not quoted.
    rejectsJson(
      edited((s) => (s.expect.delivered = { '0': ['0x41'], '7': [] })),
      'expect.delivered.7',
      /unknown vCPU 7/,
    );
  });

  test('unknown exit-reason names are rejected, in expectations and in vm.exit', () => {
    rejectsJson(
      edited((s) => (s.expect.exits = { '0': ['EXTERNAL_INTERRUPT', 'EXTERNAL_INTERUPT'] })),
      'expect.exits.0[1]',
      /EXTERNAL_INTERRUPT/,
    );
    rejectsJson(
      edited((s) => s.steps.push({ do: 'vm.exit', vcpu: 0, reason: 'hlt' })),
      'steps[3].reason',
      /HLT/,
    );
  });

  test('guest.selfIpi needs x2APIC mode (xAPIC has no SELF IPI register)', () => {
    rejectsJson(
      edited((s) => (s.machine.x2apic = false)),
      'steps[1]',
      /guest\.selfIpi writes the x2APIC SELF IPI MSR, which needs "x2apic": true/,
    );
  });

  test('a machine whose vcpus or pcpus are invalid gets no follow-up index errors', () => {
    const empty = rejectsJson(
      edited((s) => (s.machine.vcpus = [])),
      'machine.vcpus',
      /: vcpus must have at least 1 entry$/,
    );
    assert.ok(!empty.includes('unknown vCPU'), empty);
    const zero = rejectsJson(
      edited((s) => (s.machine.pcpus = 0)),
      'machine.pcpus',
      /: pcpus must be an integer 1-32, not 0$/,
    );
    assert.ok(!zero.includes('unknown pCPU'), zero);
  });

  test('unknown expectation kind', () => {
    rejectsJson(
      edited((s) => (s.expect.traces = [])),
      'expect',
      /unknown field "traces"/,
    );
  });

  test('several problems: the first is shown with a count of the others', () => {
    const msg = rejectsJson(
      edited((s) => {
        s.a = 1;
        s.machine.pcpus = 'x';
        s.steps[1].vector = 999;
      }),
      null,
      /\(and \d+ more\)$/,
    );
    assert.match(msg, /^bad\.json: at /);
  });

  test('invalid JSON', () => {
    rejects('{ "name": "x", ', 'broken.json', null, /^broken\.json: not valid JSON: /);
    rejects('{', 'open.json', null, /^open\.json: not valid JSON: /);
  });

  test('invalid YAML: the message and where, with no dangling colon', () => {
    rejects(
      'name: [x\nsteps: ]',
      'broken.yaml',
      null,
      /^broken\.yaml: not valid YAML: \S.* at line 2, column 1$/,
    );
    const dup = rejects('a: 1\na: 2\n', 'dup.yml', null, /^dup\.yml: not valid YAML: /);
    assert.equal(dup, 'dup.yml: not valid YAML: Map keys must be unique at line 2, column 1');
    rejects('a: "x\n', 'quote.yaml', null, /^quote\.yaml: not valid YAML: .* at line \d+, column \d+$/);
  });

  test('a document that is not an object', () => {
    rejects('[]', 'list.json', '(top level)', /: a scenario must be an object, not a list$/);
    rejects('name: [x', 'list.yaml', null, /^list\.yaml: not valid YAML: /);
    rejects('- 1\n', 'list.yaml', '(top level)', /: a scenario must be an object, not a list$/);
    for (const f of ['empty.json', 'empty.yaml'])
      for (const text of ['', ' \n', '\ufeff'])
        rejects(
          text,
          f,
          null,
          /^empty\.(json|yaml): the file is empty; a scenario is an object \(docs\/scenario-format\.md\)$/,
        );
  });

  test('errors name the file as given, path included', () => {
    const file = '/some/dir/my scenario.json';
    const msg = rejects(
      JSON.stringify(edited((s) => (s.machine.colour = 1))),
      file,
      'machine',
      /unknown field "colour"/,
    );
    assert.equal(msg, `${file}: at machine: unknown field "colour"`);
  });
});

describe('machine.features: what they allow and exclude', () => {
  /** A valid AVIC scenario to break. */
  function avic(): Raw {
    return {
      name: 'probe',
      description: 'an AVIC machine',
      source: 'test',
      machine: {
        pcpus: 2,
        features: { apicv: false, avic: true },
        vcpus: [{ pcpu: 0, running: true }, { pcpu: 1 }],
        irtes: [{ vcpu: 1, vector: '0x51' }],
      },
      steps: [
        { do: 'guest.icr', vcpu: 0, vector: '0x41', dest: 1 },
        { do: 'avic.load', vcpu: 1, pcpu: 1 },
        { do: 'avic.put', vcpu: 1, blocking: true },
        { do: 'avic.deliver', vcpu: 1, vector: '0x61', trigger: 'level' },
        { do: 'device.post', irte: 0 },
      ],
      expect: {
        exits: { '0': ['AVIC_INCOMPLETE_IPI'] },
        state: { 'vcpu1.avic.IRR': ['0x41'], 'galog.count': 0 },
      },
    };
  }
  const broken = (edit: (s: Raw) => void): Raw => {
    const s = avic();
    edit(s);
    return s;
  };

  test('a valid AVIC scenario parses, with the defaults of the new steps', () => {
    const s = parseScenarioText(JSON.stringify(avic()), 'avic.json');
    assert.deepEqual(s.machine.features, { apicv: false, vtdPosting: true, ipiv: false, avic: true });
    const put = parseScenarioText(
      JSON.stringify(broken((x) => (x.steps[2] = { do: 'avic.put', vcpu: 1 }))),
      'avic.json',
    ).steps[2];
    assert.ok(put.do === 'avic.put' && put.blocking === false);
    const deliver = s.steps[3];
    assert.ok(deliver.do === 'avic.deliver' && deliver.trigger === 'level' && deliver.vector === 0x61);
  });

  test('features.vtdPosting false: no device.post (steps or actors), no IRTEs', () => {
    const noPosting = (s: Raw) => (s.machine.features = { vtdPosting: false });
    rejectsJson(
      edited((s) => {
        noPosting(s);
        s.machine.irtes = [];
        s.steps[0] = { do: 'device.post', vcpu: 0, vector: '0x41' };
      }),
      'steps[0]',
      /^bad\.json: at steps\[0\]: machine has no VT-d posting: device\.post needs features\.vtdPosting$/,
    );
    rejectsJson(
      edited((s) => {
        noPosting(s);
        s.steps = [{ do: 'guest.sti', vcpu: 0 }];
      }),
      'machine.irtes',
      /machine has no VT-d posting: machine\.irtes needs features\.vtdPosting$/,
    );
    rejectsJson(
      edited((s) => {
        noPosting(s);
        s.machine.irtes = [];
        s.steps = [];
        s.actors = [{ name: 'dev', steps: [{ do: 'device.post', vcpu: 0, vector: '0x41' }] }];
      }),
      'actors[0].steps[0]',
      /machine has no VT-d posting: device\.post needs features\.vtdPosting$/,
    );
  });

  test("AVIC excludes APICv and IPIv; an actor's device.post there names a GA-mode IRTE", () => {
    rejectsJson(
      broken((s) => (s.machine.features = { avic: true })),
      'machine.features.avic',
      /features\.avic replaces Intel APICv: set "apicv": false$/,
    );
    rejectsJson(
      broken((s) => (s.machine.features.ipiv = true)),
      'machine.features.ipiv',
      /features\.ipiv is Intel IPI virtualization: it cannot be combined with features\.avic/,
    );
    rejectsJson(
      broken((s) => (s.actors = [{ name: 'd', steps: [{ do: 'device.post', vcpu: 0, vector: '0x41' }] }])),
      'actors[0].steps[0]',
      /with features\.avic, device\.post needs irte \(a GA-mode IRTE of machine\.irtes\)$/,
    );
  });

  test("APICv inhibits: AVIC machines only, IRQWIN is not the scenario's to set, unknown names are named", () => {
    rejectsJson(
      edited(
        (s) =>
          (s.actors = [{ name: 'pit', steps: [{ do: 'kvm.inhibit', reason: 'PIT_REINJ', set: false }] }]),
      ),
      'actors[0].steps[0]',
      /kvm\.inhibit needs features\.avic$/,
    );
    rejectsJson(
      edited((s) => (s.machine.apicvInhibits = ['PIT_REINJ'])),
      'machine.apicvInhibits',
      /machine\.apicvInhibits needs features\.avic/,
    );
    rejectsJson(
      broken((s) => (s.machine.apicvInhibits = ['IRQWIN'])),
      'machine.apicvInhibits[0]',
      /PIT_REINJ/,
    );
    rejectsJson(
      broken((s) => (s.actors = [{ name: 'pit', steps: [{ do: 'kvm.inhibit', reason: 'PIT', set: true }] }])),
      'actors[0].steps[0].reason',
      /PIT_REINJ/,
    );
    rejectsJson(
      broken((s) => (s.actors = [{ name: 'w', steps: [{ do: 'svm.irqWindow.open' }] }])),
      'actors[0].steps[0]',
      /svm\.irqWindow\.open needs the actor's vcpu$/,
    );
  });

  test('AVIC table: APIC IDs below the table size, one vCPU per entry', () => {
    rejectsJson(
      broken((s) => (s.machine.vcpus[1].apicId = '0x200')),
      'machine.vcpus[1].apicId',
      /APIC ID 512 is outside AVIC's physical APIC ID table \(0-0x1ff in x2APIC mode\)$/,
    );
    rejectsJson(
      broken((s) => {
        s.machine.x2apic = false;
        s.machine.vcpus[1].apicId = '0xff';
      }),
      'machine.vcpus[1].apicId',
      /\(0-0xfe in xAPIC mode\)$/,
    );
    rejectsJson(
      broken((s) => (s.machine.vcpus[1].apicId = 0)),
      'machine.vcpus[1].apicId',
      /APIC ID 0 is vCPU 0's too/,
    );
  });

  test('AVIC has no descriptor, no EOI-exit bitmap, no URG, no logical ICR destinations here', () => {
    const cases: [(s: Raw) => void, string, RegExp][] = [
      [
        (s) => (s.machine.vcpus[0].pid = { on: true }),
        'machine.vcpus[0].pid',
        /no posted-interrupt descriptor/,
      ],
      [
        (s) => (s.machine.vcpus[0].eoiExit = ['0x41']),
        'machine.vcpus[0].eoiExit',
        /AVIC has no EOI-exit bitmap/,
      ],
      [(s) => (s.machine.irtes[0].urg = true), 'machine.irtes[0].urg', /GA-mode IRTEs have no URG bit/],
      [
        (s) => (s.steps[0] = { do: 'pid.set', vcpu: 0, sn: true }),
        'steps[0]',
        /pid\.set needs features\.avic false/,
      ],
      [
        (s) => (s.steps[4] = { do: 'device.post', vcpu: 1, vector: '0x51' }),
        'steps[4]',
        /with features\.avic, device\.post needs irte/,
      ],
      [(s) => (s.steps[0].destMode = 'logical'), 'steps[0].destMode', /destMode logical is not modelled/],
      [
        (s) => {
          s.machine.x2apic = false;
          s.steps[0].dest = '0x100';
        },
        'steps[0].dest',
        /in xAPIC mode the ICR destination is 8 bits/,
      ],
      [(s) => (s.steps[3].vector = 15), 'steps[3].vector', /avic\.deliver needs a vector of 16-255/],
    ];
    for (const [edit, path, re] of cases) rejectsJson(broken(edit), path, re);
  });

  test('AVIC steps and exit reasons need features.avic; AVIC fields exist only with it', () => {
    rejectsJson(
      edited((s) => s.steps.push({ do: 'avic.load', vcpu: 0, pcpu: 0 })),
      'steps[3]',
      /avic\.load needs features\.avic$/,
    );
    rejectsJson(
      edited((s) => s.steps.push({ do: 'vm.exit', vcpu: 0, reason: 'AVIC_NOACCEL' })),
      'steps[3].reason',
      /AVIC_NOACCEL is an AVIC exit: it needs features\.avic$/,
    );
    rejectsJson(
      edited((s) => (s.expect.state = { 'vcpu0.avic.IRR': [] })),
      'expect.state."vcpu0.avic.IRR"',
      /unknown field/,
    );
    rejectsJson(
      broken((s) => (s.expect.state = { 'vcpu0.vIRR': [] })),
      'expect.state."vcpu0.vIRR"',
      /unknown field \(fields look like vcpu0\.avic\.IRR/,
    );
  });
});
