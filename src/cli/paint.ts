import pc from 'picocolors';
import type { Paint } from '../trace/text.ts';

/**
 * Colour only on a TTY, never with --json, and never when NO_COLOR is set (picocolors alone turns
 * colour on whenever CI is set, so the decision is made here).
 */
export function paintFor(stream: NodeJS.WriteStream, json: boolean): Paint {
  const on = Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb' && !json;
  const c = pc.createColors(on);
  return { dim: c.dim, bold: c.bold, green: c.green, red: c.red, cyan: c.cyan };
}
