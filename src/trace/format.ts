/**
 * The trace file's shape (file.ts reads and validates one): what a check writes needs only this,
 * not the validators, so the search threads load no schema library.
 */

export const TRACE_FORMAT_VERSION = 1;

export interface TraceStepRecord {
  action: number;
  actor: string;
  fn: string;
  label: string;
}

export interface TraceFile {
  kind: 'irqlab-trace';
  formatVersion: typeof TRACE_FORMAT_VERSION;
  scenario: string;
  /** The scenario file, when it is not a built-in. */
  file?: string;
  memory: 'sc' | 'tso';
  variant: Record<string, string>;
  properties: string[];
  claim: { verdict: 'violated'; property: string; kind: 'invariant' | 'liveness' };
  steps: TraceStepRecord[];
  /** A lasso: steps[loopStart..] repeat forever (a fair cycle). */
  loopStart?: number;
}
