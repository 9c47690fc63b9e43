/**
 * Values the scenario format and the workload format share: integers written as JSON numbers or hex
 * strings ("0x31"), as the manuals and kernel logs write them, and vectors.
 */
import { z } from 'zod';

const HEX_OR_INT = 'expected an integer or a hex string such as "0x31"';

export const hexOrInt = z.union(
  [
    z.number().int(),
    z
      .string()
      .regex(/^0x[0-9a-fA-F]+$/, HEX_OR_INT)
      .transform((s) => Number.parseInt(s, 16)),
  ],
  { error: HEX_OR_INT },
);

/**
 * An integer lo-hi, written as a number or a hex string, with one message for every way to get it
 * wrong. `{field}` in a message stands for the field's name (src/scenarios/messages.ts).
 */
export function hexOrIntIn(what: string, lo: number, hi: number, hiText = String(hi)) {
  const message = `${what} must be an integer ${lo}-${hiText} or a hex string such as "0x31"`;
  return z
    .union(
      [
        z.number().int({ error: message }),
        z
          .string()
          .regex(/^0x[0-9a-fA-F]+$/, message)
          .transform((s) => Number.parseInt(s, 16)),
      ],
      { error: message },
    )
    .pipe(z.number().min(lo, message).max(hi, message));
}

export const vector = hexOrIntIn('vector', 0, 255);
