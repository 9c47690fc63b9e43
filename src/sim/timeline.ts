/**
 * A timeline of a simulation as Chrome Trace Event JSON ("Trace Event Format", the JSON Object
 * Format with a traceEvents array), which the Perfetto UI and chrome://tracing open:
 * - a track (pid/tid, named by metadata events) per pCPU, vCPU and IOMMU;
 * - slices: complete events (ph X) and begin/end pairs (ph B/E), properly nested on each track;
 * - flow arrows (ph s, t, f with the same id): from a posting through the notification and the
 *   harvest to the guest's handler. Each flow point binds to the slice that encloses it on its
 *   track (the end point with "bp": "e"), so each point must lie inside a slice of its track;
 * - counters (ph C): the PIR population of each vCPU, the APICv inhibit bits.
 *
 * Simulated time is in cycles; the file's timestamps are microseconds (the format's unit), at the
 * cost table's clock. Events are written in the order they were added, so the same run gives the
 * same bytes. `toJSON` checks the nesting and the flows and throws on a violation: that is a bug
 * in the driver, not bad input.
 *
 * The timeline is an opt-in export (--timeline): it allocates per event, the simulator's measuring
 * hot path does not.
 */

/** Track groups: one Trace Event "process" each, so Perfetto groups their tracks. */
export const TRACK_GROUP = { pcpu: 1, vcpu: 2, iommu: 3 } as const;
export type TrackGroup = keyof typeof TRACK_GROUP;

export interface TraceEvent {
  name: string;
  ph: 'X' | 'B' | 'E' | 's' | 't' | 'f' | 'C' | 'i' | 'M';
  ts: number;
  pid: number;
  tid: number;
  cat?: string;
  dur?: number;
  id?: number;
  bp?: 'e';
  s?: 't';
  args?: Record<string, number | string>;
}

export interface Track {
  pid: number;
  tid: number;
}

export class Timeline {
  private readonly events: TraceEvent[] = [];
  private readonly open = new Map<string, { name: string; ts: number }[]>();
  private readonly tracks = new Map<string, Track>();
  private readonly usPerCycle: number;
  /** Where the driver stopped adding events (microseconds), when it reached maxEvents. */
  stoppedAtUs: number | undefined;

  /**
   * clockGHz: cycles per nanosecond, from the cost table. maxEvents: how many events the driver
   * may add (a file of a few hundred thousand events still opens in the Perfetto UI).
   */
  readonly maxEvents: number;
  constructor(clockGHz: number, maxEvents = 200_000) {
    this.maxEvents = maxEvents;
    if (!(clockGHz > 0)) throw new RangeError(`clock must be positive, got ${clockGHz}`);
    if (!(Number.isInteger(maxEvents) && maxEvents > 0))
      throw new RangeError(`maxEvents must be a positive integer, got ${maxEvents}`);
    this.usPerCycle = 1 / (clockGHz * 1000);
    for (const [g, pid] of Object.entries(TRACK_GROUP)) {
      const name = g === 'pcpu' ? 'pCPUs' : g === 'vcpu' ? 'vCPUs' : 'IOMMU';
      this.meta('process_name', pid, 0, { name });
      this.meta('process_sort_index', pid, 0, { sort_index: pid });
    }
  }

  private us(cycles: number): number {
    return cycles * this.usPerCycle;
  }

  private meta(name: string, pid: number, tid: number, args: Record<string, number | string>): void {
    this.events.push({ name, ph: 'M', ts: 0, pid, tid, args });
  }

  /**
   * Track n of a group, named on first use: by default "pcpu0", "vcpu1", "iommu0"; the simulator
   * names its per-actor and per-CPU interrupt tracks.
   */
  track(group: TrackGroup, n: number, name = `${group}${n}`): Track {
    const key = `${group}${n}`;
    let t = this.tracks.get(key);
    if (!t) {
      t = { pid: TRACK_GROUP[group], tid: n + 1 };
      this.tracks.set(key, t);
      this.meta('thread_name', t.pid, t.tid, { name });
      this.meta('thread_sort_index', t.pid, t.tid, { sort_index: n });
    }
    return t;
  }

