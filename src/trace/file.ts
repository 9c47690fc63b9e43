/**
 * The trace file: what `irqlab check --json` writes for each counterexample and `irqlab replay`
 * reads. It records everything a replay needs to be honest (formatVersion 1): the scenario, the
 * memory model, every knob of the variant in full (a knob added later must not silently take a
 * default), the properties, each step with the action id and the actor, kernel function and label
 * it had, the loop of a lasso, and the verdict the trace claims. Replay re-executes the steps and
 * reports "reproduced" only when every step is enabled where the trace has it, names the step the
 * trace names, and the claimed property is violated exactly at the end.
 */
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { TRACE_FORMAT_VERSION, type TraceFile, type TraceStepRecord } from './format.ts';

export { TRACE_FORMAT_VERSION, type TraceFile, type TraceStepRecord };

const step = z.object({
  action: z.number().int().min(0),
  actor: z.string(),
  fn: z.string(),
  label: z.string(),
});

const traceFile = z.object({
  kind: z.literal('irqlab-trace'),
  formatVersion: z.literal(TRACE_FORMAT_VERSION),
  scenario: z.string().min(1),
  file: z.string().optional(),
  memory: z.enum(['sc', 'tso']),
  variant: z.record(z.string(), z.string()),
  properties: z.array(z.string()),
  claim: z.object({
    verdict: z.literal('violated'),
    property: z.string(),
    kind: z.enum(['invariant', 'liveness']),
  }),
  steps: z.array(step),
  loopStart: z.number().int().optional(),
});

/**
 * The trace in a JSON document: a trace file itself, or the first result with a trace of a
 * `check --json` document. A document that is neither, or a trace of another format, is a
 * UserError naming the file and the field.
 */
export function parseTraceFile(doc: unknown, file: string): TraceFile {
  const d = doc as { kind?: unknown; results?: { trace?: unknown }[] };
  const t =
    d?.kind === 'irqlab-trace'
      ? d
      : Array.isArray(d?.results)
        ? d.results.find((r) => r?.trace)?.trace
        : undefined;
  if (t === undefined)
    throw new UserError(
      `${file}: no irqlab trace in it (a check --json document with a counterexample, or its results[].trace)`,
    );
  const version = (t as { formatVersion?: unknown }).formatVersion;
  if (version !== TRACE_FORMAT_VERSION)
    throw new UserError(
      `${file}: trace format ${version === undefined ? '(none)' : JSON.stringify(version)} is not ${TRACE_FORMAT_VERSION}: re-record it with irqlab check --json`,
    );
  const r = traceFile.safeParse(t);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i.path.length > 0 ? i.path.join('.') : '(top level)';
    throw new UserError(
      `${file}: ${where}: ${i.code === 'invalid_type' ? `expected ${i.expected}` : i.message}`,
    );
  }
  return r.data as TraceFile;
}
