/**
 * `irqlab bench startup`: the structure of its figures (never their size: they are timings), from
 * one run of each command.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStartupBench, runStartupBench } from '../../src/bench/startup.ts';

test('one run: node -e 0, irqlab --version and irqlab list, ratios to node -e 0', () => {
  const r = runStartupBench({ runs: 1 });
  assert.deepEqual(
    r.rows.map((x) => x.command),
    ['node -e 0', 'irqlab --version', 'irqlab list'],
  );
  const base = r.rows[0];
  assert.equal(base.ran, null);
  assert.equal(base.ratio, 1);
  for (const x of r.rows) {
    assert.ok(x.medianMs > 0 && x.minMs <= x.medianMs && x.medianMs <= x.maxMs);
    assert.equal(x.ratio, x.medianMs / base.medianMs);
  }
  for (const x of r.rows.slice(1)) assert.ok(x.ran === 'dist' || x.ran === 'tsx', String(x.ran));
  const text = formatStartupBench(r);
  assert.match(text, /median of 1 runs each/);
  assert.match(text, /^irqlab --version +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d\d {2}(dist|sources)/m);
});

test('runs below 1 are refused', () => {
  assert.throws(() => runStartupBench({ runs: 0 }), /runs must be at least 1/);
});