  /** A slice of known length: `name` on track t from `start` for `dur` cycles. */
  slice(
    t: Track,
    name: string,
    cat: string,
    start: number,
    dur: number,
    args?: Record<string, number | string>,
  ): void {
    if (!(dur >= 0)) throw new RangeError(`slice ${name}: negative duration ${dur}`);
    const e: TraceEvent = {
      name,
      cat,
      ph: 'X',
      ts: this.us(start),
      dur: this.us(dur),
      pid: t.pid,
      tid: t.tid,
    };
    if (args) e.args = args;
    this.events.push(e);
  }

  /** Opens a slice that a later `end` on the same track closes (innermost first). */
  begin(t: Track, name: string, cat: string, at: number): void {
    const key = `${t.pid}/${t.tid}`;
    let stack = this.open.get(key);
    if (!stack) {
      stack = [];
      this.open.set(key, stack);
    }
    const last = stack[stack.length - 1];
    if (last && at < last.ts)
      throw new RangeError(`begin ${name} at ${at} before its parent ${last.name} began`);
    stack.push({ name, ts: at });
    this.events.push({ name, cat, ph: 'B', ts: this.us(at), pid: t.pid, tid: t.tid });
  }

  /** Closes the innermost open slice of the track. */
  end(t: Track, at: number): void {
    const stack = this.open.get(`${t.pid}/${t.tid}`);
    const top = stack?.pop();
    if (!top) throw new RangeError(`end at ${at} with no open slice on track ${t.pid}/${t.tid}`);
    if (at < top.ts) throw new RangeError(`end of ${top.name} at ${at} before it began at ${top.ts}`);
    this.events.push({ name: top.name, ph: 'E', ts: this.us(at), pid: t.pid, tid: t.tid });
  }

  /**
   * One point of flow `id` (an arrow from point to point): `start` (ph s), `step` (ph t) or `end`
   * (ph f), at a time inside a slice of track t. All points of one flow share its name and category.
   */
  flow(
    kind: 'start' | 'step' | 'end',
    id: number,
    t: Track,
    at: number,
    name = 'interrupt',
    cat = 'flow',
  ): void {
    const ph = kind === 'start' ? 's' : kind === 'step' ? 't' : 'f';
    const e: TraceEvent = { name, cat, ph, id, ts: this.us(at), pid: t.pid, tid: t.tid };
    if (ph === 'f') e.bp = 'e';
    this.events.push(e);
  }

  /** A counter sample: each key of `values` is a series of the counter `name` (on a track group). */
  counter(group: TrackGroup, name: string, at: number, values: Record<string, number>): void {
    this.events.push({ name, ph: 'C', ts: this.us(at), pid: TRACK_GROUP[group], tid: 0, args: values });
  }

  /** A zero-length marker on a track (ph i, thread scope). */
  instant(t: Track, name: string, cat: string, at: number): void {
    this.events.push({ name, cat, ph: 'i', s: 't', ts: this.us(at), pid: t.pid, tid: t.tid });
  }

  /** The document, after checking that every slice nests and every flow point is inside a slice. */
  toJSON(otherData: Record<string, unknown> = {}): {
    traceEvents: TraceEvent[];
    displayTimeUnit: 'ns';
    otherData: Record<string, unknown>;
  } {
    for (const [key, stack] of this.open)
      if (stack.length > 0)
        throw new RangeError(`track ${key}: slice ${stack[stack.length - 1].name} never ends`);
    const problem = timelineProblems(this.events)[0];
    if (problem) throw new RangeError(`timeline: ${problem}`);
    const stopped =
      this.stoppedAtUs === undefined ? {} : { stoppedAtUs: this.stoppedAtUs, maxEvents: this.maxEvents };
    return { traceEvents: this.events, displayTimeUnit: 'ns', otherData: { ...otherData, ...stopped } };
  }

