/**
 * KVM's emulated I/O APIC under `irqlab check` (decision 0240): the built-in
 * guest-ioapic-level-eoi-race, explored in every interleaving of a device holding a level line
 * asserted (kvm_ioapic_set_irq), vcpu0's EOI of the vector (an EOI-induced exit whose handler
 * broadcasts the EOI to the I/O APIC, kvm_ioapic_update_eoi) and vcpu1 retargeting the entry
 * (ioapic_write_indirect). Expectations from KVM's ioapic.c and the 82093AA rules it follows:
 * - a line still asserted at an EOI is serviced again (kvm_ioapic_update_eoi; kvm-unit-tests
 *   ioapic.c test_ioapic_level_retrigger), so with the line held Remote IRR is set at the end and
 *   the vector is outstanding (pending or in service) in exactly one vCPU;
 * - a rewrite keeps Remote IRR of a level entry, and the vCPU that has the vector in service keeps
 *   it in its EOI-exit bitmap after the rescan (kvm_ioapic_scan_entry, kvm_apic_pending_eoi;
 *   test_ioapic_self_reconfigure), so whoever holds it will EOI to the I/O APIC: Remote IRR never
 *   stays set with nobody to clear it;
 * - the re-sent interrupt goes where the entry points at the time of the EOI (ioapic_service reads
 *   the entry under ioapic->lock), so some interleaving delivers it to both vCPUs.
 * The race must really happen: an EOI-induced exit of vcpu0 handled after the entry moved.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckModel } from '../../src/check/explorer.ts';
import { checkScenario, resolveVariant } from '../../src/check/session.ts';
import { regSet, regTest } from '../../src/model/hw/bits.ts';
import { encodeRedirEntry, IOAPIC, ioapicReadEntry, ioapicWriteRedir } from '../../src/model/hw/ioapic.ts';
import { PID } from '../../src/model/hw/pid.ts';
import { VAPIC } from '../../src/model/hw/vapic.ts';
import { GUEST_IOAPIC_BLOCK, guestIoapicScan, IOAPIC_EOI_BLOCK } from '../../src/model/kvm/guest-ioapic.ts';
import { EV, EXIT_REASON, type Sink } from '../../src/model/platform/events.ts';
import type { Layout } from '../../src/model/platform/layout.ts';
import { VCPU } from '../../src/model/platform/layout.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { check, withEndCheck } from './support.ts';

const NAME = 'guest-ioapic-level-eoi-race';
const PIN = 14;
const VECTOR = 0x9a;

/** Whether vCPU x still holds VECTOR: in service, requested, or posted and not yet synced. */
function outstanding(L: Layout, s: Uint32Array, x: number): boolean {
  return (
    regTest(s, L.vapic[x] + VAPIC.VISR, VECTOR) ||
    regTest(s, L.vapic[x] + VAPIC.VIRR, VECTOR) ||
    regTest(s, L.pid[x] + PID.PIR, VECTOR)
  );
}

