/**
 * What the report page (viewer/) reads: one JSON document inlined in the HTML file. Types only, so
 * the page's bundle imports nothing from the model. `irqlab report` and `irqlab view` write it
 * (src/report/build.ts); docs/report.md says what each part of the page shows.
 */
import type { SimSuite } from '../sim/result.ts';
import type { TraceEntry } from '../trace/record.ts';
import type { StateField } from '../trace/state-view.ts';

export const REPORT_FORMAT_VERSION = 1;

export interface ReportData {
  kind: 'irqlab-report';
  formatVersion: typeof REPORT_FORMAT_VERSION;
  /** What made it ("irqlab report --all"), and when. */
  command: string;
  generated: string;
  version: string;
  /** One row per check (summary table). */
  checks: CheckRow[];
  /** The counterexamples, each with its per-step state (ids are referred to by rows and pairs). */
  traces: TraceView[];
  /** Seeds' before/after pairs. */
  pairs: BeforeAfter[];
  sim?: SimSuite;
}

export interface KnobInfo {
  knob: string;
  value: string;
  /** Whether the value differs from today's kernel (the default variant). */
  changed: boolean;
  /** The upstream commit or thread, from docs/variants.md. */
  source: string;
}

export interface CheckRow {
  scenario: string;
  variant: string;
  knobs: KnobInfo[];
  memory: 'sc' | 'tso';
  verdict: 'holds' | 'violated' | 'incomplete';
  property?: string;
  kind?: 'invariant' | 'liveness';
  /** What an incomplete check hit. */
  reason?: string;
  states: number;
  depth: number;
  timeMs: number;
  /** The id of its counterexample in ReportData.traces. */
  trace?: string;
}

/**
 * A trace with the state after each step. The state is delta-coded to keep long traces small:
 * `initial` holds every field's value before the first step (in `fields` order); `deltas[k]` the
 * [field index, value] pairs that step k+1 changed in the view.
 */
export interface TraceView {
  id: string;
  title: string;
  scenario: string;
  variant: string;
  knobs: string;
  /** The violated property and what it means, or none (a schedule replayed on a fixed variant). */
  property?: string;
  kind?: 'invariant' | 'liveness';
  what?: string;
  /** A lasso: steps loopStart+1..n repeat forever. */
  loopStart?: number;
  /** Named actor → its vCPU (the lane it shares). */
  actorVcpus: Record<string, number>;
  entries: ViewEntry[];
  fields: StateField[];
  initial: string[];
  deltas: [number, string][][];
}

/** A trace entry as the page shows it (the events' operands are kept for the diagram's arrows). */
export type ViewEntry = Omit<TraceEntry, 'step'>;

/** A seed's counterexample beside the same schedule replayed on the fixed variant. */
export interface BeforeAfter {
  scenario: string;
  before: { variant: string; trace: string };
  after: {
    variant: string;
    /** The fixed variant's own verdict (an exhaustive check). */
    verdict: string;
    /** The schedule replayed on it, as far as it applies. */
    trace?: string;
    /** How the replay went, in words. */
    outcome: string;
  };
}
