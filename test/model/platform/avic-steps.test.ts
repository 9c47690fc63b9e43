/**
 * AVIC inside a machine (src/model/platform/avic-steps.ts): the World's AVIC region at the start,
 * guest IPIs and their doorbells and exits, device interrupts through GA-mode IRTEs and the GA log,
 * KVM's load / put (src/model/kvm/ir-list.ts) and software delivery, and the VM entry and exit of an AVIC vCPU. Fields are read
 * by the names traces and expectations use.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AVIC_IPI_FAILURE, avicSetIrr, GA_LOG_CAPACITY, GA_POST } from '../../../src/model/hw/avic.ts';
import { avicLoad, avicStopRunning } from '../../../src/model/kvm/ir-list.ts';
import {
  avicAutoEoiEnabled,
  avicDeliverEnabled,
  avicDeliverStep,
  avicDevicePost,
  avicGuestEoi,
  avicGuestIcr,
  avicGuestSelfIpi,
  avicGuestTpr,
  avicRingDoorbell,
  gaLogInterrupt,
  gaLogInterruptPending,
} from '../../../src/model/platform/avic-steps.ts';
import { EVENT_NAMES, type EventKind, EXIT_REASON, type Sink } from '../../../src/model/platform/events.ts';
import { type FieldValue, fieldNames, findField, readField } from '../../../src/model/platform/fields.ts';
import { guestHlt, type IcrWrite, vmEntry, vmExit } from '../../../src/model/platform/hardware.ts';
import { PCPU, PCPU_MODE_GUEST, PCPU_MODE_ROOT } from '../../../src/model/platform/layout.ts';
import type { IrteConfig, Machine, VcpuConfig } from '../../../src/model/platform/machine.ts';
import { avicPage, initWorld, pcpuApicId, type World } from '../../../src/model/platform/world.ts';
import { vcpu } from './support.ts';

/** An AVIC machine with two pCPUs; vCPU i has APIC ID i unless the config says otherwise. */
function machine(
  vcpus: Partial<VcpuConfig>[],
  irtes: Partial<IrteConfig>[] = [],
  more: Partial<Machine> = {},
): Machine {
  return {
    pcpus: 2,
    x2apic: true,
    features: { apicv: false, vtdPosting: true, ipiv: false, avic: true },
    vcpus: vcpus.map((c, i) => vcpu(c, c.apicId ?? i)),
    irtes: irtes.map((e) => ({ vcpu: 0, vector: 0x51, urg: false, ...e })),
    hostIF: true,
    hostAutoEoi: true,
    ioapic: [],
    ...more,
  };
}

interface Ev {
  kind: string;
  a: number;
  b: number;
  c: number;
  d: number;
}

class ListSink implements Sink {
  events: Ev[] = [];
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void {
    this.events.push({ kind: EVENT_NAMES[kind], a, b, c, d });
  }
  kinds(): string[] {
    return this.events.map((e) => e.kind);
  }
}

/** A field by its trace name. */
function val(w: World, name: string): FieldValue {
  const f = findField(w.L, name);
  assert.ok(f, `no field ${name}`);
  return readField(w.m, f.block.base, f.field);
}

function icr(dest: number, vector: number, more: Partial<IcrWrite> = {}): IcrWrite {
  return { vector, deliveryMode: 0, logical: false, levelTriggered: false, shorthand: 0, dest, ...more };
}

const modeOf = (w: World, p: number) => w.m[w.L.pcpu[p] + PCPU.MODE];

/** vCPU 0 runs on pCPU 0, vCPU 1 on pCPU 1. */
function twoRunning(): World {
  return initWorld(
    machine([
      { pcpu: 0, running: true },
      { pcpu: 1, running: true },
    ]),
  );
}

