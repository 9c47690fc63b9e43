/**
 * A trace drawn as an SVG message sequence chart: one lifeline per participant (vCPUs, pCPUs, the
 * IOMMU, other actors), one row per trace entry, numbered like the text trace. Each row shows the
 * step's label at the acting lane, the fields it changed, and its events: postings, notifications
 * and IPIs as arrows, posted-interrupt processing as an arrow from the pCPU to the vCPU whose PID
 * was processed, deliveries and EOIs as marks, VM entries and exits as links between a vCPU and its
 * pCPU. Guest mode is an activation bar on the vCPU lane and on the pCPU lane, coloured by vCPU.
 * A program step shows what it read, with the values it saw ("read vcpu0.PID.ON=0"), as the text
 * trace does. A step stands on its actor's lane; a KVM thread's (a named actor with a vCPU) on its
 * vCPU's, which the trace entry says (entry.vcpu). Events are read by name (events.ts).
 * A notification processed against the wrong vCPU is drawn in red; a violated property closes the
 * chart in a red band. A lasso (a fair-cycle counterexample) has its loop marked: a line before the
 * first step of the loop, and a bracket along the looping steps with an arrow back to that line.
 *
 * The output is standalone (no fonts, images or scripts from outside), deterministic (same input,
 * same bytes), and sized from a monospace font's advance so that layout needs no text measuring.
 */
import { EXIT_REASON_NAMES } from '../model/platform/events.ts';
import { decodeEvent, type Event } from './events.ts';
import { describeEvent, type TraceEntry } from './record.ts';

export interface SvgOptions {
  /** The chart's heading, e.g. "seed-004 · before [load=clear-sn]". */
  title: string;
  /** The property the trace violates, drawn as a red band after the last step. */
  violation?: { property: string; what: string };
  /**
   * For a lasso (a fair-cycle counterexample, the trace JSON's `loopStart`): the index of the first
   * entry of the loop, so entries[loopStart..] repeat forever (steps loopStart+1..n, numbered from 1).
   */
  loopStart?: number;
}

// ---------------------------------------------------------------------------------------------
// Geometry and style

const FONT = 'DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace';
/** Advance of one monospace character, in ems (DejaVu Sans Mono: 0.602). */
const ADVANCE = 0.61;
const F_TITLE = 15;
const F_HEAD = 12;
const F_LABEL = 12;
const F_SMALL = 11;
const MARGIN = 16;
const HEAD_H = 36;
const ROW_PAD = 6;
const LINE_L = 16;
const LINE_S = 14;
const ITEM_H = 24;
const MARK_H = 20;
const BAR_W = 14;
/** Width of text blocks (labels, changes) in pixels before they wrap. */
const TEXT_W = 560;
const LABEL_CHARS = Math.floor(TEXT_W / (F_LABEL * ADVANCE));
const SMALL_CHARS = Math.floor(TEXT_W / (F_SMALL * ADVANCE));
const MAX_LABEL_LINES = 3;
const MAX_CHANGE_LINES = 3;
const MAX_READ_LINES = 3;
const CHANGE_CHARS = 44;
const MIN_GAP = 140;
const MAX_GAP = 300;
/** Height of the loop marker line before a lasso's loop, and width added for its bracket. */
const LOOP_H = 26;
const LOOP_W = 26;

const POSTED_INTR_VECTOR = 0xf2;
const POSTED_INTR_WAKEUP_VECTOR = 0xf1;
const POSTED_INTR_NESTED_VECTOR = 0xf0;

const C = {
  text: '#1b1f24',
  dim: '#6a737d',
  change: '#0b6e82',
  lifeline: '#a0a8b2',
  zebra: '#f5f7fa',
  post: '#1f5fae',
  notify: '#c05a00',
  irq: '#6a6f76',
  process: '#2d7d46',
  wrong: '#c62828',
  wrongBg: '#fdecea',
  link: '#4b5259',
  pcpuHead: '#e9ecef',
  iommuHead: '#fff1c7',
  otherHead: '#ffffff',
  loop: '#6f42c1',
  read: '#57606a',
} as const;

/** Guest-mode colours, one per vCPU index (fill, stroke). */
const VCPU_PALETTE: readonly (readonly [string, string])[] = [
  ['#cfe9d4', '#5a9e6f'],
  ['#d3e2f5', '#5b83b8'],
  ['#e4d9f2', '#8a6bb3'],
  ['#d0ecec', '#4f9a9a'],
  ['#f3e4c4', '#b08a3c'],
  ['#e3eac4', '#85934a'],
];

type Style = 'post' | 'notify' | 'irq' | 'process' | 'wrong' | 'wake' | 'link';

const STYLE: Record<Style, { color: string; dash?: string; width: number }> = {
  post: { color: C.post, width: 1.5 },
  notify: { color: C.notify, dash: '6 3', width: 1.5 },
  irq: { color: C.irq, dash: '6 3', width: 1.5 },
  process: { color: C.process, width: 1.5 },
  wrong: { color: C.wrong, width: 2 },
  wake: { color: C.irq, dash: '2 3', width: 1.5 },
  link: { color: C.link, dash: '2 3', width: 1 },
};

// ---------------------------------------------------------------------------------------------
// Text helpers

function esc(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    // Characters XML 1.0 does not allow at all.
    else if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff)
      out += '\u{fffd}';
    else out += ch;
  }
  return out;
}

function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function textW(s: string, size: number): number {
  return Math.ceil(chars(s) * size * ADVANCE);
}

function clip(s: string, max: number): string {
  const cs = [...s];
  return cs.length <= max ? s : `${cs.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** Greedy word wrap; words longer than a line are cut. */
function wrapWords(s: string, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word0 of s.split(' ')) {
    let word = word0;
    while (chars(word) > max) {
      if (line) lines.push(line);
      line = '';
      const cs = [...word];
      lines.push(cs.slice(0, max).join(''));
      word = cs.slice(max).join('');
    }
    if (!line) line = word;
    else if (chars(line) + 1 + chars(word) <= max) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * Wraps a label at about `max` characters, preferring the "; " between clauses, to at most
 * `maxLines` lines; returns whether it had to cut.
 */
function wrapLabel(s: string, max: number, maxLines: number): { lines: string[]; cut: boolean } {
  let lines: string[];
  if (chars(s) <= max) lines = [s];
  else {
    const parts = s.split('; ');
    lines = parts.flatMap((p, i) => wrapWords(i < parts.length - 1 ? `${p};` : p, max));
  }
  if (lines.length <= maxLines) return { lines, cut: false };
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = clip(`${kept[maxLines - 1]} …`, max);
  if (!kept[maxLines - 1].endsWith('…')) kept[maxLines - 1] += '…';
  return { lines: kept, cut: true };
}

function hex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16).padStart(2, '0')}` : `0x${v.toString(16).padStart(2, '0')}`;
}

