/**
 * A trace file given on the command line (`irqlab replay`, `irqlab view`): read, parsed, and
 * replayed on its scenario; one that does not reproduce is refused with a one-line UserError.
 */
import { readFileSync } from 'node:fs';
import { type ReplayVerdict, replayTraceFile } from '../check/counterexample.ts';
import { UserError } from '../errors.ts';
import { loadScenario } from '../scenarios/files.ts';
import type { Scenario } from '../scenarios/schema.ts';
import { parseTraceFile, type TraceFile } from '../trace/file.ts';

export function reproducedTrace(file: string): {
  trace: TraceFile;
  scenario: Scenario;
  replay: Extract<ReplayVerdict, { reproduced: true }>;
} {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: cannot read a JSON trace: ${(e as Error).message.split('\n')[0]}`);
  }
  const trace = parseTraceFile(doc, file);
  const { scenario } = loadScenario(trace.file ?? trace.scenario);
  const replay = replayTraceFile(trace, scenario);
  if (!replay.reproduced) throw new UserError(`${file}: did not reproduce: ${replay.why}`);
  return { trace, scenario, replay };
}
