/**
 * The SVG sequence chart: well-formed standalone XML, one lane per participant, an arrow per
 * posting and notification, escaped text, the violation and wrong-vCPU processing marked, the same
 * bytes for the same trace, a lasso's loop and wake-ups marked, and a golden file for seed-004's
 * "before" counterexample (UPDATE_GOLDEN=1 rewrites it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { replay } from '../../src/check/counterexample.ts';
import { explore } from '../../src/check/explorer.ts';
import { DEFAULT_VARIANT, describeVariant, withKnobs } from '../../src/model/kvm/variants.ts';
import { PROP_INFO } from '../../src/model/system/properties.ts';
import { runScenario } from '../../src/run/run.ts';
import { buildModel } from '../../src/scenarios/compile.ts';
import { builtinNames, loadScenario } from '../../src/scenarios/files.ts';
import type { TraceEntry } from '../../src/trace/record.ts';
import { type SvgOptions, traceToSvg } from '../../src/trace/svg.ts';

const GOLDEN = fileURLToPath(new URL('./golden/seed-004-before.svg', import.meta.url));
const TRACE_DIR = fileURLToPath(new URL('../../src/trace/', import.meta.url));

// ---------------------------------------------------------------------------------------------
// A small XML parser: enough to say a document is well-formed and to look inside it.

interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  /** Character data directly inside this element, entities decoded. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isNameChar(c: string, first: boolean): boolean {
  const code = c.charCodeAt(0);
  const alpha = (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || c === '_' || c === ':';
  if (first) return alpha;
  return alpha || (code >= 48 && code <= 57) || c === '-' || c === '.';
}

/** Parses a document into a tree; throws on anything not well-formed. */
function parseXml(s: string): XNode {
  let i = 0;
  const stack: XNode[] = [];
  let root: XNode | null = null;
  const fail = (msg: string): never => {
    throw new Error(`not well-formed: ${msg} at offset ${i}: ${JSON.stringify(s.slice(i, i + 40))}`);
  };
  const decode = (t: string): string => {
    let out = '';
    for (let k = 0; k < t.length; k++) {
      const c = t[k];
      if (c === '<') fail('"<" in character data');
      if (c !== '&') {
        out += c;
        continue;
      }
      const end = t.indexOf(';', k);
      if (end < 0) fail('"&" without ";"');
      const ref = t.slice(k + 1, end);
      if (ref.startsWith('#x')) out += String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
      else if (ref.startsWith('#')) out += String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
      else if (ref in ENTITIES) out += ENTITIES[ref];
      else fail(`unknown entity &${ref};`);
      k = end;
    }
    return out;
  };
  const name = (): string => {
    const start = i;
    if (i >= s.length || !isNameChar(s[i], true)) fail('expected a name');
    while (i < s.length && isNameChar(s[i], false)) i++;
    return s.slice(start, i);
  };
  const spaces = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\t' || s[i] === '\r')) i++;
  };
  while (i < s.length) {
    if (s[i] !== '<') {
      const end = s.indexOf('<', i);
      const raw = s.slice(i, end < 0 ? s.length : end);
      const text = decode(raw);
      if (stack.length === 0) {
        if (text.trim() !== '') fail('text outside the root element');
      } else stack[stack.length - 1].text += text;
      i += raw.length;
      continue;
    }
    if (s.startsWith('<?', i)) {
      if (root || stack.length > 0) fail('processing instruction after the root');
      const end = s.indexOf('?>', i);
      if (end < 0) fail('unterminated <?');
      i = end + 2;
      continue;
    }
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (s[i + 1] === '/') {
      i += 2;
      const n = name();
      spaces();
      if (s[i] !== '>') fail('expected ">"');
      i++;
      const open = stack.pop();
      if (!open) fail(`</${n}> without an open element`);
      if (open!.name !== n) fail(`</${n}> closes <${open!.name}>`);
      continue;
    }
    i++;
    const node: XNode = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      spaces();
      if (s[i] === '>' || s.startsWith('/>', i)) break;
      if (i === before) fail('expected whitespace before an attribute');
      const an = name();
      if (an in node.attrs) fail(`duplicate attribute ${an}`);
      spaces();
      if (s[i] !== '=') fail('expected "="');
      i++;
      spaces();
      const q = s[i];
      if (q !== '"' && q !== "'") fail('expected a quoted value');
      const end = s.indexOf(q, i + 1);
      if (end < 0) fail('unterminated attribute value');
      node.attrs[an] = decode(s.slice(i + 1, end));
      i = end + 1;
    }
    if (stack.length > 0) stack[stack.length - 1].children.push(node);
    else if (root) fail('a second root element');
    else root = node;
    if (s[i] === '/') i += 2;
    else {
      i++;
      stack.push(node);
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1].name}> is never closed`);
  if (!root) fail('no root element');
  return root!;
}

function all(node: XNode, pred: (n: XNode) => boolean, out: XNode[] = []): XNode[] {
  if (pred(node)) out.push(node);
  for (const c of node.children) all(c, pred, out);
  return out;
}

function hasClass(node: XNode, c: string): boolean {
  return (node.attrs.class ?? '').split(' ').includes(c);
}

/** All character data under a node, in document order. */
function textOf(node: XNode): string {
  return node.text + node.children.map(textOf).join('');
}

function lanesOf(doc: XNode): string[] {
  return all(doc, (n) => n.name === 'g' && hasClass(n, 'lane')).map((n) => n.attrs['data-lane']);
}

// ---------------------------------------------------------------------------------------------
// Traces

function checkerTrace(name: string, preset: string): { entries: TraceEntry[]; opts: SvgOptions } {
  const { scenario } = loadScenario(name);
  const variant = withKnobs(DEFAULT_VARIANT, scenario.presets![preset], `${name}: preset ${preset}`);
  const model = buildModel(scenario, variant);
  const res = explore(model, {
    strategy: 'bfs',
    bounds: { maxStates: 200_000, maxDepth: 1000, maxTimeMs: 60_000 },
    now: () => performance.now(),
  });
  assert.equal(res.outcome.kind, 'violated', `${name} · ${preset} should be violated`);
  if (res.outcome.kind !== 'violated') throw new Error('unreachable');
  const info = PROP_INFO[res.outcome.code];
  return {
    entries: replay(model, res.outcome.path).entries,
    opts: {
      title: `${name} · ${preset} [${describeVariant(variant)}]`,
      violation: { property: info.name, what: info.meaning },
    },
  };
}

const runnable = builtinNames().filter((n) => (loadScenario(n).scenario.steps ?? []).length > 0);
const runTraces = runnable.map((n) => ({ name: n, entries: runScenario(loadScenario(n).scenario).entries }));

/** The participants the chart should have, derived independently from actors and event arguments. */
function expectedParticipants(entries: readonly TraceEntry[]): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    out.add(e.actor);
    for (const ev of e.events) {
      const v = (x: number) => out.add(`vcpu${x}`);
      const p = (x: number) => out.add(`pcpu${x}`);
      switch (ev.kind) {
        case 'vtd_post':
          out.add('iommu');
          v(ev.a);
          break;
        case 'ipiv_post':
          v(ev.a);
          v(ev.d);
          break;
        case 'phys_irq':
        case 'host_irq':
        case 'spurious':
          p(ev.a);
          break;
        case 'pi_process':
        case 'pi_wrong_vcpu':
          p(ev.a);
          v(ev.b);
          break;
        case 'vmexit':
        case 'vmentry':
          v(ev.a);
          if (ev.b >= 0) p(ev.b);
          break;
        case 'eoi':
          if (ev.a >= 0) v(ev.a);
          else p(-1 - ev.a);
          break;
        case 'deliver':
        case 'self_ipi':
        case 'illegal_vector':
        case 'wake_up':
          v(ev.a);
          break;
      }
    }
  }
  return out;
}

function entry(n: number, actor: string, action: string, events: TraceEntry['events'] = []): TraceEntry {
  return {
    n,
    actor,
    vcpu: null,
    fn: '',
    label: '',
    hardware: false,
    action,
    step: n - 1,
    events,
    reads: [],
    changes: [],
  };
}

function ev(kind: string, a = 0, b = 0, c = 0, d = 0) {
  return { kind, a, b, c, d };
}

// ---------------------------------------------------------------------------------------------

describe('traceToSvg', () => {
  const seed001 = checkerTrace('seed-001', 'before');
  const seed004 = checkerTrace('seed-004', 'before');

  test('is a well-formed standalone SVG for counterexamples and every runnable built-in', () => {
    const traces = [
      { name: 'seed-001', entries: seed001.entries, opts: seed001.opts },
      { name: 'seed-004', entries: seed004.entries, opts: seed004.opts },
      ...runTraces.map((t) => ({ ...t, opts: { title: t.name } })),
    ];
    assert.ok(traces.length > 10);
    for (const t of traces) {
      const svg = traceToSvg(t.entries, t.opts);
      const doc = parseXml(svg);
      assert.equal(doc.name, 'svg', t.name);
      assert.equal(doc.attrs.xmlns, 'http://www.w3.org/2000/svg', t.name);
      const w = Number(doc.attrs.width);
      const h = Number(doc.attrs.height);
      assert.ok(Number.isInteger(w) && w > 0 && Number.isInteger(h) && h > 0, `${t.name}: size ${w}×${h}`);
      assert.equal(doc.attrs.viewBox, `0 0 ${w} ${h}`, t.name);
      // Nothing from outside: no links, images, scripts, styles sheets or foreign objects.
      assert.ok(!/href|<image|<script|<style|@import|url\((?!#)|<foreignObject/i.test(svg), t.name);
      // Everything positioned is inside the canvas.
      for (const n of all(doc, (x) => 'x' in x.attrs || 'y' in x.attrs)) {
        const x = Number(n.attrs.x ?? 0);
        const y = Number(n.attrs.y ?? 0);
        assert.ok(
          x >= 0 && x <= w && y >= 0 && y <= h,
          `${t.name}: <${n.name}> at ${x},${y} outside ${w}×${h}`,
        );
      }
      // One row per entry, numbered like the text trace.
      const steps = all(doc, (n) => n.name === 'g' && hasClass(n, 'step'));
      assert.deepEqual(
        steps.map((s) => s.attrs['data-n']),
        t.entries.map((e) => String(e.n)),
        t.name,
      );
    }
  });

  test('the well-formedness check rejects what it should', () => {
    for (const bad of [
      '<svg><g></svg>',
      '<svg><g></g>',
      '<svg>a < b</svg>',
      '<svg>a & b</svg>',
      '<svg a="1" a="2"/>',
      '<svg/><svg/>',
      '<svg x="<"/>',
      'text<svg/>',
    ]) {
      assert.throws(() => parseXml(bad), /not well-formed/, bad);
    }
    assert.equal(
      parseXml('<?xml version="1.0"?>\n<svg a="&lt;&amp;&gt;"><t>x &#x41;</t></svg>').attrs.a,
      '<&>',
    );
  });

  test('has one lane per participant, in a stable order', () => {
    // seed-001: the KVM threads vcpu-a and vcpu-b share a lane with the vCPU they drive.
    const doc = parseXml(traceToSvg(seed001.entries, seed001.opts));
    assert.deepEqual(lanesOf(doc), ['vcpu0', 'vcpu1', 'pcpu0', 'iommu']);
    const heads = all(doc, (n) => n.name === 'g' && hasClass(n, 'lane')).map(textOf);
    assert.deepEqual(heads, ['vcpu-avcpu0', 'vcpu-bvcpu1', 'pcpu0', 'iommu']);
    // Run traces: the lanes are exactly the actors and the CPUs named by events.
    const rank = (k: string) => (k.startsWith('vcpu') ? 0 : k.startsWith('pcpu') ? 1 : k === 'iommu' ? 2 : 3);
    for (const t of runTraces) {
      const lanes = lanesOf(parseXml(traceToSvg(t.entries, { title: t.name })));
      assert.deepEqual(new Set(lanes), expectedParticipants(t.entries), t.name);
      assert.equal(lanes.length, new Set(lanes).size, `${t.name}: a lane twice`);
      const sorted = [...lanes].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(lanes, sorted, t.name);
    }
  });

  test('a named actor stands on the lane of the vCPU its entries act as, else on its own', () => {
    const entries = [
      entry(1, 'worker', 'does something'),
      entry(2, 'iommu', 'post', [ev('vtd_post', 1, 0x41, 0)]),
    ];
    assert.deepEqual(lanesOf(parseXml(traceToSvg(entries, { title: 't' }))), ['vcpu1', 'iommu', 'worker']);
    const asVcpu1 = [{ ...entries[0], vcpu: 1 }, entries[1]];
    const doc = parseXml(traceToSvg(asVcpu1, { title: 't' }));
    assert.deepEqual(lanesOf(doc), ['vcpu1', 'iommu']);
    assert.deepEqual(all(doc, (n) => n.name === 'g' && hasClass(n, 'lane')).map(textOf), [
      'workervcpu1',
      'iommu',
    ]);
    // The events of a step do not move it: a thread's VM entry without the entry's vCPU stays on
    // the thread's lane.
    const thread = [entry(1, 'vcpu-x', 'vmentry', [ev('vmentry', 2, 0)])];
    assert.deepEqual(lanesOf(parseXml(traceToSvg(thread, { title: 't' }))), ['vcpu2', 'vcpu-x', 'pcpu0']);
  });

  test("shows what a step read: seed-004's pi_test_on sees ON=0", () => {
    // seed-004: the IOMMU posts while SN=1, so it sets PIR but not ON and sends nothing (VT-d 5.2.3);
    // the entry's vmx_sync_pir_to_irr then tests ON, finds it clear and skips the PIR harvest.
    const doc = parseXml(traceToSvg(seed004.entries, seed004.opts));
    const n = seed004.entries.find((e) => e.label === 'pi_test_on')?.n;
    assert.ok(n !== undefined, 'the counterexample has a pi_test_on step');
    const [row] = all(doc, (x) => x.name === 'g' && hasClass(x, 'step') && x.attrs['data-n'] === String(n));
    const [reads] = all(row, (x) => x.name === 'g' && hasClass(x, 'reads'));
    assert.ok(reads, 'the step shows its reads');
    assert.match(textOf(reads), /^read .*vcpu0\.PID\.ON=0\b/);
    // A hardware reaction shows no reads.
    const hw = all(doc, (x) => x.name === 'g' && hasClass(x, 'step') && hasClass(x, 'hw'));
    for (const h of hw) assert.equal(all(h, (x) => hasClass(x, 'reads')).length, 0);
  });

  test('draws an arrow with an arrowhead per posting and notification', () => {
    const traces = [
      seed001.entries,
      seed004.entries,
      ...runTraces.map((t) => t.entries),
      [
        entry(1, 'vcpu0', 'ICR', [ev('ipiv_post', 1, 0x62, 1, 0), ev('phys_irq', 0, 0xf2, 2)]),
        entry(2, 'pcpu0', 'external', [ev('phys_irq', 0, 0xec, 0)]),
        entry(3, 'vcpu0', 'self', [ev('self_ipi', 0, 0x30)]),
      ],
    ];
    let total = 0;
    for (const entries of traces) {
      const doc = parseXml(traceToSvg(entries, { title: 't' }));
      for (const kind of ['vtd_post', 'ipiv_post', 'phys_irq', 'pi_process']) {
        const want = entries.flatMap((e) => e.events).filter((e) => e.kind === kind).length;
        const arrows = all(doc, (n) => n.name === 'g' && hasClass(n, 'arrow') && hasClass(n, `ev-${kind}`));
        assert.equal(arrows.length, want, kind);
        for (const a of arrows) {
          const heads = all(a, (n) => (n.name === 'line' || n.name === 'path') && 'marker-end' in n.attrs);
          assert.equal(heads.length, 1, `${kind}: one line with an arrowhead`);
          assert.match(heads[0].attrs['marker-end'], /^url\(#irqlab-[a-z-]+\)$/);
        }
        total += want;
      }
    }
    assert.ok(total > 20);
    // Notifications are labelled with their vector, the PI notification vector by name.
    const svg = traceToSvg(seed001.entries, seed001.opts);
    assert.match(svg, /notification 0xf2 for vcpu0/);
    assert.match(svg, /post 0x41 to PIR/);
    // Every marker an element points at is defined.
    const doc = parseXml(svg);
    const ids = new Set(all(doc, (n) => n.name === 'marker').map((n) => n.attrs.id));
    for (const n of all(doc, (x) => 'marker-end' in x.attrs)) {
      assert.ok(ids.has(n.attrs['marker-end'].slice(5, -1)), n.attrs['marker-end']);
    }
  });

  test('escapes text', () => {
    const nasty = 'a <b> & "c" \'d\' <&>';
    const entries: TraceEntry[] = [
      {
        n: 1,
        actor: 'dev<&>',
        vcpu: null,
        fn: '',
        label: '',
        hardware: false,
        reads: [],
        action: nasty,
        step: 0,
        note: 'note <&>',
        events: [ev('vtd_post', 0, 0x41, 1), ev('phys_irq', 0, 0xf2, 1), ev('mystery<&>', 1, 2, 3, 4)],
        changes: [{ field: 'vcpu0.x<&>', from: '<', to: '&' }],
      },
    ];
    const svg = traceToSvg(entries, {
      title: 'title <&> "q"',
      violation: { property: 'prop<&>', what: 'what <&>' },
    });
    const doc = parseXml(svg);
    assert.ok(svg.includes('&lt;&amp;&gt;'));
    assert.ok(!svg.includes('<b>') && !svg.includes('<&>'));
    const text = textOf(doc);
    for (const s of [nasty, 'dev<&>', 'note <&>', 'vcpu0.x<&> <→&', 'title <&> "q"', 'prop<&>', 'what <&>']) {
      assert.ok(text.includes(s), `text contains ${s}`);
    }
    assert.ok(lanesOf(doc).includes('dev<&>'));
    // Characters XML forbids are replaced, not emitted.
    assert.doesNotThrow(() => parseXml(traceToSvg([entry(1, 'x', 'bell\u0007')], { title: 'nul\u0000' })));
  });

  test('marks the violated property, and wrong-vCPU processing in red', () => {
    const doc = parseXml(traceToSvg(seed001.entries, seed001.opts));
    const [band] = all(doc, (n) => n.name === 'g' && hasClass(n, 'violation'));
    assert.ok(band, 'a violation band');
    const t = textOf(band);
    assert.ok(t.includes('no-wrong-vcpu'), t);
    assert.ok(t.includes("another vCPU's descriptor"), t);
    assert.ok(all(band, (n) => n.name === 'rect' && n.attrs.fill === '#c62828').length > 0);
    // The violation band comes after the last step.
    const steps = all(doc, (n) => n.name === 'g' && hasClass(n, 'step'));
    const lastStepBottom = Math.max(
      ...all(steps[steps.length - 1], (n) => 'y' in n.attrs).map((n) => Number(n.attrs.y)),
    );
    const bandTop = Number(all(band, (n) => n.name === 'rect')[0].attrs.y);
    assert.ok(bandTop > lastStepBottom);

    const wrong = steps.filter((s) => hasClass(s, 'wrong-vcpu'));
    assert.deepEqual(
      wrong.map((s) => s.attrs['data-n']),
      seed001.entries.filter((e) => e.events.some((x) => x.kind === 'pi_wrong_vcpu')).map((e) => String(e.n)),
    );
    const [w] = all(wrong[0], (n) => hasClass(n, 'ev-pi_wrong_vcpu'));
    assert.ok(all(w, (n) => n.attrs.stroke === '#c62828').length > 0, 'drawn in red');
    assert.match(textOf(w), /for vcpu0 processed against vcpu1/);

    const plain = parseXml(traceToSvg(seed004.entries, { title: 'no violation' }));
    assert.equal(all(plain, (n) => hasClass(n, 'violation')).length, 0);
  });

  test('shows guest mode as bars on the vCPU and pCPU lanes', () => {
    const doc = parseXml(traceToSvg(seed001.entries, seed001.opts));
    const bars = all(doc, (n) => n.name === 'rect' && hasClass(n, 'guest-bar')).map(
      (n) => n.attrs['data-lane'],
    );
    // vcpu0 runs until its exit at step 1; vcpu1 from its entry at step 14 to the end; pcpu0 runs both.
    assert.deepEqual(bars.sort(), ['pcpu0', 'pcpu0', 'vcpu0', 'vcpu1']);
    const barsOf = (entries: TraceEntry[]) =>
      all(parseXml(traceToSvg(entries, { title: 't' })), (n) => hasClass(n, 'guest-bar'))
        .map((n) => n.attrs['data-lane'])
        .sort();
    // An exit from pcpu1 means the vCPU ran there from the start; one with pCPU -1, that it did not.
    assert.deepEqual(barsOf([entry(1, 'vcpu0', 'exit', [ev('vmexit', 0, 1, 12)])]), ['pcpu1', 'vcpu0']);
    assert.deepEqual(barsOf([entry(1, 'vcpu0', 'exit', [ev('vmexit', 0, -1, 12)])]), []);
    // Without entries or exits, a delivery shows the vCPU in guest mode throughout.
    assert.deepEqual(barsOf([entry(1, 'vcpu2', 'deliver', [ev('deliver', 2, 0x41)])]), ['vcpu2']);
    assert.deepEqual(barsOf([entry(1, 'vcpu2', 'guest writes TPR')]), []);
  });

  test('labels and changes: truncated text keeps its full form in a tooltip', () => {
    const long = `vcpu0.PID.PIR`;
    const changes = Array.from({ length: 30 }, (_, k) => ({
      field: `${long}[0x${(0x40 + k).toString(16)}]`,
      from: '{}',
      to: `{${'0x41, '.repeat(20)}0x42}`,
    }));
    const action = Array.from({ length: 60 }, (_, k) => `word${k}`).join(' ');
    const svg = traceToSvg(
      [
        {
          n: 1,
          actor: 'vcpu0',
          vcpu: 0,
          fn: '',
          label: '',
          hardware: false,
          action,
          step: 0,
          events: [],
          reads: [],
          changes,
        },
      ],
      { title: 't' },
    );
    const doc = parseXml(svg);
    const titles = all(doc, (n) => n.name === 'title').map((n) => n.text);
    assert.ok(titles.some((t) => t.includes(changes[29].field) && t.includes(changes[0].to)));
    assert.ok(titles.some((t) => t.includes('word59')));
    assert.match(svg, /…/);
  });

  test('marks the loop of a lasso: a line before its first step and a bracket along its steps', () => {
    const lasso = [
      entry(1, 'vcpu0', 'vmexit', [ev('vmexit', 0, 0, 1, 0xec)]),
      entry(2, 'iommu', 'post', [ev('vtd_post', 0, 0x41, 0)]),
      entry(3, 'vcpu0', 'kvm_vcpu_block: set_current_state'),
      entry(4, 'vcpu0', 'kvm_vcpu_block: check'),
      entry(5, 'vcpu0', 'schedule: check_task_state'),
    ];
    const opts = { title: 'lasso', violation: { property: 'p', what: 'w' }, loopStart: 2 };
    const svg = traceToSvg(lasso, opts);
    const doc = parseXml(svg);
    const loops = all(doc, (n) => n.name === 'g' && hasClass(n, 'loop'));
    assert.equal(loops.length, 1);
    const [loop] = loops;
    assert.equal(loop.attrs['data-loop-start'], '2');
    // Numbered like the text trace's marker: the loop is steps loopStart+1..n.
    assert.match(textOf(loop), /loop: steps 3\.\.5 repeat forever/);
    // The line lies between the last step before the loop and the loop's first step, and the
    // bracket reaches from it down into the last step, inside the canvas.
    const steps = all(doc, (n) => n.name === 'g' && hasClass(n, 'step'));
    const ys = (g: XNode) => all(g, (n) => 'y' in n.attrs).map((n) => Number(n.attrs.y));
    const [line] = all(loop, (n) => n.name === 'line');
    const ly = Number(line.attrs.y1);
    assert.ok(Math.max(...ys(steps[1])) < ly && ly < Math.min(...ys(steps[2])), `marker at ${ly}`);
    const bracket = all(loop, (n) => n.name === 'path' && n.attrs.fill === 'none');
    assert.equal(bracket.length, 1);
    const pts = [...bracket[0].attrs.d.matchAll(/(-?\d+),(-?\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const w = Number(doc.attrs.width);
    assert.ok(pts.every(([x]) => x > 0 && x < w));
    assert.ok(Math.max(...pts.map((p) => p[1])) > Math.min(...ys(steps[4])));
    assert.equal(Math.min(...pts.map((p) => p[1])), Math.round(ly));
    // The loop comes before the violation band; the steps before the loop keep their colours.
    const band = all(doc, (n) => n.name === 'g' && hasClass(n, 'violation'))[0];
    assert.ok(svg.indexOf('class="loop"') < svg.indexOf('class="violation"') && band);
    // Without loopStart nothing of this is drawn; an index outside the trace is refused.
    assert.equal(all(parseXml(traceToSvg(lasso, { title: 'plain' })), (n) => hasClass(n, 'loop')).length, 0);
    assert.ok(!traceToSvg(lasso, { title: 'plain' }).includes('repeat forever'));
    for (const bad of [-1, 5, 1.5]) {
      assert.throws(() => traceToSvg(lasso, { title: 't', loopStart: bad }), /loopStart/, String(bad));
    }
    // A loop of the whole trace, and a loop of its last step.
    for (const k of [0, 4]) {
      const d = parseXml(traceToSvg(lasso, { title: 't', loopStart: k }));
      assert.match(textOf(all(d, (n) => hasClass(n, 'loop'))[0]), new RegExp(`steps ${k + 1}\\.\\.5 `));
    }
  });

  test('irqlab check --svg marks the loop of a fair-cycle counterexample', () => {
    // seed-004-loop before the fix, for no-lost-interrupt alone: a lasso whose loop starts at step 7.
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-svg-test-'));
    try {
      const file = join(dir, 'loop.svg');
      const root = fileURLToPath(new URL('../../', import.meta.url));
      const args = ['check', 'seed-004-loop', '--variant', 'before', '--properties', 'no-lost-interrupt'];
      let code = 0;
      try {
        execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--svg', file], {
          cwd: root,
          env: { ...process.env, NO_COLOR: '1' },
          stdio: 'pipe',
          timeout: 60_000,
        });
      } catch (e) {
        code = (e as { status: number }).status;
      }
      assert.equal(code, 13, 'a liveness violation');
      const doc = parseXml(readFileSync(file, 'utf8'));
      const [loop] = all(doc, (n) => n.name === 'g' && hasClass(n, 'loop'));
      assert.ok(loop, 'the loop is marked');
      const steps = all(doc, (n) => n.name === 'g' && hasClass(n, 'step'));
      const k = Number(loop.attrs['data-loop-start']);
      assert.ok(k > 0 && k < steps.length, `loopStart ${k} of ${steps.length}`);
      assert.match(textOf(loop), new RegExp(`loop: steps ${k + 1}\\.\\.${steps.length} repeat forever`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('draws a wake-up by the wake-up vector: notification, pi_wakeup_handler, kvm_vcpu_wake_up', () => {
    // wakeup-migrate: a posting with NV = 0xf1 reaches pcpu0, whose handler wakes vcpu0's thread.
    const t = checkerTrace('wakeup-migrate', 'mutation-ndst-rewritten-while-blocked');
    const woken = t.entries.find((e) => e.events.some((x) => x.kind === 'wake_up' && x.b === 1));
    assert.ok(woken, 'the trace wakes a blocked thread');
    const doc = parseXml(traceToSvg(t.entries, t.opts));
    const [row] = all(
      doc,
      (n) => n.name === 'g' && hasClass(n, 'step') && n.attrs['data-n'] === String(woken!.n),
    );
    const [wake] = all(row, (n) => n.name === 'g' && hasClass(n, 'ev-wake_up'));
    assert.ok(wake, 'a wake-up item');
    assert.ok(hasClass(wake, 'arrow'), 'drawn as an arrow from the pCPU to the vCPU');
    assert.match(textOf(wake), /kvm_vcpu_wake_up: thread woken/);
    const heads = all(wake, (n) => 'marker-end' in n.attrs);
    assert.deepEqual(
      heads.map((n) => n.attrs['marker-end']),
      ['url(#irqlab-arrow-wake)'],
    );
    assert.match(textOf(row), /host handler for 0xf1 runs: pi_wakeup_handler/);
    // The notification on the wake-up vector is an arrow too, named as such.
    const svg = traceToSvg(t.entries, t.opts);
    assert.match(svg, /wakeup 0xf1 for vcpu0/);
    assert.match(
      all(doc, (n) => hasClass(n, 'legend'))
        .map(textOf)
        .join(' '),
      /wake-up/,
    );
    // A wake-up that reports no woken thread (the run model's AVIC steps) keeps the plain name.
    const plain = traceToSvg([entry(1, 'host', 'wake', [ev('wake_up', 0, 0)])], { title: 't' });
    assert.match(plain, /kvm_vcpu_wake_up</);
    assert.ok(!plain.includes('thread woken') && !plain.includes('pi_wakeup_handler'));
  });

  test('is deterministic: the same bytes for the same trace', () => {
    const a = traceToSvg(seed001.entries, seed001.opts);
    const b = traceToSvg(structuredClone(seed001.entries), structuredClone(seed001.opts));
    assert.equal(a, b);
    assert.equal(traceToSvg([], { title: 'empty' }), traceToSvg([], { title: 'empty' }));
    assert.doesNotThrow(() => parseXml(traceToSvg([], { title: 'empty' })));
  });

  test('matches the golden file for seed-004 · before', () => {
    const svg = traceToSvg(seed004.entries, seed004.opts);
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(dirname(GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, svg);
    }
    assert.equal(
      svg,
      readFileSync(GOLDEN, 'utf8'),
      'regenerate with UPDATE_GOLDEN=1 if the change is intended',
    );
  });

  test('src/trace stays pure: no node: imports', () => {
    for (const f of readdirSync(TRACE_DIR).filter((x) => x.endsWith('.ts'))) {
      const src = readFileSync(`${TRACE_DIR}${f}`, 'utf8');
      assert.ok(!/from ['"]node:/.test(src) && !/import\(['"]node:/.test(src), f);
    }
  });
});