describe('the AVIC region at the start', () => {
  test('running vCPUs have IsRunning=1 and their pCPU; the others IsRunning=0', () => {
    const w = initWorld(machine([{ pcpu: 1, running: true }, { pcpu: 0 }, {}], [], { pcpus: 2 }));
    assert.equal(val(w, 'vcpu0.avic.IsRunning'), true);
    assert.equal(val(w, 'vcpu0.avic.hostApicId'), 1);
    assert.equal(val(w, 'vcpu1.avic.IsRunning'), false, 'only loaded: not running');
    assert.equal(val(w, 'vcpu1.avic.hostApicId'), 0);
    assert.equal(val(w, 'vcpu2.avic.IsRunning'), false);
    for (let x = 0; x < 3; x++) {
      assert.equal(val(w, `vcpu${x}.avic.Valid`), true);
      assert.equal(val(w, `vcpu${x}.avic.backingPage`), x, 'slot = vCPU index');
    }
  });

  test('the table is indexed by guest APIC ID', () => {
    const w = initWorld(machine([{ apicId: 0x1ff, pcpu: 1, running: true }, { apicId: 7 }]));
    assert.equal(val(w, 'vcpu0.avic.IsRunning'), true);
    assert.equal(val(w, 'vcpu0.avic.backingPage'), 0);
    assert.equal(val(w, 'vcpu1.avic.backingPage'), 1);
    // An IPI to APIC ID 7 reaches vCPU 1's page.
    avicGuestIcr(w, new ListSink(), 0, icr(7, 0x41));
    assert.deepEqual(val(w, 'vcpu1.avic.IRR'), [0x41]);
  });

  test("TPR and pending vectors start in the backing page; a running vCPU's start is a VMRUN", () => {
    const w = initWorld(
      machine([{ pcpu: 0, running: true, tpr: 0x30, virr: [0x41, 0x22] }, { virr: [0x61] }]),
    );
    assert.equal(val(w, 'vcpu0.avic.TPR'), 0x30);
    assert.equal(val(w, 'vcpu0.avic.PPR'), 0x30);
    assert.deepEqual(val(w, 'vcpu0.avic.IRR'), [0x22, 0x41]);
    assert.deepEqual(val(w, 'vcpu0.avic.TMR'), []);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0x41);
    assert.equal(val(w, 'vcpu1.avic.recognized'), 0, 'not running: nobody evaluated its page');
    assert.equal(avicDeliverEnabled(w, 0), true);
    assert.equal(avicDeliverEnabled(w, 1), false);
  });

  test('GA-mode IRTEs follow their vCPU; the GA log is empty and logging', () => {
    const w = initWorld(
      machine(
        [{ pcpu: 1, running: true }, { pcpu: 0 }],
        [
          { vcpu: 0, vector: 0x51 },
          { vcpu: 1, vector: 0x52 },
        ],
      ),
    );
    assert.equal(val(w, 'irte0.IsRun'), true);
    assert.equal(val(w, 'irte0.dest'), 1);
    assert.equal(val(w, 'irte0.vector'), 0x51);
    assert.equal(val(w, 'irte0.GATag'), 0);
    assert.equal(val(w, 'irte0.GALogIntr'), false);
    assert.equal(val(w, 'irte1.IsRun'), false);
    assert.equal(val(w, 'irte1.dest'), 0);
    assert.equal(val(w, 'irte1.GATag'), 1);
    assert.equal(val(w, 'galog.count'), 0);
    assert.equal(val(w, 'galog.GAInt'), false);
    assert.equal(val(w, 'galog.GALogRun'), true);
    assert.equal(gaLogInterruptPending(w), false);
  });

  test('the virtual-APIC page and the descriptor are not named on an AVIC machine; AVIC fields are', () => {
    const names = fieldNames(twoRunning().L);
    for (const gone of ['vcpu0.vIRR', 'vcpu0.RVI', 'vcpu0.PID.ON', 'vcpu0.vapic'])
      assert.ok(!names.includes(gone), gone);
    for (const here of ['vcpu0.avic.IRR', 'vcpu1.avic.IsRunning', 'galog.count', 'vcpu0.halted', 'pcpu1.IRR'])
      assert.ok(names.includes(here), here);
    const intel = fieldNames(
      initWorld({ ...machine([{}]), features: { ...machine([]).features, avic: false, apicv: true } }).L,
    );
    assert.ok(intel.includes('vcpu0.vIRR'));
    assert.ok(!intel.some((n) => n.includes('avic') || n.startsWith('galog')));
  });
});

