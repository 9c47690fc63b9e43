/**
 * An error caused by the user's input (a malformed scenario, an unknown variant, a vector out of
 * range, a bound too small). The CLI prints its message as one line and exits with code 2; it is
 * never shown with a stack trace.
 *
 * Its message is made safe for a terminal when the error is made: a file name or value from the
 * user may hold control characters (ESC starts a terminal escape sequence), so each is shown
 * escaped, as `\x1b`, and the message stays one line (`\n` is shown as `\n`).
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string) {
    super(escapeControl(message));
  }
}

/**
 * C0 and C1 control characters and DEL, and the bidirectional-text controls that reorder what a
 * terminal shows (U+202A-U+202E, U+2066-U+2069; CVE-2021-42574, "Trojan Source").
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with every control character written as an escape (`\n`, `\t`, `\x1b`, `\u202e`). */
export function escapeControl(s: string): string {
  return s.replace(CONTROL, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}
