/**
 * Cost tables: the built-in ones load, every model step and event is priced, and bad cost files
 * are one-line errors (through the library and through `irqlab costs`, exit 2).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { builtinCostTables, loadCostTable } from '../../src/cli/costs.ts';
import { UserError } from '../../src/errors.ts';
import { DEFAULT_VARIANT, withKnobs } from '../../src/model/kvm/variants.ts';
import { EVENT_NAMES } from '../../src/model/platform/events.ts';
import { buildPrograms } from '../../src/scenarios/compile.ts';
import { parseScenarioText } from '../../src/scenarios/loader.ts';
import {
  CompiledCosts,
  type CostTable,
  LINE_NAMES,
  PRIMITIVE_NAMES,
  parseCostText,
  parseTerm,
  resolveEvent,
  resolveStep,
  type StepMap,
  stepCycles,
} from '../../src/sim/costs.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

const NO_STEPS: StepMap = { steps: [], events: [] };
const FULL = PRIMITIVE_NAMES.map((p) => `  ${p}: { cycles: 10, source: "test" }`).join('\n');
const HEAD = 'name: t\ncpu: test part\nclockGHz: { value: 2, source: "test" }\n';

function parse(text: string, baseOf?: (n: string) => CostTable | undefined): CostTable {
  return parseCostText(text, 'c.yaml', NO_STEPS, baseOf);
}

/** The one-line message of the UserError `f` throws. */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    return e.message;
  }
  assert.fail('no error');
}

test('the built-in tables load, with every primitive priced and sourced', () => {
  const names = builtinCostTables();
  assert.ok(
    names.some((n) => n.startsWith('intel-')) && names.some((n) => n.startsWith('amd-')),
    names.join(),
  );
  for (const n of names) {
    const t = loadCostTable(n);
    for (const p of PRIMITIVE_NAMES) {
      assert.ok(t.primitives[p].cycles >= 0, `${n} ${p}`);
      assert.ok(t.primitives[p].source.length > 10, `${n} ${p} source`);
    }
    assert.ok(t.clockGHz.value > 0);
  }
});

test('every step of every built-in scenario program, and every event kind, has a price', () => {
  const tables = builtinCostTables().map(loadCostTable);
  const dir = join(ROOT, 'src/scenarios/builtin');
  const unpriced = new Set<string>();
  let steps = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const sc = parseScenarioText(readFileSync(join(dir, f), 'utf8'), f);
    if (!sc.actors) continue;
    const variants = [
      DEFAULT_VARIANT,
      ...Object.values(sc.presets ?? {}).map((k) => withKnobs(DEFAULT_VARIANT, k, f)),
    ];
    for (const v of variants)
      for (const mm of ['sc', 'tso'] as const)
        for (const a of buildPrograms(sc, v, mm))
          for (const ins of a.code) {
            steps++;
            for (const t of tables)
              if (!resolveStep(t, `${ins.fn}/${ins.label}`))
                unpriced.add(`${t.name}: ${ins.fn}/${ins.label}`);
          }
  }
  assert.ok(steps > 1000, `only ${steps} steps seen`);
  // The hardware's own actions, as SystemModel.describe names them.
  for (const t of tables)
    for (const k of ['lapic/dispatch', 'guest/interrupt', 'store buffer/drain'])
      if (!resolveStep(t, k)) unpriced.add(`${t.name}: ${k}`);
  assert.deepEqual([...unpriced], []);
  for (const t of tables)
    for (const e of Object.values(EVENT_NAMES)) assert.ok(resolveEvent(t, e), `${t.name}: event ${e}`);
});