function vectorName(v: number): string {
  if (v === POSTED_INTR_VECTOR) return `notification ${hex(v)}`;
  if (v === POSTED_INTR_WAKEUP_VECTOR) return `wakeup ${hex(v)}`;
  if (v === POSTED_INTR_NESTED_VECTOR) return `nested notification ${hex(v)}`;
  return `IRQ ${hex(v)}`;
}

function n(v: number): string {
  return String(Math.round(v));
}

// ---------------------------------------------------------------------------------------------
// Participants

type LaneKind = 'vcpu' | 'pcpu' | 'iommu' | 'other';

interface Lane {
  key: string;
  kind: LaneKind;
  /** vCPU or pCPU index; -1 otherwise. */
  index: number;
  title: string;
  sub: string;
  x: number;
}

const VCPU_RE = /^vcpu(\d+)$/;
const PCPU_RE = /^pcpu(\d+)$/;
const STANDARD = new Set(['iommu', 'ioapic', 'host']);

function isStandard(actor: string): boolean {
  return VCPU_RE.test(actor) || PCPU_RE.test(actor) || STANDARD.has(actor);
}

/**
 * The lane a step stands on: a CPU's, the IOMMU's, the I/O APIC's or the host's own; a named
 * actor's vCPU's when the step acts as a vCPU (a KVM thread: entry.vcpu), else the actor's own.
 */
function laneOfEntry(e: TraceEntry): string {
  if (isStandard(e.actor) || e.vcpu === null) return e.actor;
  return `vcpu${e.vcpu}`;
}

// ---------------------------------------------------------------------------------------------
// Row items: what each event draws

type Item =
  | { t: 'arrow'; from: string; to: string; label: string; style: Style; cls: string; cross?: boolean }
  | { t: 'found'; to: string; label: string; style: Style; cls: string }
  | { t: 'self'; lane: string; label: string; style: Style; cls: string }
  | { t: 'link'; vcpu: string; pcpu: string | null; label: string; cls: string; entry: boolean }
  | { t: 'mark'; lane: string; label: string; symbol: MarkSymbol; color: string; cls: string };

type MarkSymbol = 'diamond' | 'square' | 'hollow' | 'circle' | 'triangle';

interface Row {
  entry: TraceEntry;
  /** The entry's events, decoded once. */
  events: Event[];
  lane: string;
  hw: boolean;
  wrong: boolean;
  labelLines: string[];
  labelFull: string | null;
  note: string | null;
  readLines: string[];
  readFull: string | null;
  changeLines: string[];
  changeFull: string | null;
  items: Item[];
  /** Vertical offsets of each item's centre line, from the row top. */
  itemY: number[];
  top: number;
  height: number;
}

