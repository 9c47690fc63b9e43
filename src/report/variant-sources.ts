/**
 * Each knob's upstream commit or thread, as docs/variants.md gives it, for the report's summary
 * table. The documentation is the one place these are written; the report reads them from it rather
 * than keeping a second copy. A knob the page does not name shows as "(not in docs/variants.md)".
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_VARIANT, type KnobName, type Variant } from '../model/kvm/variants.ts';
import type { KnobInfo } from './data.ts';

/** The package root: the nearest folder above this file with a package.json (src/ or dist/src/). */
export function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('irqlab: cannot find the package root above src/report');
    d = up;
  }
  return d;
}

/**
 * Knob → the cell after its values in the tables of docs/variants.md (the source, what a mutation
 * removes, or the commit), with Markdown marks taken out. The first row naming a knob wins.
 */
export function parseVariantSources(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of md.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split(' | ').map((c) => c.replace(/^\|\s*|\s*\|$/g, '').trim());
    if (cells.length < 3) continue;
    const source = plain(cells[2]);
    for (const m of cells[0].matchAll(/`([A-Za-z0-9]+)`/g)) if (!out.has(m[1])) out.set(m[1], source);
  }
  return out;
}

function plain(s: string): string {
  return s
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*\*|`/g, '')
    .trim();
}

let cached: Map<string, string> | undefined;

function sources(): Map<string, string> {
  if (cached !== undefined) return cached;
  const file = join(packageRoot(), 'docs', 'variants.md');
  cached = existsSync(file) ? parseVariantSources(readFileSync(file, 'utf8')) : new Map();
  return cached;
}

/** Every knob of a variant with its value, whether it differs from today's kernel, and its source. */
export function knobInfo(v: Variant): KnobInfo[] {
  const s = sources();
  return (Object.keys(v) as KnobName[]).map((knob) => ({
    knob,
    value: v[knob],
    changed: v[knob] !== DEFAULT_VARIANT[knob],
    source: s.get(knob) ?? '(not in docs/variants.md)',
  }));
}
