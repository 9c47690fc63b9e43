/** Exit codes, after TLC's split between "the property failed" and "the tool failed". */
export const EXIT = {
  ok: 0,
  usage: 2,
  incomplete: 3,
  invariant: 12,
  liveness: 13,
  expectationFailed: 1,
  internal: 70,
  interrupted: 130,
} as const;
