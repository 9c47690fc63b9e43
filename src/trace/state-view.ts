/**
 * The state inspector's view of a World: the fields a reviewer of a posted-interrupt change looks
 * at, grouped as the hardware and KVM group them, read by name through the layout (layout.ts), so
 * the view never knows an offset. Per vCPU its posted-interrupt descriptor (SDM Vol. 3C 30.6: PIR,
 * ON, SN, NV, NDST) and its virtual-APIC state (SDM 30.1-30.2: vIRR, vISR, RVI, SVI, VTPR, VPPR)
 * beside KVM's vcpu->mode; per pCPU its LAPIC IRR and ISR and the vCPU whose VMCS is current; the
 * VM's locks and APICv inhibits; then every other named field, so nothing the model holds is hidden.
 * Called once per replayed step for the report (src/report), never on a hot path.
 */
import { formatValue, readField } from '../model/platform/fields.ts';
import type { FieldDesc, Layout } from '../model/platform/layout.ts';

/** One field of the view: its full name as traces write it ("vcpu0.PID.ON"), and a short label. */
export interface StateField {
  section: string;
  field: string;
  label: string;
}

interface Located extends StateField {
  base: number;
  desc: FieldDesc;
}

/** Per section kind, the fields shown first and the labels they get (the rest follow in layout order). */
const PID_ORDER: [string, string][] = [
  ['PID.PIR', 'PIR'],
  ['PID.ON', 'ON'],
  ['PID.SN', 'SN'],
  ['PID.NV', 'NV'],
  ['PID.NDST', 'NDST'],
];
const VCPU_ORDER: [string, string][] = [
  ['mode', 'mode'],
  ['vIRR', 'vIRR'],
  ['vISR', 'vISR'],
  ['RVI', 'RVI'],
  ['SVI', 'SVI'],
  ['VTPR', 'TPR'],
  ['VPPR', 'PPR'],
  // On an AVIC machine the backing page holds the same registers (APM Vol. 2 15.29.3).
  ['avic.IRR', 'IRR (backing page)'],
  ['avic.ISR', 'ISR (backing page)'],
  ['avic.TPR', 'TPR (backing page)'],
  ['avic.PPR', 'PPR (backing page)'],
];
const PCPU_ORDER: [string, string][] = [
  ['IRR', 'IRR'],
  ['ISR', 'ISR'],
  ['vmcs', 'current VMCS (vCPU)'],
  ['mode', 'mode (1: guest)'],
];
const VM_ORDER: [string, string][] = [
  ['inhibits', 'APICv inhibits'],
  ['lockWriter', 'apicv_update_lock writer'],
  ['lockReaders', 'apicv_update_lock readers'],
];

/** The view's fields for a layout, in display order; built once per model. */
export function stateFields(L: Layout): StateField[] {
  return locate(L).map(({ section, field, label }) => ({ section, field, label }));
}

const located = new WeakMap<Layout, Located[]>();

function locate(L: Layout): Located[] {
  const cached = located.get(L);
  if (cached !== undefined) return cached;
  const all: { prefix: string; name: string; base: number; desc: FieldDesc }[] = [];
  for (const b of L.blocks)
    for (const f of b.fields) all.push({ prefix: b.prefix, name: f.name, base: b.base, desc: f });
  const taken = new Set<number>();
  const out: Located[] = [];
  const take = (
    section: string,
    prefix: string,
    order: [string, string][],
    rest: (name: string) => boolean,
  ) => {
    for (const [name, label] of order) {
      const i = all.findIndex((a) => a.prefix === prefix && a.name === name);
      if (i < 0 || taken.has(i)) continue;
      taken.add(i);
      out.push({ section, field: `${prefix}.${name}`, label, base: all[i].base, desc: all[i].desc });
    }
    all.forEach((a, i) => {
      if (taken.has(i) || a.prefix !== prefix || !rest(a.name)) return;
      taken.add(i);
      out.push({ section, field: `${prefix}.${a.name}`, label: a.name, base: a.base, desc: a.desc });
    });
  };
  for (let x = 0; x < L.nVcpu; x++) {
    take(`vcpu${x} · posted-interrupt descriptor`, `vcpu${x}`, PID_ORDER, (n) => n.startsWith('PID.'));
    take(`vcpu${x}`, `vcpu${x}`, VCPU_ORDER, () => true);
  }
  for (let p = 0; p < L.nPcpu; p++) take(`pcpu${p}`, `pcpu${p}`, PCPU_ORDER, () => true);
  take('VM · locks and inhibits', 'kvm', VM_ORDER, () => true);
  take('VM · locks and inhibits', 'lock', [], () => true);
  // Everything else (I/O APIC, IRTEs, the GA log, device blocks), by the prefix that names it.
  all.forEach((a, i) => {
    if (taken.has(i)) return;
    out.push({
      section: a.prefix,
      field: `${a.prefix}.${a.name}`,
      label: a.name,
      base: a.base,
      desc: a.desc,
    });
  });
  located.set(L, out);
  return out;
}

/** The value of each of the view's fields in `m`, formatted as traces format them, in stateFields order. */
export function stateValues(L: Layout, m: Uint32Array): string[] {
  return locate(L).map((f) => formatValue(f.desc, readField(m, f.base, f.desc)));
}

/** A section of the view with its fields' values, for printing or tests. */
export interface StateSection {
  title: string;
  rows: { field: string; label: string; value: string }[];
}

export function stateView(L: Layout, m: Uint32Array): StateSection[] {
  const fields = stateFields(L);
  const values = stateValues(L, m);
  const out: StateSection[] = [];
  fields.forEach((f, i) => {
    let s = out.at(-1);
    if (s === undefined || s.title !== f.section) {
      s = { title: f.section, rows: [] };
      out.push(s);
    }
    s.rows.push({ field: f.field, label: f.label, value: values[i] });
  });
  return out;
}

/**
 * The field a trace's read or change names, without the vector of a 256-bit register
 * ("vcpu0.vIRR[0x31]" names vcpu0.vIRR): what the inspector highlights.
 */
export function fieldOf(name: string): string {
  const k = name.indexOf('[');
  return k < 0 ? name : name.slice(0, k);
}
