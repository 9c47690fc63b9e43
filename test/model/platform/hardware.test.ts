/**
 * The system layer's steps on a World: which VMCS is current at the start, what a VM exit does to
 * the pCPUs, and the guest's APIC writes without virtual-interrupt delivery (`apicv` off).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { regVectors } from '../../../src/model/hw/bits.ts';
import { VAPIC, VAPIC_F_RECOGNIZED } from '../../../src/model/hw/vapic.ts';
import { EVENT_NAMES, type EventKind, EXIT_REASON, type Sink } from '../../../src/model/platform/events.ts';
import {
  guestEoi,
  guestSelfIpi,
  guestWriteIcr,
  guestWriteTpr,
  vmExit,
} from '../../../src/model/platform/hardware.ts';
import { PCPU, PCPU_MODE_GUEST, PCPU_MODE_ROOT, VCPU } from '../../../src/model/platform/layout.ts';
import type { Machine, VcpuConfig } from '../../../src/model/platform/machine.ts';
import { initWorld, runningVcpu, vcpuRunningOn, type World } from '../../../src/model/platform/world.ts';
import { vcpu } from './support.ts';

function machine(vcpus: Partial<VcpuConfig>[], more: Partial<Machine> = {}): Machine {
  return {
    pcpus: 2,
    x2apic: true,
    features: { apicv: true, vtdPosting: true, ipiv: false, avic: false },
    vcpus: vcpus.map((c, i) => vcpu(c, i)),
    irtes: [],
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
}

const vmcsOf = (w: World, p: number) => w.m[w.L.pcpu[p] + PCPU.VMCS] - 1;
const modeOf = (w: World, p: number) => w.m[w.L.pcpu[p] + PCPU.MODE];
const loadedOn = (w: World, x: number) => w.m[w.L.vcpu[x] + VCPU.PCPU] - 1;

describe('initWorld: the VMCS current on each pCPU', () => {
  test('the running vCPU is current on its pCPU whether it is listed first or last', () => {
    for (const order of [
      [{ pcpu: 0, running: true }, { pcpu: 0 }],
      [{ pcpu: 0 }, { pcpu: 0, running: true }],
    ]) {
      const w = initWorld(machine(order));
      const r = order.findIndex((c) => c.running);
      const other = 1 - r;
      assert.equal(vmcsOf(w, 0), r, JSON.stringify(order));
      assert.equal(modeOf(w, 0), PCPU_MODE_GUEST);
      assert.equal(runningVcpu(w, 0), r);
      assert.equal(vcpuRunningOn(w, r), 0);
      // The other vCPU is loaded there too, and only that: it does not run.
      assert.equal(loadedOn(w, other), 0);
      assert.equal(vcpuRunningOn(w, other), -1);
    }
  });

  test('any order of vCPUs loaded on one pCPU: the running one is current, else the last listed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.option(fc.nat(), { nil: undefined }), (n, pick) => {
        const running = pick === undefined ? -1 : pick % n;
        const w = initWorld(
          machine(Array.from({ length: n }, (_, i) => ({ pcpu: 0, running: i === running }))),
        );
        assert.equal(vmcsOf(w, 0), running >= 0 ? running : n - 1);
        assert.equal(runningVcpu(w, 0), running);
        for (let x = 0; x < n; x++) assert.equal(loadedOn(w, x), 0);
      }),
    );
  });

  test('a running vCPU listed first still has its pending virtual interrupts evaluated at the start', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true, virr: [0x41] }, { pcpu: 0 }]));
    assert.ok((w.m[w.L.vapic[0] + VAPIC.FLAGS] & VAPIC_F_RECOGNIZED) !== 0);
  });
});

describe('vmExit', () => {
  test('of the running vCPU: its pCPU returns to root mode, the VMCS stays current', () => {
    const w = initWorld(machine([{ pcpu: 0, running: true }]));
    const sink = new ListSink();
    vmExit(w, sink, 0, EXIT_REASON.HLT, 0);
    assert.equal(modeOf(w, 0), PCPU_MODE_ROOT);
    assert.equal(vmcsOf(w, 0), 0);
    assert.deepEqual(sink.events, [{ kind: 'vmexit', a: 0, b: 0, c: EXIT_REASON.HLT, d: 0 }]);
  });

  test('of a vCPU that is only loaded: the vCPU running on that pCPU goes on running', () => {
    for (const order of [
      [{ pcpu: 0, running: true }, { pcpu: 0 }],
      [{ pcpu: 0 }, { pcpu: 0, running: true }],
    ]) {
      const w = initWorld(machine(order));
      const r = order.findIndex((c) => c.running);
      const before = w.m.slice();
      const sink = new ListSink();
      vmExit(w, sink, 1 - r, EXIT_REASON.HLT, 0);
      assert.deepEqual(w.m, before, 'nothing changes');
      assert.equal(runningVcpu(w, 0), r);
      assert.deepEqual(sink.events, [{ kind: 'vmexit', a: 1 - r, b: -1, c: EXIT_REASON.HLT, d: 0 }]);
    }
  });

  test('of a vCPU loaded nowhere, or in root mode: no pCPU changes', () => {
    const w = initWorld(machine([{ pcpu: 1 }, {}]));
    const before = w.m.slice();
    vmExit(w, new ListSink(), 0, EXIT_REASON.HLT, 0);
    vmExit(w, new ListSink(), 1, EXIT_REASON.HLT, 0);
    assert.deepEqual(w.m, before);
  });
});

/** A running vCPU 0 on pCPU 0, with or without APICv, in x2APIC or xAPIC mode. */
function guest(apicv: boolean, x2apic: boolean): World {
  return initWorld(
    machine([{ pcpu: 0, running: true }], {
      x2apic,
      features: { apicv, vtdPosting: true, ipiv: false, avic: false },
    }),
  );
}

