/**
 * Reading World fields by name and listing what changed between two Worlds. Used by traces
 * ("only the fields that changed"), expectations and the JSON output; never on the checker's hot
 * path.
 */
import { hex, regTest, regVectors } from '../hw/bits.ts';
import type { Block, FieldDesc, Layout } from './layout.ts';

export type FieldValue = number | boolean | number[] | string;

function scalar(m: Uint32Array, base: number, f: FieldDesc): number {
  if (f.get !== undefined) return f.get(m, base);
  const w = m[base + f.offset];
  return f.mask === undefined ? w : (w >>> (f.shift ?? 0)) & f.mask;
}

export function readField(m: Uint32Array, base: number, f: FieldDesc): FieldValue {
  switch (f.kind) {
    case 'reg256':
      return regVectors(m, base + f.offset);
    case 'bool':
      return scalar(m, base, f) !== 0;
    case 'index1': {
      const v = scalar(m, base, f);
      return v === 0 ? 'none' : String(v - 1);
    }
    case 'enum': {
      const v = scalar(m, base, f);
      return f.names?.[v] ?? String(v);
    }
    case 'flags': {
      const w = m[base + f.offset];
      const names = (f.bits ?? []).filter((n, i) => n !== '' && ((w >>> i) & 1) === 1);
      return names.join('|') || '-';
    }
    default:
      return scalar(m, base, f);
  }
}

/** Finds a field by its full name, e.g. "vcpu0.PID.ON" or "pcpu1.IRR". */
export function findField(L: Layout, name: string): { block: Block; field: FieldDesc } | undefined {
  for (const block of L.blocks) {
    if (!name.startsWith(`${block.prefix}.`)) continue;
    const rest = name.slice(block.prefix.length + 1);
    const field = block.fields.find((f) => f.name === rest);
    if (field) return { block, field };
  }
  return undefined;
}

/**
 * A store of `value` to word `index` as a change of the field that holds the word ("vcpu0.mode
 * OUTSIDE_GUEST_MODE→IN_GUEST_MODE"), judged against the memory `m` it will change; undefined for
 * a word no scalar field names.
 */
export function describeStore(L: Layout, m: Uint32Array, index: number, value: number): Change | undefined {
  for (const b of L.blocks) {
    for (const f of b.fields) {
      if (f.kind === 'reg256' || f.get !== undefined || b.base + f.offset !== index) continue;
      const after = m.slice(b.base + f.offset, b.base + f.offset + 1);
      after[0] = value;
      return {
        field: `${b.prefix}.${f.name}`,
        from: formatValue(f, readField(m, b.base, f)),
        to: formatValue(f, readField(after, -f.offset, f)),
      };
    }
  }
  return undefined;
}

/** Every field name of a layout (for error messages and documentation). */
export function fieldNames(L: Layout): string[] {
  return L.blocks.flatMap((b) => b.fields.map((f) => `${b.prefix}.${f.name}`));
}

export function formatValue(f: FieldDesc, v: FieldValue): string {
  if (Array.isArray(v)) return v.length === 0 ? '{}' : `{${v.map(hex).join(',')}}`;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'string') return v;
  if (f.kind === 'u8') return hex(v);
  if (f.kind === 'u32') return v > 9 ? `0x${v.toString(16)}` : String(v);
  return String(v);
}

/** One changed field: for 256-bit registers one entry per changed bit ("vcpu0.vIRR[0x31] 0→1"). */
export interface Change {
  field: string;
  from: string;
  to: string;
}

/** Lists the fields that differ between two Worlds of the same layout. */
export function diffWorlds(L: Layout, before: Uint32Array, after: Uint32Array): Change[] {
  const out: Change[] = [];
  for (const b of L.blocks) {
    for (const f of b.fields) {
      const o = b.base + f.offset;
      if (f.kind === 'reg256') {
        for (let i = 0; i < 8; i++) {
          if (before[o + i] === after[o + i]) continue;
          for (let bit = 0; bit < 32; bit++) {
            const v = i * 32 + bit;
            const x = regTest(before, o, v);
            const y = regTest(after, o, v);
            if (x !== y)
              out.push({ field: `${b.prefix}.${f.name}[${hex(v)}]`, from: x ? '1' : '0', to: y ? '1' : '0' });
          }
        }
        continue;
      }
      const x = readField(before, b.base, f);
      const y = readField(after, b.base, f);
      if (x !== y)
        out.push({ field: `${b.prefix}.${f.name}`, from: formatValue(f, x), to: formatValue(f, y) });
    }
  }
  return out;
}