function itemsOf(
  events: readonly Event[],
  actorLane: string,
  vcpuLane: (x: number) => string,
  hasIoapic: boolean,
): Item[] {
  const pcpuLane = (p: number) => `pcpu${p}`;
  const items: Item[] = [];
  let irqSource = actorLane;
  for (const ev of events) {
    const kind = ev.kind === 'other' ? ev.name : ev.kind;
    const cls = `ev ev-${kind.replace(/[^a-z0-9_-]/gi, '_')}`;
    switch (ev.kind) {
      case 'vtd_post':
        irqSource = 'iommu';
        items.push({
          t: 'arrow',
          from: 'iommu',
          to: vcpuLane(ev.vcpu),
          label: `post ${hex(ev.vector)} to PIR${ev.notified ? '' : ', no notification'}`,
          style: 'post',
          cls,
        });
        break;
      case 'ipiv_post': {
        const from = vcpuLane(ev.sender);
        irqSource = from;
        const label = `IPIv post ${hex(ev.vector)}${ev.notified ? '' : ', no notification'}`;
        if (from === vcpuLane(ev.vcpu)) items.push({ t: 'self', lane: from, label, style: 'post', cls });
        else items.push({ t: 'arrow', from, to: vcpuLane(ev.vcpu), label, style: 'post', cls });
        break;
      }
      case 'phys_irq': {
        const to = pcpuLane(ev.pcpu);
        const label = `${vectorName(ev.vector)}${ev.forVcpu !== null ? ` for vcpu${ev.forVcpu}` : ''}`;
        const style: Style =
          ev.vector === POSTED_INTR_VECTOR || ev.vector === POSTED_INTR_WAKEUP_VECTOR ? 'notify' : 'irq';
        if (irqSource === to) items.push({ t: 'found', to, label: `${label} arrives`, style, cls });
        else items.push({ t: 'arrow', from: irqSource, to, label, style, cls });
        break;
      }
      case 'phys_irq_dropped':
        items.push({
          t: 'mark',
          lane: irqSource,
          label: `${vectorName(ev.vector)} to APIC ID ${ev.apicId}: nobody, dropped`,
          symbol: 'circle',
          color: C.irq,
          cls,
        });
        break;
      case 'pi_wrong_vcpu': {
        const meant = ev.meantFor;
        for (const x of meant) {
          items.push({
            t: 'arrow',
            from: pcpuLane(ev.pcpu),
            to: vcpuLane(x),
            label: `× notification for vcpu${x} processed against vcpu${ev.vcpu}`,
            style: 'wrong',
            cls,
            cross: true,
          });
        }
        if (meant.length === 0)
          items.push({
            t: 'mark',
            lane: pcpuLane(ev.pcpu),
            label: `× notification processed against vcpu${ev.vcpu}`,
            symbol: 'circle',
            color: C.wrong,
            cls,
          });
        break;
      }
      case 'pi_process': {
        const wrong = events.some(
          (w) => w.kind === 'pi_wrong_vcpu' && w.pcpu === ev.pcpu && w.vcpu === ev.vcpu,
        );
        items.push({
          t: 'arrow',
          from: pcpuLane(ev.pcpu),
          to: vcpuLane(ev.vcpu),
          label: `PI processing: ${ev.highest !== null ? `PIR→vIRR, max ${hex(ev.highest)}` : 'PIR empty'}`,
          style: wrong ? 'wrong' : 'process',
          cls,
        });
        break;
      }
      case 'deliver':
        items.push({
          t: 'mark',
          lane: vcpuLane(ev.vcpu),
          label: `guest handler ${hex(ev.vector)} runs`,
          symbol: 'diamond',
          color: C.process,
          cls,
        });
        break;
      case 'eoi':
        // A host EOI is broadcast to the I/O APIC, which re-sends a level-triggered line still asserted.
        if (ev.pcpu !== null && hasIoapic) irqSource = 'ioapic';
        items.push(
          ev.vcpu !== null
            ? {
                t: 'mark',
                lane: vcpuLane(ev.vcpu),
                label: `EOI ${hex(ev.vector)}`,
                symbol: 'hollow',
                color: C.link,
                cls,
              }
            : {
                t: 'mark',
                lane: pcpuLane(ev.pcpu ?? 0),
                label: `host EOI ${hex(ev.vector)}`,
                symbol: 'hollow',
                color: C.link,
                cls,
              },
        );
        break;
      case 'vmexit': {
        const reason = EXIT_REASON_NAMES[ev.reason] ?? String(ev.reason);
        items.push({
          t: 'link',
          vcpu: vcpuLane(ev.vcpu),
          pcpu: ev.pcpu !== null ? pcpuLane(ev.pcpu) : null,
          label: `VM exit: ${reason}${ev.qualification ? ` (${hex(ev.qualification)})` : ''}`,
          cls,
          entry: false,
        });
        break;
      }
      case 'vmentry':
        items.push({
          t: 'link',
          vcpu: vcpuLane(ev.vcpu),
          pcpu: ev.pcpu >= 0 ? pcpuLane(ev.pcpu) : null,
          label: `VM entry on pcpu${ev.pcpu}`,
          cls,
          entry: true,
        });
        break;
      case 'host_irq':
        items.push({
          t: 'mark',
          lane: pcpuLane(ev.pcpu),
          // The wake-up vector's handler names itself when the trace shows it waking a vCPU.
          label:
            ev.vector === POSTED_INTR_WAKEUP_VECTOR && events.some((w) => w.kind === 'wake_up')
              ? `host handler for ${hex(ev.vector)} runs: pi_wakeup_handler`
              : `host handler for ${hex(ev.vector)} runs`,
          symbol: 'square',
          color: C.notify,
          cls,
        });
        break;
      case 'spurious':
        items.push({
          t: 'mark',
          lane: pcpuLane(ev.pcpu),
          label: `spurious interrupt ${hex(ev.vector)}`,
          symbol: 'circle',
          color: C.irq,
          cls,
        });
        break;
      case 'self_ipi':
        items.push({
          t: 'self',
          lane: vcpuLane(ev.vcpu),
          label: `self-IPI ${hex(ev.vector)}`,
          style: 'post',
          cls,
        });
        break;
      case 'illegal_vector':
        items.push({
          t: 'mark',
          lane: vcpuLane(ev.vcpu),
          label: `illegal vector ${hex(ev.vector)}: not sent`,
          symbol: 'triangle',
          color: C.notify,
          cls,
        });
        break;
      case 'wake_up': {
        const to = vcpuLane(ev.vcpu);
        // A thread blocked in kvm_vcpu_block was woken (the checker's KVM model). The run model's
        // AVIC steps always report no wake, so that does not say that nothing happened.
        const label = ev.woken ? 'kvm_vcpu_wake_up: thread woken' : 'kvm_vcpu_wake_up';
        if (actorLane === to) items.push({ t: 'self', lane: to, label, style: 'wake', cls });
        else items.push({ t: 'arrow', from: actorLane, to, label, style: 'wake', cls });
        break;
      }
      default:
        items.push({
          t: 'mark',
          lane: actorLane,
          label:
            ev.kind === 'other'
              ? `${ev.name} ${ev.a} ${ev.b} ${ev.c} ${ev.d}`
              : (describeEvent(ev) ?? ev.kind),
          symbol: 'circle',
          color: C.irq,
          cls,
        });
    }
  }
  return items;
}

function itemLanes(it: Item): string[] {
  switch (it.t) {
    case 'arrow':
      return [it.from, it.to];
    case 'found':
      return [it.to];
    case 'self':
    case 'mark':
      return [it.lane];
    case 'link':
      return it.pcpu ? [it.vcpu, it.pcpu] : [it.vcpu];
  }
}

function itemHeight(it: Item): number {
  return it.t === 'mark' || it.t === 'found' ? MARK_H : ITEM_H;
}

// ---------------------------------------------------------------------------------------------
// Guest-mode bars

interface Bar {
  lane: string;
  vcpu: number;
  y0: number;
  y1: number;
}

/**
 * Guest-mode intervals from VM entries and exits. Before a vCPU's first entry or exit its mode is
 * inferred: in guest mode if the first transition is an exit from a pCPU (an exit reported with
 * pCPU -1 is one of a vCPU not in guest mode), or, with no transition at all, if the trace shows it
 * running guest code (a delivery, PI processing against it, a self-IPI, IPIv).
 */
