import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EV, type EventKind, EXIT_REASON } from '../../src/model/platform/events.ts';
import { runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { CPU_TIME, CpuShares, LockTimes, Measurements, StepCounts } from '../../src/sim/measure.ts';

const CODE: Record<string, EventKind> = Object.fromEntries(
  Object.entries(EV).map(([k, v]) => [k.toLowerCase(), v as EventKind]),
);

/** Feeds the events of a built-in step-by-step scenario to a Measurements, 100 cycles per trace entry. */
function measureBuiltin(name: string): Measurements {
  const file = fileURLToPath(new URL(`../../src/scenarios/builtin/${name}.json`, import.meta.url));
  const sc = parseScenarioText(readFileSync(file, 'utf8'), name);
  const r = runScenario(sc);
  const m = new Measurements(sc.machine.vcpus.length);
  m.measuring = true;
  r.entries.forEach((e, i) => {
    m.now = 100 * i;
    for (const ev of e.events) m.ev(CODE[ev.kind], ev.a, ev.b, ev.c, ev.d);
  });
  return m;
}

test('a notification processed against the current VMCS counts as wrong-vCPU processing', () => {
  const m = measureBuiltin('notification-processed-against-current-vmcs');
  assert.equal(m.wrongVcpuProcessing, 1);
  assert.equal(m.postedInterruptProcessing, 1);
  assert.equal(m.notificationsSent[0xf2], 1);
});

test('a notification taken in root mode counts as kvm_posted_intr_ipis', () => {
  const m = measureBuiltin('notification-in-root-mode-is-host-irq');
  assert.equal(m.hostNotifications().kvm_posted_intr_ipis, 1);
  assert.equal(m.wrongVcpuProcessing, 0);
});

test('latency runs from the first posting to the guest handler; later postings coalesce', () => {
  const m = new Measurements(2);
  m.measuring = true;
  m.now = 1000;
  m.ev(EV.VTD_POST, 1, 0x41, 1, 0);
  m.now = 1500;
  m.ev(EV.VTD_POST, 1, 0x41, 0, 0);
  m.now = 1700;
  m.posted(0, 0x50);
  m.now = 4000;
  assert.equal(m.stranded(2500), 1);
  assert.equal(m.stranded(3000), 0);
  m.ev(EV.DELIVER, 1, 0x41, 0, 0);
  m.now = 5000;
  m.ev(EV.DELIVER, 0, 0x50, 0, 0);
  assert.equal(m.deliveries, 2);
  assert.equal(m.latency.count, 2);
  assert.equal(m.latency.min, 3000);
  assert.equal(m.latency.max, 3300);
  assert.equal(m.stranded(0), 0);
  // A delivery with no recorded posting (a vector pending at the start) is counted, not timed.
  m.ev(EV.DELIVER, 0, 0x60, 0, 0);
  assert.equal(m.deliveries, 3);
  assert.equal(m.latency.count, 2);
  // Host posted MSI names a pCPU (-1 - p): not a vCPU's posting.
  m.ev(EV.VTD_POST, -1, 0x41, 1, 0);
  assert.equal(m.stranded(-1), 0);
});

test('the warm-up keeps posting times but counts nothing', () => {
  const m = new Measurements(1);
  m.now = 10;
  m.ev(EV.VTD_POST, 0, 0x41, 1, 0);
  m.ev(EV.VMEXIT, 0, 0, EXIT_REASON.HLT, 0);
  m.ev(EV.PHYS_IRQ, 0, 0xf2, 1, 0);
  assert.deepEqual(m.exitsByReason(), {});
  assert.equal(m.notificationsSent[0xf2], 0);
  m.measuring = true;
  m.now = 110;
  m.ev(EV.DELIVER, 0, 0x41, 0, 0);
  assert.equal(m.latency.max, 100);
  m.ev(EV.VMEXIT, 0, 0, EXIT_REASON.EXTERNAL_INTERRUPT, 0xf2);
  m.ev(EV.VMEXIT, 0, 0, EXIT_REASON.AVIC_INCOMPLETE_IPI, 0);
  assert.deepEqual(m.exitsByReason(), { EXTERNAL_INTERRUPT: 1, AVIC_INCOMPLETE_IPI: 1 });
  m.ev(EV.PHYS_IRQ, 0, 0x31, 0, 0);
  assert.equal(
    m.notificationsSent.reduce((s, x) => s + x, 0),
    0,
  );
});

test('step counts sum by pattern', () => {
  const s = new StepCounts([
    'kvm_set_apicv_inhibit/down_write',
    'kvm_clear_apicv_inhibit/down_write',
    'x/up_write',
  ]);
  s.add(0);
  s.add(1);
  s.add(1);
  s.add(2);
  assert.equal(s.sum('*/down_write'), 3);
  assert.equal(s.sum('x/*'), 1);
  assert.equal(s.sum('nothing'), 0);
});

test('CPU shares add up to 1 per pCPU', () => {
  const c = new CpuShares(2);
  c.add(0, CPU_TIME.guest, 600);
  c.add(0, CPU_TIME.exitHandling, 300);
  c.add(0, CPU_TIME.host, 100);
  assert.deepEqual(c.shares(0), { guest: 0.6, exitHandling: 0.3, host: 0.1, idle: 0 });
  assert.ok(Number.isNaN(c.shares(1).guest));
});

test('lock hold and wait times: a waiter waits from its first block to its acquisition', () => {
  const l = new LockTimes(2);
  l.acquired(0, 100);
  l.blocked(1, 120);
  l.blocked(1, 150);
  l.released(0, 200);
  l.acquired(1, 210);
  l.released(1, 260);
  assert.equal(l.acquisitions, 2);
  assert.equal(l.hold.n, 2);
  assert.equal(l.hold.mean, 75);
  assert.equal(l.wait.mean, 45);
  // A release of a lock taken before the measurement began (in the warm-up) adds no hold time.
  l.released(1, 300);
  assert.equal(l.hold.n, 2);
});