describe('guest IPIs (avicGuestIcr)', () => {
  test('to a running target: IRR in its page, a doorbell to its pCPU, which recognizes the vector; no exit', () => {
    const w = twoRunning();
    const s = new ListSink();
    avicGuestIcr(w, s, 0, icr(1, 0x62));
    assert.deepEqual(s.events, [{ kind: 'avic_doorbell', a: 1, b: 1, c: 0x62, d: 1 }]);
    assert.deepEqual(val(w, 'vcpu1.avic.IRR'), [0x62]);
    assert.deepEqual(val(w, 'vcpu1.posted'), [0x62]);
    assert.equal(val(w, 'vcpu0.avic.ICR'), 0x62);
    assert.equal(val(w, 'vcpu0.avic.ICR2'), 1, 'x2APIC: the destination in the high half');
    assert.equal(avicDeliverEnabled(w, 1), true);
    assert.equal(modeOf(w, 0), PCPU_MODE_GUEST);
  });

  test('to a target whose IsRunning is 0: IRR set, no doorbell, the sender exits with TARGET_NOT_RUNNING', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true }, { pcpu: 1 }]));
    const s = new ListSink();
    avicGuestIcr(w, s, 0, icr(1, 0x41));
    assert.deepEqual(s.events, [
      {
        kind: 'vmexit',
        a: 0,
        b: 0,
        c: EXIT_REASON.AVIC_INCOMPLETE_IPI,
        d: AVIC_IPI_FAILURE.TARGET_NOT_RUNNING,
      },
    ]);
    assert.deepEqual(val(w, 'vcpu1.avic.IRR'), [0x41]);
    assert.equal(modeOf(w, 0), PCPU_MODE_ROOT);
  });

  test('to an APIC ID with no valid entry, inside the table or beyond it: INVALID_TARGET, no IRR anywhere', () => {
    for (const dest of [5, 0x200, 0xfffffffe]) {
      const w = twoRunning();
      const s = new ListSink();
      avicGuestIcr(w, s, 0, icr(dest, 0x41));
      assert.deepEqual(s.kinds(), ['vmexit'], `dest ${dest}`);
      assert.equal(s.events[0].d, AVIC_IPI_FAILURE.INVALID_TARGET);
      assert.deepEqual(val(w, 'vcpu0.avic.IRR'), []);
      assert.deepEqual(val(w, 'vcpu1.avic.IRR'), []);
    }
  });

  test('not fixed/edge, or a vector below 16: an exit with that cause, and nothing sent', () => {
    const cases: [IcrWrite, number][] = [
      [icr(1, 0x41, { deliveryMode: 4 }), AVIC_IPI_FAILURE.INVALID_INT_TYPE],
      [icr(1, 0x41, { deliveryMode: 1 }), AVIC_IPI_FAILURE.INVALID_INT_TYPE],
      [icr(1, 0x41, { levelTriggered: true }), AVIC_IPI_FAILURE.INVALID_INT_TYPE],
      [icr(1, 0x0f), AVIC_IPI_FAILURE.INVALID_IPI_VECTOR],
    ];
    for (const [write, cause] of cases) {
      const w = twoRunning();
      const s = new ListSink();
      avicGuestIcr(w, s, 0, write);
      assert.deepEqual(s.events, [
        { kind: 'vmexit', a: 0, b: 0, c: EXIT_REASON.AVIC_INCOMPLETE_IPI, d: cause },
      ]);
      assert.deepEqual(val(w, 'vcpu1.avic.IRR'), []);
    }
  });

  test('broadcasts: every vCPU, invalid entries skipped; "others" leaves the sender out', () => {
    const w = twoRunning();
    const s = new ListSink();
    avicGuestIcr(w, s, 0, icr(0xffffffff, 0x41));
    assert.deepEqual(
      s.events.map((e) => [e.kind, e.a, e.d]),
      [
        ['avic_doorbell', 0, 0],
        ['avic_doorbell', 1, 1],
      ],
    );
    assert.deepEqual(val(w, 'vcpu0.avic.IRR'), [0x41]);
    assert.deepEqual(val(w, 'vcpu1.avic.IRR'), [0x41]);
    const o = twoRunning();
    avicGuestIcr(o, new ListSink(), 0, icr(0, 0x42, { shorthand: 3 }));
    assert.deepEqual(val(o, 'vcpu0.avic.IRR'), []);
    assert.deepEqual(val(o, 'vcpu1.avic.IRR'), [0x42]);
  });

  test('in xAPIC mode 0xFF is the broadcast and the destination sits in ICR2 bits 31:24', () => {
    const w = initWorld(
      machine(
        [
          { pcpu: 0, running: true },
          { pcpu: 1, running: true },
        ],
        [],
        { x2apic: false },
      ),
    );
    avicGuestIcr(w, new ListSink(), 0, icr(0xff, 0x41));
    assert.deepEqual(val(w, 'vcpu1.avic.IRR'), [0x41]);
    avicGuestIcr(w, new ListSink(), 0, icr(1, 0x43));
    assert.equal(val(w, 'vcpu0.avic.ICR2'), 0x01000000);
  });

  test("self: SELF IPI and shorthand self set the sender's own IRR, evaluated at once, without the table", () => {
    const w = twoRunning();
    const s = new ListSink();
    avicGuestSelfIpi(w, s, 0, 0x31);
    assert.deepEqual(s.events, [{ kind: 'self_ipi', a: 0, b: 0x31, c: 0, d: 0 }]);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0x31);
    avicGuestSelfIpi(w, s, 0, 0x05);
    assert.equal(s.events.at(-1)!.d, AVIC_IPI_FAILURE.INVALID_IPI_VECTOR);
  });

  test("a doorbell reaching a pCPU that runs another vCPU re-evaluates that vCPU's own page", () => {
    // vCPU 1 last ran on pCPU 1 (IsRunning=1, host APIC ID 1) but vCPU 2 runs there now.
    const w = initWorld(
      machine([{ pcpu: 0, running: true }, { pcpu: 1, running: true }, { pcpu: 1 }], [], { pcpus: 2 }),
    );
    vmExit(w, new ListSink(), 1, EXIT_REASON.HLT, 0);
    vmEntry(w, new ListSink(), 2, 1);
    const s = new ListSink();
    avicGuestIcr(w, s, 0, icr(1, 0x41));
    assert.deepEqual(s.events, [{ kind: 'avic_doorbell', a: 1, b: 2, c: -1, d: 1 }]);
    assert.equal(val(w, 'vcpu1.avic.recognized'), 0);
  });

  test('a doorbell to a pCPU in root mode has no effect', () => {
    const s = new ListSink();
    const w = twoRunning();
    vmExit(w, s, 1, EXIT_REASON.HLT, 0);
    avicRingDoorbell(w, s, 1, 1);
    assert.deepEqual(s.events.at(-1), { kind: 'avic_doorbell', a: 1, b: -1, c: -1, d: 1 });
  });
});

