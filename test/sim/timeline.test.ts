/**
 * The timeline export: the file parses as Chrome Trace Event JSON, every track is named, slices
 * nest, flows run from the posting through the notification and harvest to the guest handler with
 * each point inside a slice of its track, counters carry their series. The checks here are written
 * independently of timelineProblems, which the last test exercises on broken timelines.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { loadCostTable } from '../../src/cli/costs.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { resolveVariant } from '../../src/scenarios/variants.ts';
import { runExperiment } from '../../src/sim/experiment.ts';
import { Timeline, type TraceEvent, timelineProblems } from '../../src/sim/timeline.ts';

const GHZ = 2.5;

/** Two postings to vCPU 1: one while it runs (posted-interrupt processing), one while it is in root mode (harvested by vmx_sync_pir_to_irr). */
function example(): Timeline {
  const tl = new Timeline(GHZ);
  const iommu = tl.track('iommu', 0);
  const p1 = tl.track('pcpu', 1);
  const v1 = tl.track('vcpu', 1);
  // Flow 1: IOMMU posts at 1000, the notification is processed at 1400, the handler runs at 1700.
  tl.slice(iommu, 'VT-d post 0x41', 'hw', 1000, 125);
  tl.flow('start', 1, iommu, 1050);
  tl.counter('vcpu', 'PIR population', 1125, { vcpu1: 1 });
  tl.begin(p1, 'guest vcpu1', 'guest', 0);
  tl.slice(p1, 'posted-interrupt processing', 'hw', 1400, 200);
  tl.flow('step', 1, p1, 1500);
  tl.counter('vcpu', 'PIR population', 1600, { vcpu1: 0 });
  tl.slice(v1, 'handler 0x41', 'guest', 1700, 300);
  tl.flow('end', 1, v1, 1700);
  tl.end(p1, 5000);
  // Flow 2: posted at 6000 while vCPU 1 handles an exit; the harvest at 6500 and entry, handler at 8000.
  tl.begin(p1, 'exit handling', 'host', 5000);
  tl.slice(iommu, 'VT-d post 0x42', 'hw', 6000, 125);
  tl.flow('start', 2, iommu, 6100);
  tl.slice(p1, 'vmx_sync_pir_to_irr', 'kvm', 6500, 300);
  tl.slice(p1, 'xchg(pir[1])', 'kvm', 6600, 125);
  tl.flow('step', 2, p1, 6650);
  tl.end(p1, 7000);
  tl.counter('vcpu', 'APICv inhibits', 7000, { PIT_REINJ: 1, IRQWIN: 0 });
  tl.begin(p1, 'guest vcpu1', 'guest', 7000);
  tl.slice(v1, 'handler 0x42', 'guest', 8000, 300);
  tl.flow('end', 2, v1, 8100);
  tl.end(p1, 9000);
  tl.instant(p1, 'kick', 'host', 8500);
  return tl;
}