const exitsOf = (s: ListSink) => s.events.filter((e) => e.kind === 'vmexit').map((e) => [e.c, e.d]);

describe('guest APIC writes without APICv (no virtual-interrupt delivery)', () => {
  for (const x2apic of [true, false]) {
    const mode = x2apic ? 'x2APIC' : 'xAPIC';
    test(`${mode}: SELF IPI is not virtualized: it exits and vIRR, RVI and posted stay clear`, () => {
      const w = guest(false, x2apic);
      const sink = new ListSink();
      guestSelfIpi(w, sink, 0, 0x31);
      assert.deepEqual(exitsOf(sink), [
        x2apic ? [EXIT_REASON.MSR_WRITE, 0x83f] : [EXIT_REASON.APIC_WRITE, 0x3f0],
      ]);
      assert.deepEqual(regVectors(w.m, w.L.vapic[0] + VAPIC.VIRR), []);
      assert.equal(w.m[w.L.vapic[0] + VAPIC.RVI], 0);
      assert.deepEqual(regVectors(w.m, w.L.vcpu[0] + VCPU.POSTED), []);
      assert.ok(!sink.events.some((e) => e.kind === 'self_ipi'));
      assert.equal(modeOf(w, 0), PCPU_MODE_ROOT);
    });

    test(`${mode}: EOI is not virtualized: it exits and vISR and SVI are left alone`, () => {
      const w = guest(false, x2apic);
      w.m[w.L.vapic[0] + VAPIC.VISR + 1] = 1; // vISR[0x20], as if a handler were in service
      w.m[w.L.vapic[0] + VAPIC.SVI] = 0x20;
      const sink = new ListSink();
      guestEoi(w, sink, 0);
      assert.deepEqual(exitsOf(sink), [
        x2apic ? [EXIT_REASON.MSR_WRITE, 0x80b] : [EXIT_REASON.APIC_WRITE, 0xb0],
      ]);
      assert.ok(!sink.events.some((e) => e.kind === 'eoi'));
      assert.deepEqual(regVectors(w.m, w.L.vapic[0] + VAPIC.VISR), [0x20]);
      assert.equal(w.m[w.L.vapic[0] + VAPIC.SVI], 0x20);
      assert.equal(modeOf(w, 0), PCPU_MODE_ROOT);
    });
  }

  test('the x2APIC SELF IPI write exits like an ICR write with shorthand self does', () => {
    const a = guest(false, true);
    const b = guest(false, true);
    const sa = new ListSink();
    const sb = new ListSink();
    guestSelfIpi(a, sa, 0, 0x31);
    guestWriteIcr(b, sb, 0, {
      vector: 0x31,
      deliveryMode: 0,
      logical: false,
      levelTriggered: false,
      shorthand: 1,
      dest: 0,
    });
    assert.deepEqual(
      exitsOf(sa).map(([r]) => r),
      exitsOf(sb).map(([r]) => r),
    );
  });

  test('TPR: only VTPR changes (no PPR virtualization, no evaluation), no exit at threshold 0', () => {
    const w = guest(false, true);
    const v = w.L.vapic[0];
    const sink = new ListSink();
    guestWriteTpr(w, sink, 0, 0x50);
    assert.equal(w.m[v + VAPIC.VTPR], 0x50);
    assert.equal(w.m[v + VAPIC.VPPR], 0);
    assert.deepEqual(exitsOf(sink), []);
    assert.equal(modeOf(w, 0), PCPU_MODE_GUEST);
  });

  test('TPR: a class below the TPR threshold is a TPR-below-threshold exit', () => {
    const w = guest(false, true);
    w.m[w.L.vapic[0] + VAPIC.TPR_THRESHOLD] = 3;
    const sink = new ListSink();
    guestWriteTpr(w, sink, 0, 0x40);
    assert.deepEqual(exitsOf(sink), []);
    guestWriteTpr(w, sink, 0, 0x2f);
    assert.deepEqual(exitsOf(sink), [[EXIT_REASON.TPR_BELOW_THRESHOLD, 0]]);
    assert.equal(modeOf(w, 0), PCPU_MODE_ROOT);
  });

  test('with APICv the same writes are virtualized without an exit', () => {
    const w = guest(true, true);
    const sink = new ListSink();
    guestSelfIpi(w, sink, 0, 0x31);
    guestWriteTpr(w, sink, 0, 0x10);
    assert.deepEqual(exitsOf(sink), []);
    assert.deepEqual(regVectors(w.m, w.L.vapic[0] + VAPIC.VIRR), [0x31]);
  });
});

describe('guest ICR self IPI with APICv (SDM x.5, x.4.3.3; issue 13)', () => {
  const selfIcr = {
    vector: 0x31,
    deliveryMode: 0,
    logical: false,
    levelTriggered: false,
    shorthand: 1,
    dest: 0,
  };
  test('x2APIC without IPIv: WRMSR 830H is not virtualized, even for shorthand self: MSR-write exit, vIRR clear', () => {
    const w = guest(true, true);
    const sink = new ListSink();
    guestWriteIcr(w, sink, 0, selfIcr);
    assert.deepEqual(exitsOf(sink), [[EXIT_REASON.MSR_WRITE, 0x830]]);
    assert.deepEqual(regVectors(w.m, w.L.vapic[0] + VAPIC.VIRR), []);
  });
  test('xAPIC: the write to 300H goes through APIC-write emulation: self-IPI virtualization, no exit', () => {
    const w = guest(true, false);
    const sink = new ListSink();
    guestWriteIcr(w, sink, 0, selfIcr);
    assert.deepEqual(exitsOf(sink), []);
    assert.deepEqual(regVectors(w.m, w.L.vapic[0] + VAPIC.VIRR), [0x31]);
  });
});