describe('delivery, EOI and TPR in the backing page', () => {
  test('delivery needs guest mode and IF=1; it moves IRR to ISR, ends HLT and is marked as AVIC', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true, if: false, halted: true }]));
    avicGuestSelfIpi(w, new ListSink(), 0, 0x41);
    assert.equal(avicDeliverEnabled(w, 0), false, 'IF=0');
    w.m[w.L.vcpu[0]] |= 1;
    assert.equal(avicDeliverEnabled(w, 0), true);
    const s = new ListSink();
    avicDeliverStep(w, s, 0);
    assert.deepEqual(s.events, [{ kind: 'deliver', a: 0, b: 0x41, c: 1, d: 0 }]);
    assert.deepEqual(val(w, 'vcpu0.avic.ISR'), [0x41]);
    assert.equal(val(w, 'vcpu0.halted'), false);
    assert.equal(val(w, 'vcpu0.avic.PPR'), 0x40);
    assert.equal(avicDeliverEnabled(w, 0), false);
  });

  test('an edge EOI is accelerated and re-evaluates; a level EOI is AVIC_NOACCEL at 0B0H, page untouched', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true, autoEoi: true }]));
    const s = new ListSink();
    avicSetIrr(w.m, avicPage(w, 0), 0x51, true);
    avicRingDoorbell(w, s, pcpuApicId(0), 0);
    avicDeliverStep(w, s, 0);
    avicSetIrr(w.m, avicPage(w, 0), 0x61, false);
    avicRingDoorbell(w, s, pcpuApicId(0), 0);
    avicDeliverStep(w, s, 0);
    assert.deepEqual(val(w, 'vcpu0.avic.ISR'), [0x51, 0x61]);
    assert.equal(avicAutoEoiEnabled(w, 0), true);
    avicGuestEoi(w, s, 0);
    assert.deepEqual(s.events.at(-1), { kind: 'eoi', a: 0, b: 0x61, c: 0, d: 0 });
    avicGuestEoi(w, s, 0);
    assert.deepEqual(s.events.at(-1), { kind: 'vmexit', a: 0, b: 0, c: EXIT_REASON.AVIC_NOACCEL, d: 0xb0 });
    assert.deepEqual(val(w, 'vcpu0.avic.ISR'), [0x51]);
    assert.deepEqual(val(w, 'vcpu0.avic.TMR'), [0x51]);
    assert.equal(avicAutoEoiEnabled(w, 0), false, 'the vCPU left guest mode');
  });

  test('lowering the TPR re-evaluates: a masked vector becomes recognized', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true, tpr: 0x50 }]));
    avicGuestSelfIpi(w, new ListSink(), 0, 0x41);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0);
    avicGuestTpr(w, new ListSink(), 0, 0x20);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0x41);
  });

  test('#VMEXIT forgets the recognized vector, VMRUN finds it again', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true, virr: [0x41] }]));
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0x41);
    vmExit(w, new ListSink(), 0, EXIT_REASON.HLT, 0);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0);
    vmEntry(w, new ListSink(), 0, 0);
    assert.equal(val(w, 'vcpu0.avic.recognized'), 0x41);
  });
});