  /** True once maxEvents are written: the driver stops at its next step boundary. */
  get full(): boolean {
    return this.events.length >= this.maxEvents;
  }

  /** The driver reached maxEvents at `at` (cycles) and adds no more; toJSON's otherData says so. */
  stop(at: number): void {
    this.stoppedAtUs ??= this.us(at);
  }
}

/**
 * What is wrong with a list of trace events, by the rules above: slices that overlap without
 * nesting on a track, B/E that do not pair, flow points outside every slice of their track, flows
 * that do not run start, steps, end in time order (the end may be missing: a vector still waiting
 * when the run ends). Empty when the timeline is well formed. Used by
 * Timeline.toJSON and by the tests on a parsed file.
 */
export function timelineProblems(events: readonly TraceEvent[]): string[] {
  const problems: string[] = [];
  const slices = new Map<string, { name: string; b: number; e: number }[]>();
  const stacks = new Map<string, TraceEvent[]>();
  const key = (e: TraceEvent) => `${e.pid}/${e.tid}`;
  const push = (k: string, s: { name: string; b: number; e: number }) => {
    const l = slices.get(k) ?? [];
    l.push(s);
    slices.set(k, l);
  };
  for (const e of events) {
    if (e.ph === 'X') push(key(e), { name: e.name, b: e.ts, e: e.ts + (e.dur ?? 0) });
    if (e.ph === 'B') {
      const st = stacks.get(key(e)) ?? [];
      st.push(e);
      stacks.set(key(e), st);
    }
    if (e.ph === 'E') {
      const b = stacks.get(key(e))?.pop();
      if (!b) problems.push(`E at ${e.ts} on ${key(e)} without a B`);
      else push(key(e), { name: b.name, b: b.ts, e: e.ts });
    }
  }
  for (const [k, st] of stacks)
    if (st.length > 0) problems.push(`B ${st[st.length - 1].name} on ${k} without an E`);
  // Nesting: sorted by start (longer first on ties), each slice must end within every open parent.
  const eps = 1e-9;
  for (const [k, list] of slices) {
    const sorted = [...list].sort((x, y) => x.b - y.b || y.e - x.e);
    const open: { name: string; b: number; e: number }[] = [];
    for (const s of sorted) {
      while (open.length > 0 && open[open.length - 1].e <= s.b + eps) open.pop();
      const parent = open[open.length - 1];
      if (parent && s.e > parent.e + eps)
        problems.push(
          `on ${k}, ${s.name} [${s.b}, ${s.e}] overlaps ${parent.name} [${parent.b}, ${parent.e}] without nesting`,
        );
      open.push(s);
    }
  }
  // Flows: every point inside a slice of its track; per id one s first, one f last, in time order.
  const flows = new Map<number, TraceEvent[]>();
  for (const e of events) {
    if (e.ph !== 's' && e.ph !== 't' && e.ph !== 'f') continue;
    const inside = (slices.get(key(e)) ?? []).some((s) => s.b - eps <= e.ts && e.ts <= s.e + eps);
    if (!inside) problems.push(`flow ${e.id} point ${e.ph} at ${e.ts} on ${key(e)} is not inside a slice`);
    const l = flows.get(e.id ?? -1) ?? [];
    l.push(e);
    flows.set(e.id ?? -1, l);
  }
  for (const [id, pts] of flows) {
    const phs = pts.map((p) => p.ph).join('');
    // A flow may still be open when the run ends: a vector posted and not delivered yet.
    if (!/^st*f?$/.test(phs)) problems.push(`flow ${id} runs ${phs}, not start, steps, end`);
    for (let i = 1; i < pts.length; i++)
      if (pts[i].ts < pts[i - 1].ts) problems.push(`flow ${id} goes back in time at point ${i}`);
    if (new Set(pts.map((p) => `${p.name}/${p.cat}`)).size > 1)
      problems.push(`flow ${id} changes name or category`);
  }
  return problems;
}
