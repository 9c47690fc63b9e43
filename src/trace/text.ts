/**
 * Human rendering of trace entries: one numbered line per step, "actor: action", then only the
 * fields that changed ("vcpu0.PID.ON 0→1").
 */
import type { TraceEntry } from './record.ts';

export interface Paint {
  dim(s: string): string;
  bold(s: string): string;
  green(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

export const NO_PAINT: Paint = {
  dim: (s) => s,
  bold: (s) => s,
  green: (s) => s,
  red: (s) => s,
  cyan: (s) => s,
};

export function renderEntries(entries: readonly TraceEntry[], paint: Paint = NO_PAINT): string {
  const lines: string[] = [];
  const width = String(entries.length).length;
  for (const e of entries) {
    const n = String(e.n).padStart(width);
    const who = e.hardware ? paint.dim(`${e.actor} (hw)`) : paint.bold(e.actor);
    const note = e.note ? paint.dim(`  # ${e.note}`) : '';
    lines.push(`${n}. ${who}: ${e.action}${note}`);
    const pad = ' '.repeat(width + 2);
    // What a program step read, with the values it saw (a hardware reaction's reads are its unit's
    // whole state and would only add noise).
    if (!e.hardware && e.reads.length > 0)
      wrap(
        lines,
        pad,
        'read ',
        e.reads.map((r) => `${r.field}=${r.value}`),
        paint.dim,
      );
    if (e.changes.length > 0) {
      const text = e.changes.map((c) => `${c.field} ${c.from}→${c.to}`);
      // Wrap the changes at about 100 columns so long diffs stay readable.
      let line = '';
      for (const t of text) {
        if (line && line.length + t.length + 2 > 100) {
          lines.push(paint.cyan(`${pad}${line}`));
          line = '';
        }
        line = line ? `${line}, ${t}` : t;
      }
      if (line) lines.push(paint.cyan(`${pad}${line}`));
    }
  }
  return lines.join('\n');
}

/** Appends `items` after `lead`, comma-separated, wrapped at about 100 columns. */
function wrap(
  lines: string[],
  pad: string,
  lead: string,
  items: readonly string[],
  paint: (s: string) => string,
): void {
  let line = lead;
  for (const t of items) {
    if (line !== lead && line.length + t.length + 2 > 100) {
      lines.push(paint(`${pad}${line}`));
      line = ' '.repeat(lead.length);
    }
    line = line.trim() === lead.trim() || line.trim() === '' ? `${line}${t}` : `${line}, ${t}`;
  }
  if (line.trim() !== '') lines.push(paint(`${pad}${line}`));
}
