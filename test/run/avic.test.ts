/**
 * `irqlab run` on AVIC machines (features.avic) and on machines without VT-d posting: the trace
 * lines of the AVIC built-ins, the steps the state at that point refuses, and a property over
 * random scripts: whatever the IPIs, device interrupts, loads, puts, entries and exits, a vCPU that
 * runs in guest mode with IF=1 is never left with a deliverable vector in its backing page.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import { avicHighestDeliverable } from '../../src/model/hw/avic.ts';
import { findField, readField } from '../../src/model/platform/fields.ts';
import { avicPage, vcpuRunningOn } from '../../src/model/platform/world.ts';
import { type RunResult, runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';

const BUILTIN_DIR = fileURLToPath(new URL('../../src/scenarios/builtin/', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: scenario files are edited freely as parsed JSON
type Raw = Record<string, any>;

function rawBuiltin(name: string): Raw {
  return JSON.parse(readFileSync(join(BUILTIN_DIR, `${name}.json`), 'utf8'));
}

function run(raw: Raw, file = 'probe.json'): RunResult {
  return runScenario(parseScenarioText(JSON.stringify(raw), file), file);
}

function failures(r: RunResult): string[] {
  return r.expectations.filter((e) => !e.ok).map((e) => `${e.what}: expected ${e.expected}, got ${e.actual}`);
}

function field(r: RunResult, name: string): unknown {
  const f = findField(r.world.L, name);
  assert.ok(f, `no field ${name}`);
  return readField(r.world.m, f.block.base, f.field);
}

const AVIC = { apicv: false, avic: true };

function avicScenario(steps: Raw[], machine: Raw = {}, expect: Raw = {}): Raw {
  return {
    name: 'probe',
    description: 'd',
    source: 's',
    machine: {
      pcpus: 2,
      features: AVIC,
      vcpus: [{ pcpu: 0, running: true }, { pcpu: 1 }],
      irtes: [{ vcpu: 1, vector: '0x51' }],
      ...machine,
    },
    steps,
    expect,
  };
}

function runRejects(raw: Raw, message: string): void {
  assert.throws(
    () => run(raw),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `not a UserError: ${String(e)}`);
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe('AVIC traces', () => {
  test("an incomplete IPI names its cause on the sender's line; VMRUN of the target then delivers", () => {
    const r = run(rawBuiltin('avic-ipi-target-not-running'));
    const ipi = r.entries[0];
    assert.equal(ipi.actor, 'vcpu0');
    assert.equal(
      ipi.action,
      'guest writes ICR: fixed 0x41 dest 1; VM exit AVIC_INCOMPLETE_IPI (TARGET_NOT_RUNNING)',
    );
    assert.ok(ipi.changes.some((c) => c.field === 'vcpu1.avic.IRR[0x41]' && c.to === '1'));
    assert.ok(ipi.changes.some((c) => c.field === 'pcpu0.mode' && c.to === '0'));
    // avic_vcpu_load (KVM's stepped path): the vCPU is loaded on pCPU 1, its VMCB current there,
    // and its table entry names pCPU 1's APIC ID with IsRunning (APM 15.29.3.1).
    const load = r.entries.find((e) => e.step === 1)!;
    assert.equal(load.actor, 'host');
    assert.deepEqual(
      load.changes.map((c) => `${c.field} ${c.from}→${c.to}`),
      [
        'pcpu1.vmcs none→1',
        'vcpu1.pcpu none→1',
        'vcpu1.avic.IsRunning 0→1',
        'vcpu1.avic.hostApicId 0→1',
        'vcpu1.loadedOn none→1',
      ],
    );
    const entry = r.entries.find((e) => e.step === 2)!;
    assert.ok(entry.changes.some((c) => c.field === 'vcpu1.avic.recognized' && c.to === '0x41'));
    const delivery = r.entries[r.entries.indexOf(entry) + 1];
    assert.equal(delivery.step, null);
    assert.equal(delivery.action, 'AVIC delivery from the backing page: guest handler 0x41 runs');
  });

  test('a doorbell is described with what it did on the step that rang it', () => {
    const running = run(rawBuiltin('avic-ipi-running-target')).entries[0];
    assert.equal(
      running.action,
      'guest writes ICR: fixed 0x62 dest 1; doorbell to pcpu1: vcpu1 re-evaluates its backing page, recognizes 0x62',
    );
    assert.deepEqual(running.events, [{ kind: 'avic_doorbell', a: 1, b: 1, c: 0x62, d: 1 }]);
    const root = run(rawBuiltin('avic-ipi-target-in-root-mode')).entries.find((e) => e.step === 1)!;
    assert.match(root.action, /; doorbell to pcpu1: pcpu1 is not in guest mode, nothing happens$/);
    assert.ok(!root.changes.some((c) => c.field.startsWith('vcpu1.avic.recognized')));
  });

  test('GA posting: doorbell, silent, or a GA-log entry and the host reaction that wakes the vCPU', () => {
    const post = run(rawBuiltin('avic-ga-post-running')).entries[0];
    assert.equal(post.actor, 'iommu');
    assert.match(
      post.action,
      /^post 0x51 to vcpu0 via GA IRTE 0; IsRun=1; doorbell to pcpu1: vcpu0 re-evaluates/,
    );

    const silent = run(rawBuiltin('avic-ga-post-silent')).entries.find((e) => e.step === 2)!;
    assert.equal(silent.action, 'post 0x51 to vcpu0 via GA IRTE 0; IsRun=0, GALogIntr=0: IRR set silently');
    assert.deepEqual(
      silent.changes.map((c) => c.field),
      ['vcpu0.posted[0x51]', 'vcpu0.avic.IRR[0x51]'],
    );

    const r = run(rawBuiltin('avic-ga-post-blocked-logs'));
    const logged = r.entries.find((e) => e.step === 2)!;
    assert.match(logged.action, /; IsRun=0, GALogIntr=1: GA log entry, GA-log interrupt raised$/);
    // The host's GA-log handler is the posting step's second instruction (emitAvicDevicePost):
    // it consumes the entry and wakes the vCPU (avic_ga_log_notifier -> kvm_vcpu_wake_up).
    const wake = r.entries[r.entries.indexOf(logged) + 1];
    assert.equal(wake.step, 2);
    assert.equal(wake.actor, 'host');
    assert.match(wake.action, /^avic_ga_log_notifier: kvm_vcpu_wake_up; GA log: wake vcpu0/);
    assert.ok(wake.events.some((e) => e.kind === 'ga_log' && e.a === 0));
    assert.deepEqual(
      wake.changes.map((c) => `${c.field} ${c.from}→${c.to}`),
      ['galog.count 1→0', 'galog.GAInt 1→0'],
    );
    assert.equal(r.entries[r.entries.indexOf(wake) + 1].step, 3, 'the wake-up comes before the load');
  });

  test('a level-triggered EOI is an AVIC_NOACCEL exit; the run stops there with the vector in service', () => {
    const r = run(rawBuiltin('avic-level-eoi-noaccel'));
    const last = r.entries.at(-1)!;
    assert.equal(last.action, 'guest writes EOI; VM exit AVIC_NOACCEL (0xb0)');
    assert.deepEqual(field(r, 'vcpu0.avic.ISR'), [0x51]);
  });

  test('avic.deliver to a vCPU that is not in guest mode wakes it, and the vector waits for VMRUN', () => {
    const r = run(
      avicScenario(
        [
          { do: 'avic.deliver', vcpu: 1, vector: '0x61' },
          { do: 'avic.load', vcpu: 1, pcpu: 1 },
          { do: 'vm.entry', vcpu: 1, pcpu: 1 },
        ],
        {
          vcpus: [
            { pcpu: 0, running: true },
            { pcpu: 1, halted: true },
          ],
        },
        { delivered: { '1': ['0x61'] }, state: { 'vcpu1.halted': false } },
      ),
    );
    assert.deepEqual(failures(r), []);
    // svm_deliver_interrupt, stepped: IRR in the backing page, then svm_complete_interrupt_delivery
    // finds the target outside guest mode and wakes it (kvm_vcpu_wake_up), ringing no doorbell.
    const deliver = r.entries.filter((e) => e.step === 0);
    assert.equal(deliver[0].action, 'svm_deliver_interrupt: kvm_lapic_set_irr');
    assert.ok(deliver[0].changes.some((c) => c.field === 'vcpu1.avic.IRR[0x61]' && c.to === '1'));
    const events = deliver.flatMap((e) => e.events);
    assert.deepEqual(events, [{ kind: 'wake_up', a: 1, b: 0, c: 0, d: 0 }]);
  });

  test('guest.selfIpi and guest.tpr go through the backing page', () => {
    const r = run(
      avicScenario(
        [
          { do: 'guest.selfIpi', vcpu: 0, vector: '0x45' },
          { do: 'guest.tpr', vcpu: 0, value: '0x30' },
        ],
        { vcpus: [{ pcpu: 0, running: true, tpr: '0x40' }], irtes: [] },
        {
          delivered: { '0': ['0x45'] },
          exits: { '0': [] },
          state: { 'vcpu0.avic.TPR': '0x30', 'vcpu0.avic.PPR': '0x40' },
        },
      ),
    );
    assert.deepEqual(failures(r), []);
    assert.deepEqual(r.entries[0].events, [{ kind: 'self_ipi', a: 0, b: 0x45, c: 0, d: 0 }]);
  });
});

describe('AVIC steps the state at that point refuses', () => {
  test('avic.load and avic.put of a vCPU in guest mode, and avic.load onto a pCPU running another vCPU', () => {
    runRejects(
      avicScenario([{ do: 'avic.load', vcpu: 0, pcpu: 0 }]),
      'probe.json: steps[0]: vcpu0 runs in guest mode on pcpu0: avic.load needs it in root mode',
    );
    runRejects(
      avicScenario([
        { do: 'guest.sti', vcpu: 1 },
        { do: 'avic.put', vcpu: 0 },
      ]),
      'probe.json: steps[1]: vcpu0 runs in guest mode on pcpu0: avic.put needs it in root mode',
    );
    runRejects(
      avicScenario([{ do: 'avic.load', vcpu: 1, pcpu: 0 }]),
      'probe.json: steps[0]: pcpu0 already runs vcpu0 in guest mode',
    );
  });
});

describe('features.vtdPosting: false', () => {
  const noPosting = (steps: Raw[], irtes: Raw[] = []): Raw => ({
    name: 'probe',
    description: 'd',
    source: 's',
    machine: { features: { vtdPosting: false }, vcpus: [{ pcpu: 0, running: true }], irtes },
    steps,
  });

  test('device.post and IRTEs are load-time errors', () => {
    assert.throws(() => run(noPosting([{ do: 'device.post', vcpu: 0, vector: '0x41' }])), {
      message: 'probe.json: at steps[0]: machine has no VT-d posting: device.post needs features.vtdPosting',
    });
    assert.throws(() => run(noPosting([{ do: 'guest.sti', vcpu: 0 }], [{ vcpu: 0, vector: '0x41' }])), {
      message:
        'probe.json: at machine.irtes: machine has no VT-d posting: machine.irtes needs features.vtdPosting',
    });
  });

  test('on an AVIC machine too: the GA-mode IRTEs need it', () => {
    const raw = avicScenario([{ do: 'device.post', irte: 0 }]);
    raw.machine.features = { ...AVIC, vtdPosting: false };
    assert.throws(() => run(raw), {
      message:
        'probe.json: at machine.irtes: machine has no VT-d posting: machine.irtes needs features.vtdPosting (and 1 more)',
    });
  });

  test('everything else runs as before', () => {
    const r = run({
      ...noPosting([{ do: 'guest.selfIpi', vcpu: 0, vector: '0x31' }]),
      expect: { delivered: { '0': ['0x31'] } },
    });
    assert.deepEqual(failures(r), []);
  });
});

// ----------------------------------------------------------------------------------------------
// Random scripts on a 2-pCPU, 3-vCPU AVIC machine. KVM's discipline is kept: a vCPU is loaded
// (avic.load) on the pCPU before it enters there, and put only in root mode. With it, every IRR bit
// set while its vCPU runs is followed by a doorbell that reaches that vCPU's pCPU, and every VMRUN
// evaluates the page: so after each settled step, no vCPU in guest mode with IF=1 holds a
// deliverable vector.

type Op =
  | { k: 'ipi'; from: number; to: number; vector: number }
  | { k: 'post'; irte: number }
  | { k: 'deliver'; x: number; vector: number; level: boolean }
  | { k: 'enter'; x: number; p: number }
  | { k: 'exit'; x: number }
  | { k: 'put'; x: number; blocking: boolean }
  | { k: 'eoi'; x: number }
  | { k: 'tpr'; x: number; value: number };

const vectorArb = fc.integer({ min: 0x20, max: 0xef });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('ipi' as const), from: fc.nat(2), to: fc.nat(3), vector: vectorArb }),
  fc.record({ k: fc.constant('post' as const), irte: fc.nat(2) }),
  fc.record({ k: fc.constant('deliver' as const), x: fc.nat(2), vector: vectorArb, level: fc.boolean() }),
  fc.record({ k: fc.constant('enter' as const), x: fc.nat(2), p: fc.nat(1) }),
  fc.record({ k: fc.constant('exit' as const), x: fc.nat(2) }),
  fc.record({ k: fc.constant('put' as const), x: fc.nat(2), blocking: fc.boolean() }),
  fc.record({ k: fc.constant('eoi' as const), x: fc.nat(2) }),
  fc.record({ k: fc.constant('tpr' as const), x: fc.nat(2), value: fc.integer({ min: 0, max: 0xff }) }),
);

/**
 * The steps of a script, skipping operations the state does not allow. `on` may think a vCPU runs
 * after it left guest mode by itself (an incomplete IPI, a level EOI): it over-approximates, so an
 * entry, load or put it lets through is always allowed, and exits are host interrupts, which are.
 */
