/**
 * An error caused by the user's input (a malformed scenario, an unknown variant, a vector out of
 * range, a bound too small). The CLI prints its message as one line and exits with code 2; it is
 * never shown with a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError';
}