test('a step costs its terms: local or transferred lines, per-vCPU requests, exact keys before patterns', () => {
  const t = loadCostTable('intel-skylake-sp');
  const p = t.primitives;
  const pir = resolveStep(t, 'vmx_deliver_posted_interrupt/pi_test_and_set_pir')!;
  assert.equal(
    stepCycles(t, pir, 4, () => true),
    p.locked_rmw_local.cycles,
  );
  assert.equal(
    stepCycles(t, pir, 4, () => false),
    p.locked_rmw_transfer.cycles,
  );
  const kick = resolveStep(t, 'kvm_make_all_cpus_request/KVM_REQ_APICV_UPDATE')!;
  assert.equal(
    stepCycles(t, kick, 8, () => true),
    8 * p.kick_vcpu_request.cycles,
  );
  const exit = resolveStep(t, 'vmx_vcpu_run/vmexit (WRMSR 0x830)')!;
  assert.equal(exit.key, 'vmx_vcpu_run/vmexit (WRMSR*)');
  assert.equal(
    stepCycles(t, exit, 1, () => true),
    2 * p.vmread.cycles,
  );
  // The exact key wins over a matching pattern; the longest pattern over a shorter one.
  assert.equal(resolveStep(t, 'guest/write ICR (AVIC)')!.key, 'guest/write ICR (AVIC)');
  assert.equal(resolveStep(t, 'guest/write TPR')!.key, 'guest/*');
  assert.equal(resolveStep(t, 'kvm_set_apicv_inhibit/down_write')!.key, '*/down_write');
  assert.equal(resolveStep(t, 'no_such_fn/label'), undefined);
  assert.deepEqual(parseTerm('store@wakeup_list*2', 'x'), {
    kind: 'owned',
    access: 'store',
    line: 'wakeup_list',
    count: 2,
  });
});

test('a table may extend a built-in one: base supplies what it does not give', () => {
  const intel = loadCostTable('intel-skylake-sp');
  const t = parse(
    'name: mine\ncpu: slower exits\nbase: intel-skylake-sp\nprimitives:\n  vm_exit: { cycles: 1540, source: "mine" }\nsteps:\n  "vmx_vcpu_run/vmexit": [vm_exit]\n',
    (n) => (n === 'intel-skylake-sp' ? intel : undefined),
  );
  assert.equal(t.primitives.vm_exit.cycles, 1540);
  assert.equal(t.primitives.vmread.cycles, intel.primitives.vmread.cycles);
  assert.equal(t.clockGHz.value, intel.clockGHz.value);
  assert.equal(resolveStep(t, 'vmx_vcpu_run/vmexit')!.terms.length, 1);
  assert.equal(t.steps.length, intel.steps.length);
});

test('bad cost files: one line naming the file, the place and the fault', () => {
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL}\n  vm_exitt: { cycles: 1, source: "x" }\n`)),
    /^c\.yaml: at primitives\.vm_exitt: unknown primitive "vm_exitt" \(primitives: vm_exit, /,
  );
  assert.match(
    errorOf(() =>
      parse(`${HEAD}primitives:\n${FULL.replace('vm_exit: { cycles: 10', 'vm_exit: { cycles: -5')}\n`),
    ),
    /^c\.yaml: at primitives\.vm_exit\.cycles: cycles must not be negative$/,
  );
  assert.match(
    errorOf(() =>
      parse(
        `${HEAD}primitives:\n${FULL.replace('vmread: { cycles: 10, source: "test" }', 'vmread: { cycles: 10 }')}\n`,
      ),
    ),
    /^c\.yaml: at primitives\.vmread\.source: every number needs a source/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL.replace('source: "test" }', 'source: "" }')}\n`)),
    /^c\.yaml: at primitives\.vm_exit\.source: source must not be empty$/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives: [unclosed\n`)),
    /^c\.yaml: not valid YAML: .* at line \d+, column \d+$/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n  vm_exit: { cycles: 1, source: "x" }\n`)),
    /^c\.yaml: at primitives: missing primitive "vm_entry" \(and \d+ more\)/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL}\nsteps:\n  "a/b": [vmreed]\n`)),
    /^c\.yaml: at steps\."a\/b"\[0\]: unknown primitive "vmreed"/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL}\nsteps:\n  "a/b": [rmw@pidd]\n`)),
    /^c\.yaml: at steps\."a\/b"\[0\]: "rmw@pidd": unknown line "pidd"/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL}\nevents:\n  vmexitt: [vm_exit]\n`)),
    /^c\.yaml: at events\.vmexitt: unknown event "vmexitt"/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}base: nope\nprimitives: {}\n`)),
    /^c\.yaml: at base: no built-in cost table "nope"$/,
  );
  assert.match(
    errorOf(() => parse(`${HEAD}primitives:\n${FULL}\nwhat: 1\n`)),
    /^c\.yaml: at \(top level\): unknown field "what"$/,
  );
});