test('the file is Trace Event JSON with named tracks and microsecond timestamps', () => {
  const doc = JSON.parse(JSON.stringify(example().toJSON({ seed: 1 })));
  assert.ok(Array.isArray(doc.traceEvents));
  assert.equal(doc.displayTimeUnit, 'ns');
  assert.deepEqual(doc.otherData, { seed: 1 });
  const evs: TraceEvent[] = doc.traceEvents;
  for (const e of evs) {
    assert.ok(['X', 'B', 'E', 's', 't', 'f', 'C', 'i', 'M'].includes(e.ph), e.ph);
    assert.equal(typeof e.ts, 'number');
    assert.equal(typeof e.pid, 'number');
  }
  const names = new Map<string, string>();
  for (const e of evs)
    if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}/${e.tid}`, String(e.args?.name));
  const procs = new Set(evs.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.pid));
  for (const e of evs) {
    if (e.ph === 'M' || e.ph === 'C') continue;
    assert.ok(names.has(`${e.pid}/${e.tid}`), `track ${e.pid}/${e.tid} has no thread_name`);
    assert.ok(procs.has(e.pid));
  }
  assert.deepEqual([...names.values()].sort(), ['iommu0', 'pcpu1', 'vcpu1']);
  // 1000 cycles at 2.5 GHz is 0.4 us; 125 cycles is 0.05 us.
  const post = evs.find((e) => e.name === 'VT-d post 0x41')!;
  assert.equal(post.ts, 0.4);
  assert.equal(post.dur, 0.05);
  const c = evs.filter((e) => e.ph === 'C' && e.name === 'PIR population');
  assert.deepEqual(
    c.map((e) => e.args),
    [{ vcpu1: 1 }, { vcpu1: 0 }],
  );
});

test('slices nest on every track and each flow runs posting -> notification or harvest -> handler', () => {
  const evs: TraceEvent[] = JSON.parse(JSON.stringify(example().toJSON())).traceEvents;
  // Intervals per track, B/E paired with a stack.
  const iv = new Map<string, [number, number, string][]>();
  const st = new Map<string, TraceEvent[]>();
  for (const e of evs) {
    const k = `${e.pid}/${e.tid}`;
    if (e.ph === 'X') iv.set(k, [...(iv.get(k) ?? []), [e.ts, e.ts + (e.dur ?? 0), e.name]]);
    if (e.ph === 'B') st.set(k, [...(st.get(k) ?? []), e]);
    if (e.ph === 'E') {
      const b = st.get(k)!.pop()!;
      assert.equal(b.name, e.name);
      iv.set(k, [...(iv.get(k) ?? []), [b.ts, e.ts, b.name]]);
    }
  }
  for (const [k, list] of iv)
    for (const a of list)
      for (const b of list) {
        const disjoint = a[1] <= b[0] || b[1] <= a[0];
        const aInB = b[0] <= a[0] && a[1] <= b[1];
        const bInA = a[0] <= b[0] && b[1] <= a[1];
        assert.ok(disjoint || aInB || bInA, `${k}: ${a[2]} and ${b[2]} overlap without nesting`);
      }
  const flows = new Map<number, TraceEvent[]>();
  for (const e of evs)
    if ('id' in e && ['s', 't', 'f'].includes(e.ph)) flows.set(e.id!, [...(flows.get(e.id!) ?? []), e]);
  assert.deepEqual([...flows.keys()].sort(), [1, 2]);
  const trackName = (e: TraceEvent) =>
    String(
      evs.find((m) => m.ph === 'M' && m.name === 'thread_name' && m.pid === e.pid && m.tid === e.tid)!.args!
        .name,
    );
  for (const [id, pts] of flows) {
    assert.deepEqual(
      pts.map((p) => p.ph),
      ['s', 't', 'f'],
      `flow ${id}`,
    );
    assert.deepEqual(pts.map(trackName), ['iommu0', 'pcpu1', 'vcpu1']);
    assert.equal(pts[2].bp, 'e');
    for (let i = 1; i < pts.length; i++) assert.ok(pts[i].ts >= pts[i - 1].ts);
    for (const p of pts) {
      const enclosing = (iv.get(`${p.pid}/${p.tid}`) ?? []).filter(([b, e]) => b <= p.ts && p.ts <= e);
      assert.ok(enclosing.length > 0, `flow ${id} ${p.ph} is not inside a slice`);
    }
  }
  // The harvest step of flow 2 binds inside the xchg, which nests in the sync, inside exit handling.
  const step2 = flows.get(2)![1];
  const around = iv
    .get(`${step2.pid}/${step2.tid}`)!
    .filter(([b, e]) => b <= step2.ts && step2.ts <= e)
    .map((x) => x[2])
    .sort();
  assert.deepEqual(around, ['exit handling', 'vmx_sync_pir_to_irr', 'xchg(pir[1])']);
});

test('the same calls give the same bytes', () => {
  assert.equal(JSON.stringify(example().toJSON()), JSON.stringify(example().toJSON()));
});

test('broken timelines are refused: overlap, unpaired, flow outside a slice, flow out of order', () => {
  const overlap = new Timeline(1);
  const t = overlap.track('pcpu', 0);
  overlap.slice(t, 'a', 'x', 0, 10);
  overlap.slice(t, 'b', 'x', 5, 10);
  assert.throws(() => overlap.toJSON(), /b \[.*\] overlaps a .* without nesting/);

  const unclosed = new Timeline(1);
  unclosed.begin(unclosed.track('vcpu', 0), 'guest', 'g', 0);
  assert.throws(() => unclosed.toJSON(), /never ends/);
  assert.throws(() => new Timeline(1).end(new Timeline(1).track('vcpu', 0), 5), /no open slice/);

  const outside = new Timeline(1);
  const o = outside.track('iommu', 0);
  outside.slice(o, 'post', 'hw', 0, 10);
  outside.flow('start', 7, o, 20);
  outside.flow('end', 7, o, 5);
  assert.throws(() => outside.toJSON(), /flow 7 point s at .* is not inside a slice/);
  const x: TraceEvent = { name: 'x', ph: 'X', ts: 0, dur: 10, pid: 1, tid: 1 };
  assert.deepEqual(
    timelineProblems([
      x,
      { name: 'i', ph: 's', ts: 4, pid: 1, tid: 1, id: 3 },
      { name: 'i', ph: 'f', ts: 2, pid: 1, tid: 1, id: 3, bp: 'e' },
    ]),
    ['flow 3 goes back in time at point 1'],
  );
  assert.deepEqual(
    timelineProblems([
      x,
      { name: 'i', ph: 'f', ts: 2, pid: 1, tid: 1, id: 4, bp: 'e' },
      { name: 'i', ph: 's', ts: 4, pid: 1, tid: 1, id: 4 },
    ]),
    ['flow 4 runs fs, not start, steps, end'],
  );
  // A vector still waiting for its handler when the run ends: start and steps, no end.
  assert.deepEqual(
    timelineProblems([
      x,
      { name: 'i', ph: 's', ts: 4, pid: 1, tid: 1, id: 5 },
      { name: 'i', ph: 't', ts: 6, pid: 1, tid: 1, id: 5 },
    ]),
    [],
  );
  assert.deepEqual(timelineProblems([x, { name: 'x', ph: 'E', ts: 3, pid: 1, tid: 1 }]), [
    'E at 3 on 1/1 without a B',
  ]);
});

test('a timeline that fills up stops between steps: every prefix is a valid file, and it says where it stopped', () => {
  // Whatever the limit, the simulator's timeline must stay a file Perfetto can open: slices
  // nested, every flow point inside its step's slice (a flow may lack its end), pCPU slices closed.
  const sc = loadScenario('sim-001-overcommit').scenario;
  const v = resolveVariant(sc, 'before');
  fc.assert(
    fc.property(fc.integer({ min: 10, max: 1000 }), (limit) => {
      let tl: Timeline | undefined;
      runExperiment(
        sc,
        [v],
        {
          costs: loadCostTable('intel-skylake-sp'),
          seed: 3,
          replications: 2,
          durationNs: 5_000_000,
          warmupNs: 0,
          scenarioHash: () => 'x',
          timelineFor: () => {
            tl = new Timeline(GHZ, limit);
            return tl;
          },
        },
        'test',
      );
      const doc = tl!.toJSON();
      assert.deepEqual(timelineProblems(doc.traceEvents), []);
      // It stops at the first step boundary after the limit: a step adds a handful of events.
      assert.ok(
        doc.traceEvents.length >= limit && doc.traceEvents.length < limit + 64,
        `${doc.traceEvents.length}`,
      );
      assert.equal(doc.otherData.maxEvents, limit);
      assert.ok(typeof doc.otherData.stoppedAtUs === 'number' && doc.otherData.stoppedAtUs <= 5000);
    }),
    { numRuns: 8, seed: 5 },
  );
});
