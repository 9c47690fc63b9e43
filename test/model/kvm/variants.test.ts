/**
 * `--variant` knob lists (parseKnobList): each way to get one wrong is a one-line error that says
 * what is wrong and what is allowed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../../src/errors.ts';
import { DEFAULT_VARIANT, KNOBS, parseKnobList, withKnobs } from '../../../src/model/kvm/variants.ts';

const KNOB_NAMES = Object.keys(KNOBS).join(', ');

function errorOf(spec: string): string {
  try {
    parseKnobList(spec, '--variant');
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    return e.message;
  }
  assert.fail(`"${spec}" was accepted`);
}

test('knob=value pairs, spaces around them ignored', () => {
  assert.deepEqual(parseKnobList('load=clear-sn, put=sn-if-preempted', '--variant'), {
    load: 'clear-sn',
    put: 'sn-if-preempted',
  });
});

test('an unknown knob names the knobs there are', () => {
  assert.equal(errorOf('lod=clear-sn'), `--variant: unknown knob "lod" (knobs: ${KNOB_NAMES})`);
});

test('a knob given twice', () => {
  assert.equal(
    errorOf('load=clear-sn,put=sn-if-preempted,load=clear-sn'),
    '--variant: knob load is given twice',
  );
  assert.equal(errorOf('load=clear-sn,load=clear-sn-recompute-on'), '--variant: knob load is given twice');
});

test('an empty pair, a pair without "=", an empty knob or value', () => {
  assert.equal(
    errorOf('load=clear-sn,,put=sn-if-preempted'),
    '--variant: empty knob=value pair in "load=clear-sn,,put=sn-if-preempted"',
  );
  assert.equal(errorOf('load=clear-sn,'), '--variant: empty knob=value pair in "load=clear-sn,"');
  assert.equal(errorOf('load=clear-sn,put'), `--variant: "put" is not knob=value (knobs: ${KNOB_NAMES})`);
  assert.equal(errorOf('=clear-sn'), `--variant: "=clear-sn" is not knob=value (knobs: ${KNOB_NAMES})`);
  assert.equal(
    errorOf('load='),
    '--variant: knob load has no value "" (values: clear-sn, clear-sn-recompute-on)',
  );
});

test('a value with "=" in it is a value, not a second pair', () => {
  assert.equal(
    errorOf('load=clear-sn=x'),
    '--variant: knob load has no value "clear-sn=x" (values: clear-sn, clear-sn-recompute-on)',
  );
});

test('every list of distinct knobs with their own values is read back as written', () => {
  const entries = Object.entries(KNOBS) as [string, readonly string[]][];
  fc.assert(
    fc.property(
      fc
        .subarray(entries, { minLength: 1 })
        .chain((ks) =>
          fc.tuple(...ks.map(([k, vals]) => fc.constantFrom(...vals).map((v) => [k, v] as const))),
        ),
      (pairs) => {
        const spec = pairs.map(([k, v]) => `${k}=${v}`).join(',');
        const knobs = parseKnobList(spec, '--variant');
        assert.deepEqual(knobs, Object.fromEntries(pairs));
        const v = withKnobs(DEFAULT_VARIANT, knobs, 't');
        for (const [k, val] of pairs) assert.equal(v[k as keyof typeof v], val);
      },
    ),
    { numRuns: 100 },
  );
});