test('irqlab costs: prints a table with sources; a bad file exits 2 with one line', async () => {
  const cli = ['--import', 'tsx', 'src/cli/main.ts', 'costs'];
  const ok = await run(process.execPath, [...cli, 'amd-epyc'], { cwd: ROOT });
  assert.match(ok.stdout, /^amd-epyc: AMD EPYC/);
  assert.match(ok.stdout, /vm_exit +680 cycles/);
  assert.match(ok.stdout, /source: /);
  const dir = mkdtempSync(join(tmpdir(), 'irqlab-costs-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `${HEAD}base: intel-skylake-sp\nprimitives:\n  vmexit: { cycles: 1, source: "x" }\n`);
  await assert.rejects(
    run(process.execPath, [...cli, bad], { cwd: ROOT }),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.equal(e.stderr.trim().split('\n').length, 1);
      assert.match(e.stderr, /bad\.yaml: at primitives\.vmexit: unknown primitive "vmexit"/);
      return true;
    },
  );
  await assert.rejects(
    run(process.execPath, [...cli, 'no-such-table'], { cwd: ROOT }),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /no-such-table: no such file, and no built-in cost table/);
      return true;
    },
  );
});

test('compiled costs equal the reference sum for every step key and every set of local lines', () => {
  for (const name of builtinCostTables()) {
    const t = loadCostTable(name);
    const keys = t.steps.map((s) => s.key);
    const vcpus = 3;
    const c = new CompiledCosts(t, keys, vcpus);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: keys.length - 1 }),
        fc.nat(2 ** LINE_NAMES.length - 1),
        (i, mask) => {
          const s = resolveStep(t, keys[i])!;
          const want = stepCycles(t, s, vcpus, (l) => ((mask >>> LINE_NAMES.indexOf(l)) & 1) === 1);
          assert.equal(c.cycles(i, mask), want);
        },
      ),
    );
    const ev = new CompiledCosts(t, ['vmexit', 'phys_irq'], vcpus, resolveEvent);
    assert.equal(ev.cycles(0, 0), t.primitives.vm_exit.cycles);
    assert.equal(ev.cycles(1, 0), t.primitives.ipi_icr_to_irr.cycles);
  }
  const t = loadCostTable('intel-skylake-sp');
  const c = new CompiledCosts(t, ['pi_enable_wakeup_handler/wakeup_list_add'], 1);
  assert.equal(c.lines(0), 1 << LINE_NAMES.indexOf('wakeup_list'));
  assert.throws(() => new CompiledCosts(t, ['nope/nothing'], 1), /no price for step "nope\/nothing"/);
});

test('docs/sim.md lists each primitive with the built-in tables’ cycles and sources', () => {
  const doc = readFileSync(join(ROOT, 'docs/sim.md'), 'utf8');
  const tables: [string, CostTable][] = [
    ['Intel', loadCostTable('intel-skylake-sp')],
    ['AMD', loadCostTable('amd-epyc')],
  ];
  for (const p of PRIMITIVE_NAMES) {
    assert.ok(doc.includes(`- \`${p}\`: `), `docs/sim.md does not list ${p}`);
    for (const [who, t] of tables) {
      const line = `  - ${who}, ${t.primitives[p].cycles} cycles: ${t.primitives[p].source}.`;
      assert.ok(doc.includes(line), `docs/sim.md is out of date for ${who} ${p}: want\n${line}`);
    }
  }
});