function stepsOf(ops: Op[]): Raw[] {
  const on: number[] = [0, 1, -1]; // pCPU each vCPU runs on in guest mode
  const loaded: number[] = [0, 1, -1]; // pCPU each vCPU is loaded on (KVM's vcpu_load)
  const runs = (p: number) => on.indexOf(p);
  const steps: Raw[] = [];
  for (const op of ops) {
    switch (op.k) {
      case 'ipi':
        // APIC IDs 0..2 are the vCPUs; 3 has no vCPU (INVALID_TARGET).
        steps.push({ do: 'guest.icr', vcpu: op.from, vector: op.vector, dest: op.to });
        break;
      case 'post':
        steps.push({ do: 'device.post', irte: op.irte });
        break;
      case 'deliver':
        steps.push({
          do: 'avic.deliver',
          vcpu: op.x,
          vector: op.vector,
          trigger: op.level ? 'level' : 'edge',
        });
        break;
      case 'enter':
        // The pCPU must be free of other loaded vCPUs, and this one loaded nowhere else.
        if (on[op.x] >= 0 || runs(op.p) >= 0) break;
        if (loaded.some((p, y) => y !== op.x && p === op.p) || (loaded[op.x] >= 0 && loaded[op.x] !== op.p))
          break;
        steps.push({ do: 'avic.load', vcpu: op.x, pcpu: op.p }, { do: 'vm.entry', vcpu: op.x, pcpu: op.p });
        on[op.x] = op.p;
        loaded[op.x] = op.p;
        break;
      case 'exit':
        // A host interrupt: an exit if the vCPU still runs there, a host handler otherwise.
        if (on[op.x] < 0) break;
        steps.push({ do: 'cpu.interrupt', pcpu: on[op.x], vector: '0xec' });
        on[op.x] = -1;
        break;
      case 'put':
        // KVM puts a vCPU that is loaded (avic_vcpu_put runs from kvm_sched_out or blocking).
        if (on[op.x] >= 0 || loaded[op.x] < 0) break;
        steps.push({ do: 'avic.put', vcpu: op.x, blocking: op.blocking });
        if (!op.blocking) loaded[op.x] = -1;
        break;
      case 'eoi':
        steps.push({ do: 'guest.eoi', vcpu: op.x });
        break;
      case 'tpr':
        steps.push({ do: 'guest.tpr', vcpu: op.x, value: op.value });
        break;
    }
  }
  return steps;
}

describe('property: no deliverable vector is left behind in a running vCPU', () => {
  test('after every random script that loads before it enters', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const steps = stepsOf(ops);
        if (steps.length === 0) return;
        const raw = {
          name: 'random',
          description: 'd',
          source: 's',
          machine: {
            pcpus: 2,
            features: AVIC,
            vcpus: [{ pcpu: 0, running: true }, { pcpu: 1, running: true }, {}],
            irtes: [
              { vcpu: 0, vector: '0x51' },
              { vcpu: 1, vector: '0x52' },
              { vcpu: 2, vector: '0x53' },
            ],
          },
          steps,
        };
        const r = run(raw);
        const w = r.world;
        for (let x = 0; x < 3; x++) {
          if (vcpuRunningOn(w, x) < 0 || field(r, `vcpu${x}.IF`) !== true) continue;
          assert.equal(
            avicHighestDeliverable(w.m, avicPage(w, x)),
            -1,
            `vcpu${x} runs with a deliverable vector left in IRR:\n${JSON.stringify(steps)}`,
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
