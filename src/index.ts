/**
 * irqlab as a library (`import('irqlab')`): load a scenario, check it, simulate it at random, run
 * its script, replay a trace file, and render a trace, the same functions the CLI uses
 * (docs/library.md). Nothing here prints or exits: bad input is a UserError with a one-line
 * message.
 */
export { type ReplayVerdict, replayTraceFile } from './check/counterexample.ts';
export {
  type CheckOptions,
  type CheckResult,
  checkScenario,
  combinedVerdict,
  DEFAULT_BOUNDS,
  isConcurrent,
  type NamedVariant,
  presetsOf,
  resolveVariant,
  type SimulateOptions,
  type SimulateResult,
  simulateScenario,
  traceFileOf,
  variantsOf,
} from './check/session.ts';
export { UserError } from './errors.ts';
export { type RunResult, runScenario } from './run/run.ts';
export { builtinNames, type LoadedScenario, loadScenario } from './scenarios/files.ts';
export { parseScenarioText } from './scenarios/loader.ts';
export type { Scenario } from './scenarios/schema.ts';
export { parseTraceFile, TRACE_FORMAT_VERSION, type TraceFile } from './trace/file.ts';
export type { TraceEntry } from './trace/record.ts';
export { traceToSvg } from './trace/svg.ts';
export { renderEntries } from './trace/text.ts';