describe('GA-mode IRTEs, load / put and the GA log', () => {
  const oneVcpu = () => initWorld(machine([{ pcpu: 1, running: true }], [{ vcpu: 0, vector: 0x51 }]));

  test('IsRun=1: doorbell to Destination', () => {
    const w = oneVcpu();
    const s = new ListSink();
    avicDevicePost(w, s, 0);
    assert.deepEqual(s.events, [
      { kind: 'ga_post', a: 0, b: 0x51, c: GA_POST.DOORBELL, d: 0 },
      { kind: 'avic_doorbell', a: 1, b: 0, c: 0x51, d: 0 },
    ]);
  });

  test('a preempted put: IsRun=0 and GALogIntr=0, so the posting is silent', () => {
    const w = oneVcpu();
    vmExit(w, new ListSink(), 0, EXIT_REASON.EXTERNAL_INTERRUPT, 0xec);
    avicStopRunning(w, 0, false);
    assert.equal(val(w, 'vcpu0.avic.IsRunning'), false);
    assert.equal(val(w, 'vcpu0.avic.hostApicId'), 1, 'kept');
    assert.equal(val(w, 'irte0.IsRun'), false);
    assert.equal(val(w, 'irte0.dest'), 1, 'kept');
    assert.equal(val(w, 'vcpu0.halted'), false);
    const s = new ListSink();
    avicDevicePost(w, s, 0);
    assert.deepEqual(s.events, [{ kind: 'ga_post', a: 0, b: 0x51, c: GA_POST.SILENT, d: 0 }]);
    assert.deepEqual(val(w, 'vcpu0.avic.IRR'), [0x51]);
    assert.equal(gaLogInterruptPending(w), false);
  });

  test('a blocking put logs; the GA-log interrupt wakes the vCPU; a load turns logging off again', () => {
    const w = oneVcpu();
    vmExit(w, new ListSink(), 0, EXIT_REASON.HLT, 0);
    // avic_vcpu_blocking's half of the put (GALogIntr) after the guest's HLT.
    avicStopRunning(w, 0, true);
    guestHlt(w, 0);
    assert.equal(val(w, 'irte0.GALogIntr'), true);
    assert.equal(val(w, 'vcpu0.halted'), true);
    const s = new ListSink();
    avicDevicePost(w, s, 0);
    assert.deepEqual(s.events, [{ kind: 'ga_post', a: 0, b: 0x51, c: GA_POST.LOGGED, d: 0 }]);
    assert.equal(val(w, 'galog.count'), 1);
    assert.equal(val(w, 'galog.GAInt'), true);
    assert.equal(gaLogInterruptPending(w), true);
    gaLogInterrupt(w, s);
    assert.deepEqual(s.events.at(-1), { kind: 'ga_log', a: 0, b: 0, c: 0, d: 1 });
    assert.equal(val(w, 'vcpu0.halted'), false);
    assert.equal(val(w, 'galog.count'), 0);
    assert.equal(gaLogInterruptPending(w), false);
    avicLoad(w, new ListSink(), 0, 0);
    assert.equal(val(w, 'vcpu0.avic.IsRunning'), true);
    assert.equal(val(w, 'vcpu0.avic.hostApicId'), 0);
    assert.equal(val(w, 'irte0.IsRun'), true);
    assert.equal(val(w, 'irte0.dest'), 0);
    assert.equal(val(w, 'irte0.GALogIntr'), false);
  });

  test('a full GA log drops the entry and stops logging; the handler drains it and restarts logging', () => {
    const w = initWorld(machine([{}], [{ vcpu: 0, vector: 0x51 }]));
    // avic_vcpu_blocking's half of the put (GALogIntr) after the guest's HLT.
    avicStopRunning(w, 0, true);
    guestHlt(w, 0);
    const s = new ListSink();
    for (let i = 0; i <= GA_LOG_CAPACITY; i++) avicDevicePost(w, s, 0);
    assert.equal(s.events.at(-1)!.c, GA_POST.LOG_DROPPED);
    assert.equal(val(w, 'galog.count'), GA_LOG_CAPACITY);
    assert.equal(val(w, 'galog.GALOverflow'), true);
    assert.equal(val(w, 'galog.GALogRun'), false);
    gaLogInterrupt(w, s);
    assert.equal(s.events.filter((e) => e.kind === 'ga_log').length, GA_LOG_CAPACITY);
    assert.equal(val(w, 'galog.count'), 0);
    assert.equal(val(w, 'galog.GALOverflow'), false);
    assert.equal(val(w, 'galog.GALogRun'), true);
    assert.equal(gaLogInterruptPending(w), false);
  });

  test("load and put touch only the vCPU's own IRTEs", () => {
    const w = initWorld(
      machine(
        [{ pcpu: 0 }, { pcpu: 1 }],
        [
          { vcpu: 0, vector: 0x51 },
          { vcpu: 1, vector: 0x52 },
        ],
      ),
    );
    avicLoad(w, new ListSink(), 1, 0);
    assert.equal(val(w, 'irte0.IsRun'), false);
    assert.equal(val(w, 'irte1.IsRun'), true);
    assert.equal(val(w, 'irte1.dest'), 0);
    assert.equal(val(w, 'vcpu0.avic.IsRunning'), false);
  });
});
