/**
 * One step vocabulary (src/scenarios/schema.ts STEP_KINDS): each kind is declared once, with one
 * meaning wherever it stands; `steps` (the script) and actors take their kinds from that list; a
 * scenario may have a script, actors, or both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkScenario, resolveVariant } from '../../src/check/session.ts';
import { runScenario } from '../../src/run/run.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import { actorStep, STEP_KINDS, step } from '../../src/scenarios/schema.ts';

type StepUnion = typeof step | typeof actorStep;

function kinds(u: StepUnion): Map<string, string | undefined> {
  return new Map(u.options.map((o) => [o.shape.do.value as string, o.description]));
}

function load(raw: object) {
  return parseScenarioText(JSON.stringify(raw), 'test.json');
}

function loadError(raw: object): string {
  try {
    load(raw);
  } catch (e) {
    return (e as Error).message;
  }
  return 'loaded';
}

const oneVcpuRunning = { pcpus: 2, vcpus: [{ pcpu: 1, running: true, autoEoi: true }] };

describe('step kinds', () => {
  test('each list holds exactly the kinds declared for it, in the declared order, with the one meaning', () => {
    const declared = Object.entries(STEP_KINDS);
    const script = kinds(step);
    const actor = kinds(actorStep);
    assert.deepEqual(
      [...script.keys()],
      declared.filter(([, k]) => 'script' in k).map(([name]) => name),
    );
    assert.deepEqual(
      [...actor.keys()],
      declared.filter(([, k]) => 'actor' in k).map(([name]) => name),
    );
    for (const [name, k] of declared) {
      if ('script' in k) assert.equal(script.get(name), k.meaning, name);
      if ('actor' in k) assert.equal(actor.get(name), k.meaning, name);
    }
    // The kinds both lists share, so that a change to this list is seen.
    assert.deepEqual(
      declared.filter(([, k]) => 'script' in k && 'actor' in k).map(([name]) => name),
      [
        'device.post',
        'guest.tpr',
        'guest.eoi',
        'guest.selfIpi',
        'guest.icr',
        'guest.sti',
        'guest.cli',
        'guest.hlt',
        'guest.iret',
        'guest.apicWrite',
        'guestIoapic.line',
        'guestIoapic.write',
        'guestIoapic.reg',
        'guestIoapic.mask',
      ],
    );
  });

  test('guest.hlt has HLT exiting by default in the script too: a VM exit with reason HLT (SDM Vol. 3C, Instructions That Cause VM Exits Conditionally)', () => {
    const sc = load({
      name: 'hlt-exit',
      description: 'HLT with HLT exiting',
      source: 'SDM Vol. 3C',
      machine: oneVcpuRunning,
      steps: [{ do: 'guest.hlt', vcpu: 0 }],
      expect: { exits: { '0': ['HLT'] }, state: { 'vcpu0.halted': false, 'pcpu1.mode': 0 } },
    });
    const r = runScenario(sc, 'test.json');
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok).map((e) => `${e.what}: ${e.actual}`),
      [],
    );
  });

  test('guest.hlt without HLT exiting halts the guest in guest mode (SDM Vol. 3C, activity state HLT)', () => {
    const sc = load({
      name: 'hlt-in-guest',
      description: 'HLT without HLT exiting',
      source: 'SDM Vol. 3C',
      machine: oneVcpuRunning,
      steps: [{ do: 'guest.hlt', vcpu: 0, exiting: false }],
      expect: { exits: { '0': [] }, state: { 'vcpu0.halted': true, 'pcpu1.mode': 1 } },
    });
    const r = runScenario(sc, 'test.json');
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok).map((e) => `${e.what}: ${e.actual}`),
      [],
    );
  });

  test('an actor cannot halt without HLT exiting, and says where that step belongs', () => {
    assert.equal(
      loadError({
        name: 'a',
        description: 'd',
        source: 's',
        machine: oneVcpuRunning,
        actors: [{ name: 'v0', vcpu: 0, steps: [{ do: 'guest.hlt', exiting: false }] }],
      }),
      'test.json: at actors[0].steps[0].exiting: an actor\'s guest.hlt has HLT exiting (KVM blocks the vCPU): "exiting": false is a step of "steps" (irqlab run)',
    );
  });

  // A script that posts 0x31 through VT-d and an actor that posts 0x41 in software (KVM's
  // vmx_deliver_posted_interrupt), to a vCPU that runs in guest mode and EOIs each vector at once:
  // each posting sets PIR and ON and notifies unless ON was set (VT-d 5.2.3; SDM 29.6), so both
  // vectors reach the guest in every order.
  const both = {
    name: 'script-and-actor',
    description: 'a script and an actor in one scenario',
    source: 'SDM Vol. 3C 29.2.2, 29.6; VT-d 5.2.3',
    machine: oneVcpuRunning,
    steps: [{ do: 'device.post', vcpu: 0, vector: '0x31', note: 'the script posts first' }],
    actors: [{ name: 'sender', steps: [{ do: 'kvm.deliver', vcpu: 0, vector: '0x41' }] }],
    expect: { delivered: { '0': ['0x31', '0x41'] } },
  };

  test('a scenario with a script and an actor runs: the script first, then the actor (the fixed rule)', () => {
    const r = runScenario(load(both), 'test.json');
    assert.deepEqual(
      r.expectations.filter((e) => !e.ok).map((e) => `${e.what}: ${e.actual}`),
      [],
    );
  });

  test('and checks: the script is one more actor among the others', () => {
    const sc = load(both);
    const r = checkScenario(sc, resolveVariant(sc, 'current'));
    assert.equal(r.verdict, 'holds');
    const dropped = load({ ...both, machine: { pcpus: 2, vcpus: [{ pcpu: 1, running: true }] } });
    // Without the guest's EOI, 0x31 posted with 0x41 stays below the in-service 0x41 for good.
    assert.equal(checkScenario(dropped, resolveVariant(dropped, 'current')).verdict, 'violated');
  });
});