describe("KVM's emulated I/O APIC: a held level line, an EOI and a retarget in every order (check)", () => {
  const { scenario } = loadScenario(NAME);
  const { variant } = resolveVariant(scenario, 'current');

  test('the scenario holds: no lost interrupt, no stuck PIR', () => {
    const r = checkScenario(scenario, { name: 'current', variant });
    assert.equal(r.verdict, 'holds');
  });

  test('every end state: Remote IRR set, the vector outstanding in exactly one vCPU, whose EOI exits to the I/O APIC', () => {
    const m = buildModel(scenario, variant);
    const L = m.w.L;
    const io = L.extra.get(GUEST_IOAPIC_BLOCK)!;
    const eoi = L.extra.get(IOAPIC_EOI_BLOCK)!;
    const seen = {
      eoiAfterRetarget: false,
      both: false,
      onlyVcpu1: false,
      eoiExits: 0,
      ends: 0,
      bad: [] as string[],
    };
    const sink: Sink = {
      ev(kind, a, _b, c) {
        if (kind === EV.VMEXIT && a === 0 && c === EXIT_REASON.EOI_INDUCED) seen.eoiExits++;
      },
    };
    const model: CheckModel = {
      words: m.words,
      maxActions: m.maxActions,
      init: (s) => m.init(s),
      enabled: (s, out) => m.enabled(s, out),
      step: (s, a) => m.step(s, a, sink),
      invariant: (s) => {
        // vcpu0's EOI-induced exit waits for its handler while the entry already names vcpu1.
        if (s[eoi + 0] !== 0 && ioapicReadEntry(s, io, PIN).dest === 1) seen.eoiAfterRetarget = true;
        return m.invariant(s);
      },
      terminal: (s) => {
        seen.ends++;
        const base = m.terminal(s);
        if (base !== 0) return base;
        const e = ioapicReadEntry(s, io, PIN);
        const holders = [0, 1].filter((x) => outstanding(L, s, x));
        const problems: string[] = [];
        if (((s[io + IOAPIC.LINES] >>> PIN) & 1) !== 1) problems.push('line not asserted');
        if (e.remoteIrr !== 1) problems.push('Remote IRR clear with the line asserted');
        if (e.dest !== 1) problems.push('the rewrite did not land');
        if (holders.length !== 1) problems.push(`outstanding in ${holders.length} vCPUs`);
        for (const x of holders)
          if (!regTest(s, L.vapic[x] + VAPIC.EOI_EXIT, VECTOR)) problems.push(`vcpu${x} EOI would not exit`);
        if (s[eoi + 0] !== 0 || s[eoi + 1] !== 0) problems.push('an EOI-induced exit never handled');
        const d0 = regTest(s, L.vcpu[0] + VCPU.DELIVERED, VECTOR);
        const d1 = regTest(s, L.vcpu[1] + VCPU.DELIVERED, VECTOR);
        if (!d0 && !d1) problems.push('never delivered');
        if (d0 && d1) seen.both = true;
        if (!d0 && d1) seen.onlyVcpu1 = true;
        if (problems.length > 0) seen.bad.push(problems.join(', '));
        return problems.length === 0 ? 0 : 1000;
      },
    };
    const e = check(model);
    assert.deepEqual(seen.bad, []);
    assert.deepEqual(e.outcome, { kind: 'holds' });
    assert.ok(seen.ends > 0);
    assert.ok(seen.eoiExits > 0, 'vcpu0 never EOI-exits');
    assert.ok(seen.eoiAfterRetarget, 'no interleaving handles the EOI after the entry moved to vcpu1');
    assert.ok(seen.both, 'no interleaving re-sends the still-asserted line to vcpu1 after vcpu0 EOIs');
    assert.ok(seen.onlyVcpu1, 'no interleaving asserts the line after the retarget');
  });

  test('the rescan after a retarget keeps the old target bit while the vector is still in its PIR (vcpu_scan_ioapic syncs PIR before kvm_ioapic_scan_entry), and only then', () => {
    const m = buildModel(scenario, variant);
    const w = m.w;
    const io = w.L.extra.get(GUEST_IOAPIC_BLOCK)!;
    for (const inPir of [true, false]) {
      const s = new Uint32Array(m.words);
      m.init(s);
      w.m = s;
      if (inPir) regSet(s, w.L.pid[0] + PID.PIR, VECTOR);
      const e = encodeRedirEntry({ ...ioapicReadEntry(s, io, PIN), dest: 1 });
      ioapicWriteRedir(s, io, PIN, e.lo, e.hi);
      guestIoapicScan(w);
      assert.equal(
        regTest(s, w.L.vapic[0] + VAPIC.EOI_EXIT, VECTOR),
        inPir,
        `vcpu0, vector in PIR: ${inPir}`,
      );
      assert.equal(regTest(s, w.L.vapic[1] + VAPIC.EOI_EXIT, VECTOR), true, 'vcpu1, the new target');
    }
  });

  test('a host mask and unmask racing with the held line and the EOI: the unmasked level line is outstanding at the end (82093AA: an asserted level input sends when unmasked)', () => {
    const sc = parseScenarioText(
      JSON.stringify({
        name: 'mask-race',
        description: 'mask, unmask, EOI, held line',
        source: 'KVM ioapic.c',
        machine: scenario.machine,
        actors: [
          { name: 'device', steps: [{ do: 'guestIoapic.line', pin: PIN, level: true }] },
          {
            name: 'host',
            steps: [
              { do: 'guestIoapic.mask', pin: PIN, masked: true },
              { do: 'guestIoapic.mask', pin: PIN, masked: false },
            ],
          },
          { name: 'vcpu0', vcpu: 0, steps: [{ do: 'guest.eoi' }] },
          { name: 'vcpu1', vcpu: 1, steps: [] },
        ],
        properties: ['no-lost-interrupt', 'no-stuck-pir'],
      }),
      'mask-race.json',
    );
    const m = buildModel(sc, variant);
    const L = m.w.L;
    const io = L.extra.get(GUEST_IOAPIC_BLOCK)!;
    const bad: string[] = [];
    const { model, ends } = withEndCheck(m, (s) => {
      const entry = ioapicReadEntry(s, io, PIN);
      const held = outstanding(L, s, 0);
      const ok =
        entry.mask === 0 && entry.remoteIrr === 1 && held && regTest(s, L.vapic[0] + VAPIC.EOI_EXIT, VECTOR);
      if (!ok) bad.push(`mask ${entry.mask} remoteIRR ${entry.remoteIrr} outstanding ${held}`);
      return ok;
    });
    const e = check(model);
    assert.deepEqual(bad, []);
    assert.deepEqual(e.outcome, { kind: 'holds' });
    assert.ok(ends.count > 0);
  });

  test('the same retarget through IOREGSEL/IOWIN (guestIoapic.reg in an actor): the ends as with guestIoapic.write; the ID written and the version read (82093AA: ID bits 27:24, IOAPICVER 170011H)', () => {
    const sc = parseScenarioText(
      JSON.stringify({
        ...scenario,
        name: 'reg-race',
        actors: [
          scenario.actors![0],
          scenario.actors![1],
          {
            name: 'vcpu1',
            vcpu: 1,
            steps: [
              { do: 'guestIoapic.reg', index: 0, write: 0x05000000 },
              { do: 'guestIoapic.reg', index: 0x10 + 2 * PIN + 1, write: 0x01000000 },
              { do: 'guestIoapic.reg', index: 1 },
            ],
          },
        ],
      }),
      'reg-race.json',
    );
    const m = buildModel(sc, variant);
    const L = m.w.L;
    const io = L.extra.get(GUEST_IOAPIC_BLOCK)!;
    const bad: string[] = [];
    const { model, ends } = withEndCheck(m, (s) => {
      const entry = ioapicReadEntry(s, io, PIN);
      const holders = [0, 1].filter((x) => outstanding(L, s, x));
      const ok =
        entry.dest === 1 &&
        entry.remoteIrr === 1 &&
        holders.length === 1 &&
        regTest(s, L.vapic[holders[0]] + VAPIC.EOI_EXIT, VECTOR) &&
        s[io + IOAPIC.ID] === 5 &&
        s[io + IOAPIC.SIZE] === 0x00170011;
      if (!ok)
        bad.push(
          `dest ${entry.dest} remoteIRR ${entry.remoteIrr} holders ${holders} read ${s[io + IOAPIC.SIZE]}`,
        );
      return ok;
    });
    const e = check(model);
    assert.deepEqual(bad, []);
    assert.deepEqual(e.outcome, { kind: 'holds' });
    assert.ok(ends.count > 0);
  });

  test('an actor guestIoapic.write needs its vCPU; a pin an actor names must be programmed', () => {
    const base = JSON.parse(JSON.stringify(scenario));
    const noVcpu = {
      ...base,
      actors: [{ name: 'w', steps: [{ do: 'guestIoapic.write', pin: PIN, dest: 1 }] }],
    };
    assert.throws(
      () => parseScenarioText(JSON.stringify(noVcpu), 'x.json'),
      /guestIoapic\.write needs the actor's vcpu/,
    );
    const badPin = {
      ...base,
      actors: [{ name: 'd', steps: [{ do: 'guestIoapic.line', pin: 3, level: true }] }],
    };
    assert.throws(
      () => parseScenarioText(JSON.stringify(badPin), 'x.json'),
      /pin 3 is not programmed in machine\.guestIoapic/,
    );
  });
});
