import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { checkWorkloadMachine, parseScenarioText, parseWorkload } from '../../src/scenarios/loader.ts';

const FULL = `
duration: 10ms
warmup: 1ms
devices:
  - { name: nic, rate: 20kHz, vector: "0x41", vcpu: 1 }
  - { rate: 1MHz, arrivals: bursty, on: 200us, off: 800us, vector: "0x42", vcpu: 0 }
  - { rate: 1000, arrivals: periodic, jitter: 5us, vector: "0x43", delivery: posted-msi, pcpu: 0 }
ipis:
  - { rate: 50kHz, vector: "0xf0", pattern: single, from: 0, to: 1 }
  - { rate: 5000/s, vector: "0xf1", pattern: broadcast }
halts:
  - { vcpu: all, busy: 50us, idle: 200us, guestPoll: 10us, hostPoll: 200us }
overcommit: { vcpusPerPcpu: 2, timeSlice: 3ms, migration: 10Hz, userspaceExits: 1kHz }
pit: { rate: 1kHz, reinject: true, vcpu: 0, window: 2us }
`;

function errorOf(text: string): string {
  try {
    parseWorkload(text, 'w.yaml');
  } catch (e) {
    assert.ok(e instanceof UserError);
    assert.ok(!e.message.includes('\n'));
    return e.message;
  }
  assert.fail('no error');
}

test('a full workload parses: times in ns, rates per second, defaults filled', () => {
  const w = parseWorkload(FULL, 'w.yaml');
  assert.equal(w.duration, 10e6);
  assert.equal(w.warmup, 1e6);
  assert.equal(w.devices[0].rate, 20000);
  assert.equal(w.devices[0].arrivals, 'poisson');
  assert.equal(w.devices[0].delivery, 'vtd');
  assert.equal(w.devices[0].vector, 0x41);
  assert.equal(w.devices[1].on, 200e3);
  assert.equal(w.devices[2].jitter, 5e3);
  assert.equal(w.ipis[1].rate, 5000);
  assert.equal(w.ipis[1].from, 'any');
  assert.equal(w.halts[0].hostPoll, 200e3);
  assert.equal(w.overcommit?.timeSlice, 3e6);
  assert.equal(w.overcommit?.preemption, true);
  assert.equal(w.overcommit?.migration, 10);
  assert.equal(w.pit?.window, 2e3);
  // JSON too.
  const j = parseWorkload('{"duration": "1s"}', 'w.json');
  assert.equal(j.duration, 1e9);
  assert.deepEqual(j.devices, []);
});

test('bad workloads: one line naming the file, the place and the fault', () => {
  assert.match(errorOf('duration: 10'), /^w\.yaml: at duration: expected a time with a unit/);
  assert.match(errorOf('duration: 10 parsecs'), /^w\.yaml: at duration: expected a time with a unit/);
  assert.match(errorOf('duration: 0ms'), /^w\.yaml: at duration: duration must be positive/);
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 10 lightyears, vector: 65, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]\.rate: expected a rate/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: -5, vector: 65, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]\.rate: a rate must be positive/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 1kHz, vector: 65 }]'),
    /^w\.yaml: at devices\[0\]: delivery vtd needs vcpu/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 1kHz, vector: 65, delivery: posted-msi, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]: delivery posted-msi needs pcpu/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 1kHz, arrivals: bursty, vector: 65, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]: bursty arrivals need on and off/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 1kHz, jitter: 1us, vector: 65, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]\.jitter: jitter is for periodic arrivals/,
  );
  assert.match(
    errorOf('duration: 1ms\ndevices: [{ rate: 1MHz, arrivals: periodic, jitter: 1us, vector: 65, vcpu: 0 }]'),
    /^w\.yaml: at devices\[0\]\.jitter: jitter must be at most half the period/,
  );
  assert.match(
    errorOf('duration: 1ms\nipis: [{ rate: 1kHz, vector: 240, pattern: broadcast, to: 1 }]'),
    /^w\.yaml: at ipis\[0\]\.to: to is for pattern single, not broadcast/,
  );
  assert.match(errorOf('duration: 1ms\ndevice: []'), /^w\.yaml: at \(top level\): unknown field "device"/);
  assert.match(
    errorOf('duration: 1ms\novercommit: { vcpusPerPcpu: 2 }'),
    /^w\.yaml: at overcommit\.timeSlice: expected a time with a unit/,
  );
  assert.match(errorOf('duration: [1ms'), /^w\.yaml: not valid YAML: .* at line \d+, column \d+$/);
});

test('a workload is checked against the scenario machine', () => {
  const sc = parseScenarioText(
    JSON.stringify({
      name: 'w',
      description: 'd',
      source: 's',
      machine: { pcpus: 1, vcpus: [{ pcpu: 0, running: true }, { pcpu: 0 }] },
      steps: [{ do: 'guest.eoi', vcpu: 0 }],
    }),
    'm.json',
  );
  const ok = parseWorkload(FULL, 'w.yaml');
  checkWorkloadMachine(ok, sc.machine, 'w.yaml: at workload');
  const bad = parseWorkload('duration: 1ms\ndevices: [{ rate: 1kHz, vector: 65, vcpu: 5 }]', 'w.yaml');
  assert.throws(
    () => checkWorkloadMachine(bad, sc.machine, 'w.yaml: at workload'),
    /^UserError: w\.yaml: at workload\.devices\[0\]\.vcpu: vCPU 5 does not exist \(machine\.vcpus has 2\)$/,
  );
  const pc = parseWorkload(
    'duration: 1ms\ndevices: [{ rate: 1kHz, vector: 65, delivery: posted-msi, pcpu: 3 }]',
    'w.yaml',
  );
  assert.throws(() => checkWorkloadMachine(pc, sc.machine, 'w'), /pCPU 3 does not exist/);
});