function guestBars(rows: readonly Row[], vcpuIndexOf: (lane: string) => number, top: number, bottom: number) {
  interface Tr {
    y: number;
    enter: boolean;
    pcpu: string | null;
  }
  const trans = new Map<number, Tr[]>();
  const evidence = new Map<number, { pcpu: string | null }>();
  for (const r of rows) {
    r.items.forEach((it, i) => {
      const y = r.top + r.itemY[i];
      if (it.t === 'link') {
        const x = vcpuIndexOf(it.vcpu);
        if (x < 0) return;
        if (!trans.has(x)) trans.set(x, []);
        trans.get(x)!.push({ y, enter: it.entry, pcpu: it.pcpu });
      }
    });
    for (const ev of r.events) {
      let x = -1;
      let pcpu: string | null = null;
      if (ev.kind === 'deliver' || ev.kind === 'self_ipi') x = ev.vcpu;
      else if (ev.kind === 'ipiv_post') x = ev.sender;
      else if (ev.kind === 'pi_process') {
        x = ev.vcpu;
        pcpu = `pcpu${ev.pcpu}`;
      }
      if (x < 0 || trans.has(x)) continue;
      const prev = evidence.get(x);
      if (!prev || (!prev.pcpu && pcpu)) evidence.set(x, { pcpu });
    }
  }
  const bars: Bar[] = [];
  const push = (lane: string, vcpu: number, y0: number, y1: number, pcpu: string | null) => {
    bars.push({ lane, vcpu, y0, y1 });
    if (pcpu) bars.push({ lane: pcpu, vcpu, y0, y1 });
  };
  const vcpus = new Set([...trans.keys(), ...evidence.keys()]);
  for (const x of [...vcpus].sort((a, b) => a - b)) {
    const lane = `vcpu${x}`;
    const ts = trans.get(x);
    if (!ts) {
      push(lane, x, top, bottom, evidence.get(x)!.pcpu);
      continue;
    }
    // An exit reported without a pCPU is one of a vCPU that was not in guest mode.
    const first = ts[0];
    let open: { y: number; pcpu: string | null } | null =
      first.enter || first.pcpu === null ? null : { y: top, pcpu: first.pcpu };
    for (const t of ts) {
      if (t.enter) {
        if (!open) open = { y: t.y, pcpu: t.pcpu };
      } else if (open && t.pcpu !== null) {
        push(lane, x, open.y, t.y, open.pcpu ?? t.pcpu);
        open = null;
      }
    }
    if (open) push(lane, x, open.y, bottom, open.pcpu);
  }
  return bars;
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives

function halo(bg: string): string {
  return ` paint-order="stroke" stroke="${bg}" stroke-width="3" stroke-linejoin="round"`;
}

function textEl(
  x: number,
  y: number,
  s: string,
  o: {
    size: number;
    fill?: string;
    anchor?: 'start' | 'middle' | 'end';
    weight?: string;
    bg?: string;
    cls?: string;
    italic?: boolean;
  },
): string {
  const attrs = [
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    `font-size="${o.size}"`,
    o.fill ? `fill="${o.fill}"` : '',
    o.anchor && o.anchor !== 'start' ? `text-anchor="${o.anchor}"` : '',
    o.weight ? `font-weight="${o.weight}"` : '',
    o.italic ? 'font-style="italic"' : '',
    o.cls ? `class="${o.cls}"` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `<text ${attrs}${o.bg ? halo(o.bg) : ''}>${esc(s)}</text>`;
}

function markerId(style: Style): string {
  return `irqlab-arrow-${style}`;
}

function lineEl(x1: number, y1: number, x2: number, y2: number, style: Style, marker: string | null): string {
  const s = STYLE[style];
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}${marker ? ` marker-end="url(#${marker})"` : ''}/>`;
}

function symbolEl(sym: MarkSymbol, x: number, y: number, color: string): string {
  switch (sym) {
    case 'diamond':
      return `<path d="M${n(x)},${n(y - 6)} L${n(x + 6)},${n(y)} L${n(x)},${n(y + 6)} L${n(x - 6)},${n(y)} Z" fill="${color}"/>`;
    case 'square':
      return `<rect x="${n(x - 5)}" y="${n(y - 5)}" width="10" height="10" fill="${color}"/>`;
    case 'hollow':
      return `<rect x="${n(x - 5)}" y="${n(y - 5)}" width="10" height="10" fill="#fff" stroke="${color}" stroke-width="1.5"/>`;
    case 'triangle':
      return `<path d="M${n(x)},${n(y - 6)} L${n(x + 6)},${n(y + 5)} L${n(x - 6)},${n(y + 5)} Z" fill="#fff" stroke="${color}" stroke-width="1.5"/>`;
    case 'circle':
      return `<circle cx="${n(x)}" cy="${n(y)}" r="4.5" fill="${color}"/>`;
  }
}

function defs(): string {
  const styles: Style[] = ['post', 'notify', 'irq', 'process', 'wrong', 'wake'];
  const arrows = styles.map(
    (s) =>
      `<marker id="${markerId(s)}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 Z" fill="${STYLE[s].color}"/></marker>`,
  );
  arrows.push(
    `<marker id="irqlab-cross" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="11" markerHeight="11" markerUnits="userSpaceOnUse" orient="auto"><path d="M1,1 L9,9 M9,1 L1,9" stroke="${C.wrong}" stroke-width="2.2" fill="none"/></marker>`,
  );
  return `<defs>${arrows.join('')}</defs>`;
}

// ---------------------------------------------------------------------------------------------
// The chart

/** Draws trace entries as a standalone SVG sequence chart. */
export function traceToSvg(entries: readonly TraceEntry[], opts: SvgOptions): string {
  const { loopStart } = opts;
  if (
    loopStart !== undefined &&
    !(Number.isInteger(loopStart) && loopStart >= 0 && loopStart < entries.length)
  )
    throw new RangeError(
      `traceToSvg: loopStart ${loopStart} is not an entry index (0..${entries.length - 1}): the loop would be empty`,
    );
  // Participants.
  const vcpuLane = (x: number) => `vcpu${x}`;
  const hasIoapic = entries.some((e) => e.actor === 'ioapic');
  const rows: Row[] = entries.map((e) => {
    const lane = laneOfEntry(e);
    const events = e.events.map(decodeEvent);
    const items = itemsOf(events, lane, vcpuLane, hasIoapic);
    return {
      entry: e,
      events,
      lane,
      hw: e.hardware,
      wrong: events.some((ev) => ev.kind === 'pi_wrong_vcpu'),
      labelLines: [],
      labelFull: null,
      note: e.note ? `# ${e.note}` : null,
      readLines: [],
      readFull: null,
      changeLines: [],
      changeFull: null,
      items,
      itemY: [],
      top: 0,
      height: 0,
    };
  });
  const laneKeys = new Set<string>();
  for (const r of rows) {
    laneKeys.add(r.lane);
    for (const it of r.items) for (const k of itemLanes(it)) laneKeys.add(k);
  }
  // The named actors (KVM threads) that stand on a vCPU's lane, to name them in its head.
  const namesOf = new Map<number, string[]>();
  for (const e of entries) {
    if (isStandard(e.actor) || e.vcpu === null) continue;
    const names = namesOf.get(e.vcpu) ?? [];
    if (!names.includes(e.actor)) names.push(e.actor);
    namesOf.set(e.vcpu, names);
  }
  for (const names of namesOf.values()) names.sort();
  const lanes: Lane[] = [...laneKeys].map((key) => {
    const v = VCPU_RE.exec(key);
    if (v) {
      const x = Number(v[1]);
      const names = namesOf.get(x);
      return names
        ? { key, kind: 'vcpu', index: x, title: names.join(', '), sub: key, x: 0 }
        : { key, kind: 'vcpu', index: x, title: key, sub: '', x: 0 };
    }
    const p = PCPU_RE.exec(key);
    if (p) return { key, kind: 'pcpu', index: Number(p[1]), title: key, sub: '', x: 0 };
    if (key === 'iommu') return { key, kind: 'iommu', index: -1, title: key, sub: '', x: 0 };
    return { key, kind: /^vcpu/i.test(key) ? 'vcpu' : 'other', index: -1, title: key, sub: '', x: 0 };
  });
  const kindRank: Record<LaneKind, number> = { vcpu: 0, pcpu: 1, iommu: 2, other: 3 };
  lanes.sort((a, b) => {
    if (a.kind !== b.kind) return kindRank[a.kind] - kindRank[b.kind];
    const ai = a.index < 0 ? Number.MAX_SAFE_INTEGER : a.index;
    const bi = b.index < 0 ? Number.MAX_SAFE_INTEGER : b.index;
    if (ai !== bi) return ai - bi;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  const laneIdx = new Map(lanes.map((l, i) => [l.key, i]));
  const laneOf = (key: string) => lanes[laneIdx.get(key)!];
  const vcpuIndexOf = (key: string) => {
    const m = VCPU_RE.exec(key);
    return m ? Number(m[1]) : -1;
  };

  // Horizontal layout.
  const numChars = String(entries.reduce((m, e) => Math.max(m, e.n), 0)).length + 1;
  const numRight = MARGIN + 10 + textW('0'.repeat(numChars), F_LABEL);
  const boxW = Math.max(
    90,
    ...lanes.map((l) => Math.max(textW(l.title, F_HEAD), textW(l.sub, F_SMALL)) + 20),
  );
  let gap = Math.max(MIN_GAP, boxW + 24);
  for (const r of rows) {
    for (const it of r.items) {
      if (it.t !== 'arrow' && it.t !== 'link') continue;
      const ls = itemLanes(it);
      if (ls.length < 2) continue;
      const d = Math.abs(laneIdx.get(ls[0])! - laneIdx.get(ls[1])!);
      if (d > 0) gap = Math.max(gap, Math.ceil((textW(it.label, F_SMALL) + 30) / d));
    }
  }
  gap = Math.min(gap, MAX_GAP);
  const firstX = Math.max(numRight + 12 + boxW / 2, numRight + 80);
  lanes.forEach((l, i) => {
    l.x = Math.round(firstX + i * gap);
  });
  const lanesLeft = numRight + 8;
  const lanesRight = lanes.length > 0 ? lanes[lanes.length - 1].x + gap / 2 : firstX;

  // Text of each row.
  for (const r of rows) {
    const e = r.entry;
    // Checker traces name a device's function after the device ("iommu: iommu: post ..."): say it once.
    const action = e.action.startsWith(`${e.actor}: `) ? e.action.slice(e.actor.length + 2) : e.action;
    const full = `${e.actor}${r.hw ? ' (hw)' : ''}: ${action}`;
    const wl = wrapLabel(full, LABEL_CHARS, MAX_LABEL_LINES);
    r.labelLines = wl.lines;
    r.labelFull = wl.cut ? full : null;
    // What a program step read, with the values it saw (a hardware reaction's reads are its unit's
    // whole state and would only add noise), as the text trace shows it.
    if (!e.hardware && e.reads.length > 0) {
      const full = `read ${e.reads.map((x) => `${x.field}=${x.value}`).join(', ')}`;
      const lines = wrapWords(full, SMALL_CHARS);
      r.readFull = lines.length > MAX_READ_LINES ? full : null;
      if (lines.length > MAX_READ_LINES) {
        lines.length = MAX_READ_LINES;
        lines[MAX_READ_LINES - 1] = `${lines[MAX_READ_LINES - 1]} …`;
      }
      r.readLines = lines;
    }
    if (e.changes.length > 0) {
      const texts = e.changes.map((c) => `${c.field} ${c.from}→${c.to}`);
      let cut = false;
      const clipped = texts.map((t) => {
        const c = clip(t, CHANGE_CHARS);
        if (c !== t) cut = true;
        return c;
      });
      const lines: string[] = [];
      let line = '';
      for (const t of clipped) {
        if (line && chars(line) + 2 + chars(t) > SMALL_CHARS) {
          lines.push(`${line},`);
          line = '';
        }
        line = line ? `${line}, ${t}` : t;
      }
      if (line) lines.push(line);
      if (lines.length > MAX_CHANGE_LINES) {
        const shown = lines.slice(0, MAX_CHANGE_LINES).join(' ');
        const shownCount = shown.split('→').length - 1;
        lines.length = MAX_CHANGE_LINES;
        lines[MAX_CHANGE_LINES - 1] = `${lines[MAX_CHANGE_LINES - 1]} … (+${texts.length - shownCount} more)`;
        cut = true;
      }
      r.changeLines = lines;
      r.changeFull = cut ? texts.join('\n') : null;
    }
  }

  // Vertical layout.
  const titleLines = wrapWords(opts.title, Math.max(40, Math.floor(900 / (F_TITLE * ADVANCE))));
  let y = MARGIN + titleLines.length * 20;
  const legendTop = y + 4;
  // The legend is laid out once the width is known; reserve its height after computing it below.
  const present = new Set<string>();
  for (const r of rows)
    for (const it of r.items) {
      if (it.t === 'arrow' || it.t === 'self' || it.t === 'found') present.add(it.style);
      else if (it.t === 'link') present.add('link');
      else if (it.symbol === 'diamond') present.add('deliver');
    }

  // Which side of its lane each lane's text goes (the same for all its rows): right of it if
  // the widest fits within the lanes, else left if it fits there, else right (widening the chart).
  const rowTextW = (r: Row) =>
    Math.max(
      ...r.labelLines.map((l) => textW(l, F_LABEL)),
      ...r.readLines.map((l) => textW(l, F_SMALL)),
      ...r.changeLines.map((l) => textW(l, F_SMALL)),
      r.note ? textW(r.note, F_SMALL) : 0,
    );
  const need = new Map<string, number>();
  const want = (key: string, w: number) => need.set(key, Math.max(need.get(key) ?? 0, w));
  for (const r of rows) {
    want(r.lane, rowTextW(r) + 10);
    for (const it of r.items) {
      if (it.t === 'mark') want(it.lane, textW(it.label, F_SMALL) + 12);
      else if (it.t === 'found') want(it.to, textW(it.label, F_SMALL) + 70);
      else if (it.t === 'self') want(it.lane, textW(it.label, F_SMALL) + 36);
    }
  }
  const sides = new Map<string, 'right' | 'left'>();
  let width = lanesRight;
  for (const l of lanes) {
    const w = need.get(l.key) ?? 0;
    const sd = l.x + w <= lanesRight ? 'right' : l.x - w >= lanesLeft ? 'left' : 'right';
    sides.set(l.key, sd);
    if (sd === 'right') width = Math.max(width, l.x + w);
  }
  const side = (key: string) => sides.get(key)!;
  // Room for the loop's bracket, right of every row's text.
  if (loopStart !== undefined) width += LOOP_W;
  width = Math.max(width, ...titleLines.map((t) => MARGIN + textW(t, F_TITLE)));
  width = Math.ceil(width + MARGIN);

  // Legend (wraps to the width).
  const legend: { w: number; draw: (x: number, y: number) => string }[] = [];
  const legendText = (x: number, yy: number, s: string) =>
    textEl(x, yy + 4, s, { size: F_SMALL, fill: C.dim });
  const legendArrow = (style: Style, label: string) => {
    legend.push({
      w: 36 + textW(label, F_SMALL) + 18,
      draw: (x, yy) => lineEl(x, yy, x + 28, yy, style, markerId(style)) + legendText(x + 34, yy, label),
    });
  };
  const guestShown = rows.some(
    (r) =>
      r.items.some((it) => it.t === 'link') ||
      r.events.some((ev) => ['deliver', 'self_ipi', 'ipiv_post', 'pi_process'].includes(ev.kind)),
  );
  if (guestShown)
    legend.push({
      w: 20 + textW('guest mode (non-root), by vCPU', F_SMALL) + 18,
      draw: (x, yy) => {
        const [fill, stroke] = VCPU_PALETTE[0];
        return `<rect x="${n(x + 2)}" y="${n(yy - 7)}" width="${BAR_W - 4}" height="14" fill="${fill}" stroke="${stroke}"/>${legendText(x + 18, yy, 'guest mode (non-root), by vCPU')}`;
      },
    });
  if (present.has('post')) legendArrow('post', 'posting (PIR, vIRR)');
  if (present.has('notify') || present.has('irq')) legendArrow('notify', 'notification / IRQ');
  if (present.has('process')) legendArrow('process', 'PI processing');
  if (present.has('deliver'))
    legend.push({
      w: 20 + textW('virtual delivery', F_SMALL) + 18,
      draw: (x, yy) => symbolEl('diamond', x + 6, yy, C.process) + legendText(x + 18, yy, 'virtual delivery'),
    });
  if (present.has('link'))
    legend.push({
      w: 36 + textW('VM entry / exit', F_SMALL) + 18,
      draw: (x, yy) => lineEl(x, yy, x + 28, yy, 'link', null) + legendText(x + 34, yy, 'VM entry / exit'),
    });
  if (present.has('wake')) legendArrow('wake', 'wake-up');
  if (present.has('wrong')) legendArrow('wrong', 'wrong vCPU');
  const legendLines: { x: number; i: number }[][] = [[]];
  {
    let lx = MARGIN;
    legend.forEach((it, i) => {
      if (lx > MARGIN && lx + it.w > width - MARGIN) {
        legendLines.push([]);
        lx = MARGIN;
      }
      legendLines[legendLines.length - 1].push({ x: lx, i });
      lx += it.w;
    });
  }
  y = legendTop + legendLines.length * 18 + 8;
  const headTop = y;
  y += HEAD_H + 10;
  const rowsTop = y;

  let loopTop = 0;
  for (const [i, r] of rows.entries()) {
    if (i === loopStart) {
      loopTop = y;
      y += LOOP_H;
    }
    r.top = y;
    let h =
      ROW_PAD +
      r.labelLines.length * LINE_L +
      (r.note ? LINE_S : 0) +
      r.readLines.length * LINE_S +
      r.changeLines.length * LINE_S;
    if (r.items.length > 0) h += 4;
    for (const it of r.items) {
      r.itemY.push(h + (it.t === 'mark' || it.t === 'found' ? MARK_H / 2 : 17));
      h += itemHeight(it);
    }
    h += ROW_PAD;
    r.height = h;
    y += h;
  }
  const rowsBottom = y;
  let violationTop = 0;
  let violationLines: string[] = [];
  if (opts.violation) {
    y += 10;
    violationTop = y;
    const wrapChars = Math.max(30, Math.floor((width - 2 * MARGIN - 24) / (F_LABEL * ADVANCE)));
    violationLines = wrapWords(opts.violation.what, wrapChars);
    y += 12 + 16 + violationLines.length * 16 + 8;
  }
  const footTop = y + 10;
  const height = footTop + HEAD_H + MARGIN;

  // Output.
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}" font-size="${F_LABEL}" class="irqlab-trace">`,
  );
  out.push(`<title>${esc(opts.title)}</title>`);
  out.push(defs());
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  titleLines.forEach((t, i) => {
    out.push(textEl(MARGIN, MARGIN + 14 + i * 20, t, { size: F_TITLE, weight: 'bold', fill: C.text }));
  });
  legendLines.forEach((line, li) => {
    const ly = legendTop + 9 + li * 18;
    out.push(`<g class="legend">${line.map(({ x, i }) => legend[i].draw(x, ly)).join('')}</g>`);
  });

  // Row backgrounds.
  const rowBg = (r: Row, i: number) => (r.wrong ? C.wrongBg : i % 2 === 1 ? C.zebra : '#ffffff');
  out.push('<g class="rows-bg">');
  rows.forEach((r, i) => {
    const bg = rowBg(r, i);
    if (bg !== '#ffffff')
      out.push(
        `<rect x="${MARGIN}" y="${n(r.top)}" width="${width - 2 * MARGIN}" height="${n(r.height)}" fill="${bg}"/>`,
      );
    if (r.wrong)
      out.push(`<rect x="${MARGIN}" y="${n(r.top)}" width="4" height="${n(r.height)}" fill="${C.wrong}"/>`);
  });
  out.push('</g>');

  // Lifelines and guest-mode bars.
  const lifeTop = headTop + HEAD_H;
  out.push('<g class="lifelines">');
  for (const l of lanes) {
    out.push(
      `<line x1="${l.x}" y1="${lifeTop}" x2="${l.x}" y2="${footTop}" stroke="${C.lifeline}" stroke-width="1" stroke-dasharray="4 4"/>`,
    );
  }
  out.push('</g>');
  const bars = guestBars(rows, vcpuIndexOf, rowsTop - 4, rowsBottom);
  out.push('<g class="guest-mode">');
  for (const b of bars) {
    const l = laneOf(b.lane);
    if (!l) continue;
    const [fill, stroke] = VCPU_PALETTE[b.vcpu % VCPU_PALETTE.length];
    const h = Math.max(2, b.y1 - b.y0);
    const what =
      l.kind === 'pcpu' ? `${l.key} runs vcpu${b.vcpu} in guest mode` : `vcpu${b.vcpu} in guest mode`;
    out.push(
      `<rect x="${n(l.x - BAR_W / 2)}" y="${n(b.y0)}" width="${BAR_W}" height="${n(h)}" fill="${fill}" stroke="${stroke}" stroke-width="1" class="guest-bar" data-lane="${esc(l.key)}"><title>${esc(what)}</title></rect>`,
    );
  }
  out.push('</g>');

  // Lane heads, top and bottom.
  const head = (l: Lane, top: number) => {
    const v = l.kind === 'vcpu' && l.index >= 0 ? VCPU_PALETTE[l.index % VCPU_PALETTE.length] : null;
    const fill = v ? v[0] : l.kind === 'pcpu' ? C.pcpuHead : l.kind === 'iommu' ? C.iommuHead : C.otherHead;
    const stroke = v ? v[1] : '#8a939c';
    const parts = [
      `<rect x="${n(l.x - boxW / 2)}" y="${top}" width="${boxW}" height="${HEAD_H}" rx="4" fill="${fill}" stroke="${stroke}" stroke-width="1.2"/>`,
    ];
    if (l.sub) {
      parts.push(
        textEl(l.x, top + 15, l.title, { size: F_HEAD, anchor: 'middle', weight: 'bold', fill: C.text }),
      );
      parts.push(textEl(l.x, top + 29, l.sub, { size: F_SMALL, anchor: 'middle', fill: C.dim }));
    } else {
      parts.push(
        textEl(l.x, top + 22, l.title, { size: F_HEAD, anchor: 'middle', weight: 'bold', fill: C.text }),
      );
    }
    return parts.join('');
  };
  for (const [cls, top] of [
    ['lane', headTop],
    ['lane-foot', footTop],
  ] as const) {
    out.push(`<g class="${cls}s">`);
    for (const l of lanes) out.push(`<g class="${cls}" data-lane="${esc(l.key)}">${head(l, top)}</g>`);
    out.push('</g>');
  }

  // Rows.
  rows.forEach((r, i) => {
    const bg = rowBg(r, i);
    const lane = laneOf(r.lane);
    const e = r.entry;
    out.push(`<g class="step${r.hw ? ' hw' : ''}${r.wrong ? ' wrong-vcpu' : ''}" data-n="${e.n}">`);
    let ty = r.top + ROW_PAD;
    // Step number.
    out.push(
      textEl(numRight, ty + 12, `${e.n}.`, {
        size: F_LABEL,
        anchor: 'end',
        fill: r.wrong ? C.wrong : loopStart !== undefined && i >= loopStart ? C.loop : r.hw ? C.dim : C.text,
        weight: r.hw ? undefined : 'bold',
      }),
    );
    // Label at the acting lane.
    const sd = side(lane.key);
    const tx = sd === 'right' ? lane.x + 10 : lane.x - 10;
    const anchor = sd === 'right' ? 'start' : 'end';
    out.push(
      `<circle cx="${lane.x}" cy="${n(ty + 8)}" r="3.5" fill="${r.wrong ? C.wrong : r.hw ? C.dim : C.text}"/>`,
    );
    const labelColor = r.wrong ? C.wrong : C.text;
    const who = `${e.actor}${r.hw ? ' (hw)' : ''}:`;
    const label: string[] = [];
    r.labelLines.forEach((line, li) => {
      const yy = ty + 12 + li * LINE_L;
      const attrs = `x="${n(tx)}" y="${n(yy)}" font-size="${F_LABEL}" fill="${labelColor}"${anchor === 'end' ? ' text-anchor="end"' : ''}${halo(bg)}`;
      if (li === 0 && line.startsWith(who)) {
        const whoColor = r.wrong ? C.wrong : r.hw ? C.dim : C.text;
        label.push(
          `<text ${attrs}><tspan font-weight="bold" fill="${whoColor}">${esc(who)}</tspan>${esc(line.slice(who.length))}</text>`,
        );
      } else label.push(`<text ${attrs}>${esc(line)}</text>`);
    });
    out.push(
      r.labelFull
        ? `<g class="label"><title>${esc(r.labelFull)}</title>${label.join('')}</g>`
        : `<g class="label">${label.join('')}</g>`,
    );
    ty += r.labelLines.length * LINE_L;
    if (r.note) {
      out.push(textEl(tx, ty + 11, r.note, { size: F_SMALL, fill: C.dim, anchor, bg, italic: true }));
      ty += LINE_S;
    }
    if (r.readLines.length > 0) {
      const lines = r.readLines.map((line, li) =>
        textEl(tx, ty + 11 + li * LINE_S, line, { size: F_SMALL, fill: C.read, anchor, bg }),
      );
      out.push(
        r.readFull
          ? `<g class="reads"><title>${esc(r.readFull)}</title>${lines.join('')}</g>`
          : `<g class="reads">${lines.join('')}</g>`,
      );
      ty += r.readLines.length * LINE_S;
    }
    if (r.changeLines.length > 0) {
      const lines = r.changeLines.map((line, li) =>
        textEl(tx, ty + 11 + li * LINE_S, line, { size: F_SMALL, fill: C.change, anchor, bg }),
      );
      out.push(
        r.changeFull
          ? `<g class="changes"><title>${esc(r.changeFull)}</title>${lines.join('')}</g>`
          : `<g class="changes">${lines.join('')}</g>`,
      );
    }
    // Events.
    r.items.forEach((it, k) => {
      const cy = r.top + r.itemY[k];
      out.push(drawItem(it, cy, bg));
    });
    out.push('</g>');
  });

  function drawItem(it: Item, cy: number, bg: string): string {
    switch (it.t) {
      case 'arrow': {
        const a = laneOf(it.from).x;
        const b = laneOf(it.to).x;
        const dir = b >= a ? 1 : -1;
        const x1 = a + dir * (BAR_W / 2 + 1);
        const x2 = b - dir * (it.cross ? 0 : BAR_W / 2 + 1);
        const room = Math.abs(x2 - x1) + 40;
        const label = clip(it.label, Math.max(8, Math.floor(room / (F_SMALL * ADVANCE))));
        const title = label !== it.label ? `<title>${esc(it.label)}</title>` : '';
        const dash = it.cross ? ' stroke-dasharray="5 3"' : '';
        const s = STYLE[it.style];
        const line = `<line x1="${n(x1)}" y1="${n(cy)}" x2="${n(x2)}" y2="${n(cy)}" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : dash} marker-end="url(#${it.cross ? 'irqlab-cross' : markerId(it.style)})"/>`;
        const t = textEl((x1 + x2) / 2, cy - 6, label, {
          size: F_SMALL,
          anchor: 'middle',
          fill: s.color,
          bg,
          weight: it.style === 'wrong' ? 'bold' : undefined,
        });
        return `<g class="arrow ${it.cls}">${title}${line}${t}</g>`;
      }
      case 'found': {
        const l = laneOf(it.to);
        const s = STYLE[it.style];
        const x0 = l.x - 56;
        const x2 = l.x - (BAR_W / 2 + 1);
        const sd = side(l.key);
        return `<g class="arrow ${it.cls}"><circle cx="${n(x0)}" cy="${n(cy)}" r="3" fill="${s.color}"/>${lineEl(x0, cy, x2, cy, it.style, markerId(it.style))}${textEl(sd === 'right' ? l.x + 12 : x0 - 8, cy + 4, it.label, { size: F_SMALL, fill: s.color, anchor: sd === 'right' ? 'start' : 'end', bg })}</g>`;
      }
      case 'self': {
        const l = laneOf(it.lane);
        const s = STYLE[it.style];
        const dir = side(l.key) === 'right' ? 1 : -1;
        const x0 = l.x + dir * (BAR_W / 2 + 1);
        const x1 = l.x + dir * 30;
        const path = `M${n(x0)},${n(cy - 10)} L${n(x1)},${n(cy - 10)} L${n(x1)},${n(cy)} L${n(x0)},${n(cy)}`;
        return `<g class="arrow ${it.cls}"><path d="${path}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} marker-end="url(#${markerId(it.style)})"/>${textEl(x1 + dir * 6, cy - 1, it.label, { size: F_SMALL, fill: s.color, anchor: dir > 0 ? 'start' : 'end', bg })}</g>`;
      }
      case 'link': {
        const v = laneOf(it.vcpu);
        const p = it.pcpu ? laneOf(it.pcpu) : null;
        const tick = (x: number) =>
          `<line x1="${n(x - 11)}" y1="${n(cy)}" x2="${n(x + 11)}" y2="${n(cy)}" stroke="${C.link}" stroke-width="3"/>`;
        const parts = [tick(v.x)];
        let t: string;
        if (p) {
          parts.push(tick(p.x));
          const dir = p.x >= v.x ? 1 : -1;
          parts.push(lineEl(v.x + dir * 11, cy, p.x - dir * 11, cy, 'link', null));
          t = textEl((v.x + p.x) / 2, cy - 6, it.label, {
            size: F_SMALL,
            anchor: 'middle',
            fill: C.link,
            bg,
          });
        } else {
          const right = side(v.key) === 'right';
          t = textEl(right ? v.x + 16 : v.x - 16, cy + 4, it.label, {
            size: F_SMALL,
            fill: C.link,
            bg,
            anchor: right ? 'start' : 'end',
          });
        }
        return `<g class="${it.entry ? 'vmentry' : 'vmexit'} ${it.cls}">${parts.join('')}${t}</g>`;
      }
      case 'mark': {
        const l = laneOf(it.lane);
        const sd = side(l.key);
        return `<g class="mark ${it.cls}">${symbolEl(it.symbol, l.x, cy, it.color)}${textEl(sd === 'right' ? l.x + 12 : l.x - 12, cy + 4, it.label, { size: F_SMALL, fill: it.color, anchor: sd === 'right' ? 'start' : 'end', bg, weight: it.color === C.wrong ? 'bold' : undefined })}</g>`;
      }
    }
  }

  // A lasso's loop: a line before its first step, and a bracket along its steps whose arrow leads
  // from the last step back to that line.
  if (loopStart !== undefined) {
    const my = loopTop + LOOP_H / 2;
    const bx = width - MARGIN - LOOP_W / 2;
    const by = rowsBottom - 6;
    const what = `loop: steps ${loopStart + 1}..${entries.length} repeat forever`;
    out.push(`<g class="loop" data-loop-start="${loopStart}"><title>${esc(what)}</title>`);
    const label = `↻ ${what}`;
    out.push(
      textEl(MARGIN + 6, my + 4, label, { size: F_LABEL, fill: C.loop, weight: 'bold', bg: '#ffffff' }),
    );
    out.push(
      `<line x1="${n(MARGIN + 6 + textW(label, F_LABEL) + 8)}" y1="${n(my)}" x2="${n(bx)}" y2="${n(my)}" stroke="${C.loop}" stroke-width="1.5" stroke-dasharray="6 3"/>`,
    );
    out.push(
      `<path d="M${n(bx - 8)},${n(by)} L${n(bx)},${n(by)} L${n(bx)},${n(my)}" fill="none" stroke="${C.loop}" stroke-width="2"/>`,
    );
    out.push(
      `<path d="M${n(bx - 5)},${n(my + 9)} L${n(bx)},${n(my)} L${n(bx + 5)},${n(my + 9)} Z" fill="${C.loop}"/>`,
    );
    out.push('</g>');
  }

  // The violated property.
  if (opts.violation) {
    const vh = 12 + 16 + violationLines.length * 16 + 8 - 8;
    out.push('<g class="violation">');
    out.push(
      `<rect x="${MARGIN}" y="${violationTop}" width="${width - 2 * MARGIN}" height="${vh}" rx="3" fill="${C.wrong}"/>`,
    );
    out.push(
      textEl(MARGIN + 12, violationTop + 20, `× violated: ${opts.violation.property}`, {
        size: 13,
        weight: 'bold',
        fill: '#ffffff',
      }),
    );
    violationLines.forEach((l, i) => {
      out.push(textEl(MARGIN + 12, violationTop + 38 + i * 16, l, { size: F_LABEL, fill: '#ffffff' }));
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
