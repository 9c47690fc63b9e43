/**
 * Breadth-first search on several threads that intern into one exact state store in shared memory
 * (shared-table.ts), level by level, with the answers of the one-thread search (explorer.ts): the
 * same verdict, the same counts, the same counterexample (decision 0171).
 *
 * Level d is cut into chunks of CHUNK states that the threads take in turn. A thread expands the
 * states of its chunks: it loads each from the shared tree, steps every enabled action, interns the
 * successor (a new one is stored at once, so no two threads store a state twice) and writes a
 * record per state (enabled count, terminal violation, then per successor: the state, the action,
 * the step monitors' code) into a buffer of its own.
 *
 * When every thread has finished the level, this thread reads the records in that order and does
 * what the one-thread search would have done with them (level-replay.ts): numbers the new states
 * (the order of the next level: a state stored during this level is numbered at its first edge in
 * this order, which is where the one-thread search would have stored it), checks the invariant
 * where the state is new, the terminal checks, the bounds, and stops where it would have stopped,
 * with the same counts and the same path. Its work is a pass over integers per edge; the
 * expansion, the hashing and the storage are parallel, and the helpers expand the next level's
 * states as the replay numbers them, a chunk at a time (decision 0261).
 *
 * With partial-order reduction (reduction.ts) each thread makes the one-thread search's choice at
 * the states it expands: the same ample action first, and the rest when its successor was
 * expanded already (the BFS cycle proviso, explorer.ts). "Expanded already" is the successor's
 * position in the one-thread order at most the state's own: a successor stored during this level
 * belongs to the next one, and every state stored before the level has its position (`canon`, in
 * shared memory, written by this thread's replay of the levels before). So the reduced search too
 * gives the one-thread counts for every number of threads (decision 0252).
 *
 * Threads park between two lookups while one of them rehashes a table that grew past half full.
 * Helpers that are not ready yet (starting a thread takes time) join at the next level.
 */
import { writeSync } from 'node:fs';
import { cyclicPart, EdgeLog } from './edges.ts';
import type { CheckModel, ExploreOptions, ExploreResult, Outcome } from './explorer.ts';
import { LevelReplay } from './level-replay.ts';
import { findFairCycle, isLiveModel, type StateStore } from './liveness.ts';
import { ampleFirst, type Reducer } from './reduction.ts';
import {
  checkRoom,
  fixedView,
  reserveShared,
  SharedPairTable,
  SharedRootTable,
  type SharedTableHandle,
} from './shared-table.ts';
import { levelLengths, type SharedTrees, TreeStore } from './tree-store.ts';

/** States per chunk of a level. */
const CHUNK = 64;
/** At most this many threads (control words per thread below). */
export const MAX_WORKERS = 64;

// Control words (Int32) shared by the threads. Words written often sit on cache lines (16 words)
// of their own, away from PAUSE and STOP, which every thread reads at every successor.
const SEQ = 0; // bumped (and notified) on every change the idle threads wait for
const PAUSE = 16; // 1: park at the next safe point, a table needs growing
const STOP = 17; // 1: stop taking chunks; 2: the search is over, helpers exit
const PAUSE_GEN = 32; // bumped when a pause ends
const PARKED = 33;
const DONE = 34; // threads done with the level
const GEN = 35; // the level's generation: bumped when a level starts
const ERR = 36; // a helper failed
const CURSOR = 48; // the next chunk of the level
const LEVEL_START = 64; // the level's parameters, written before it starts
const LEVEL_END = 65; // the states of the level numbered so far (its end once LEVEL_FINAL is 1)
const ENTRY_START = 66; // stored states when the level started: later ones are new
const DEPTH = 67;
const ACTIVE = 68; // threads taking part in this level
const MAX_DEPTH = 69;
const LEVEL_FINAL = 70; // 1: LEVEL_END is the level's end (the previous level's replay is over)
const LINE = 16;
const COUNTS = 80; // per thread, a line each: successors generated in this level
const READY = COUNTS + LINE * MAX_WORKERS; // per helper: 1 once it runs
const ACTIVE_OF = READY + MAX_WORKERS; // per helper: the generation (level) it is invited to
const BEAT = ACTIVE_OF + MAX_WORKERS; // per helper: bumped as it runs and while it waits
const WHERE = BEAT + MAX_WORKERS; // per thread: where it is in the protocol (W_*), for a stall's report
const SEEN_OF = WHERE + MAX_WORKERS; // per helper: the last generation it acted on
const EXITED = SEEN_OF + MAX_WORKERS; // per helper: 1 once its thread exited (ts-worker-bootstrap.mjs)
const CTL_WORDS = EXITED + MAX_WORKERS;

/** The control word a helper's thread raises when it exits (startTsWorker's exitFlag). */
export function exitWord(id: number): number {
  return EXITED + id;
}

// Values of WHERE: cheap to keep (a store per change of phase, not per state), read only when a
// stall is reported (IRQLAB_PARALLEL_TRACE=1, see stallReport).
const W_IDLE = 1; // waiting for a level
const W_EXPAND = 2; // expanding chunks of a level
const W_PARKED = 3; // parked for a table's growth
const W_GROW = 4; // the last to park: growing tables
const W_DONE_WAIT = 5; // the main thread, waiting for the level's finishes
const W_EXIT = 6;
const W_REPLAY = 7; // the main thread, replaying a level
const WHERE_NAMES = ['-', 'idle', 'expand', 'parked', 'grow', 'wait-done', 'exit', 'replay'];

/**
 * The protocol words at a stall, one line (IRQLAB_PARALLEL_TRACE=1): the main thread writes it to
 * stderr when it has waited TRACE_MS for the helpers, so a stall shows which word each thread is
 * waiting on.
 */
export function stallReport(ctl: Int32Array, workers: number): string {
  const w = (i: number) => Atomics.load(ctl, i);
  const per: string[] = [];
  for (let id = 0; id < workers; id++) {
    per.push(
      `t${id}: ${WHERE_NAMES[w(WHERE + id)] ?? w(WHERE + id)}` +
        (id === 0
          ? ''
          : ` ready=${w(READY + id)} invited=${w(ACTIVE_OF + id)} seen=${w(SEEN_OF + id)} beat=${w(BEAT + id)}`) +
        ` generated=${w(COUNTS + LINE * id)}`,
    );
  }
  return (
    `parallel search stall: GEN=${w(GEN)} ACTIVE=${w(ACTIVE)} DONE=${w(DONE)} PAUSE=${w(PAUSE)} ` +
    `PARKED=${w(PARKED)} PAUSE_GEN=${w(PAUSE_GEN)} STOP=${w(STOP)} ERR=${w(ERR)} SEQ=${w(SEQ)} ` +
    `CURSOR=${w(CURSOR)} level=[${w(LEVEL_START)},${w(LEVEL_END)}) depth=${w(DEPTH)}; ${per.join('; ')}`
  );
}

const TRACE = typeof process !== 'undefined' && process.env.IRQLAB_PARALLEL_TRACE === '1';
const TRACE_MS = 5_000;
/** A helper with no sign of life for this long has died (a worker cannot report its own crash). */
const STALL_MS = 30_000;

/** Everything a helper thread needs (structured-clonable). */
export interface ParallelShared {
  readonly ctl: SharedArrayBuffer;
  readonly trees: SharedTrees;
  /** The level's states in order: position → stored state (Int32). */
  readonly order: SharedArrayBuffer;
  /** Per stored state: the invariant's code, checked by the thread that stored it (Int32). */
  readonly inv: SharedArrayBuffer;
  /**
   * Per stored state: its position in the one-thread order, -1 until this thread's replay numbers
   * it (Int32). Every state stored before a level is numbered when the level starts: the
   * reduction's proviso reads it.
   */
  readonly canon: SharedArrayBuffer;
  /**
   * Per chunk of the level: the thread that took it and where its records start (Int32 pairs).
   * Two tables, one per parity of the level: a level is expanded while the previous one's records
   * are still being replayed.
   */
  readonly chunks: readonly SharedArrayBuffer[];
  /** Per thread and parity of the level (2 * thread + parity): its records of the level. */
  readonly recs: readonly SharedArrayBuffer[];
}

/** One thread's part: its own view of the store, its own copy of the model. */
class Participant {
  readonly ctl: Int32Array;
  readonly store: TreeStore;
  readonly tables: (SharedPairTable | SharedRootTable)[];
  // Fixed-length views of the growable shared buffers (decision 0222): re-created at each level
  // (the main thread grew order, chunks and canon before it) and after this thread grows one.
  private order: Int32Array;
  private inv: Int32Array;
  private chunks: Int32Array;
  private recs: Int32Array;
  private canon: Int32Array;
  private readonly acts: Int32Array;
  readonly sh: ParallelShared;
  readonly model: CheckModel;
  /** The parity of the level being expanded: which records and chunk table it writes. */
  private parity = 0;
  /** The partial-order reduction, this thread's own (it keeps scratch arrays), or undefined. */
  private readonly reducer: Reducer | undefined;
  readonly id: number;

  constructor(sh: ParallelShared, model: CheckModel, id: number, reducer?: Reducer) {
    this.sh = sh;
    this.model = model;
    this.reducer = reducer;
    this.id = id;
    this.ctl = new Int32Array(sh.ctl);
    this.store = new TreeStore(model.words, sh.trees);
    this.tables = this.store.sharedTables();
    for (const t of this.tables) t.onFull = () => this.requestGrowth();
    this.order = fixedView(sh.order);
    this.inv = fixedView(sh.inv);
    this.chunks = fixedView(sh.chunks[0]);
    this.recs = fixedView(sh.recs[2 * id]);
    this.canon = fixedView(sh.canon);
    this.acts = new Int32Array(model.maxActions);
  }

  /** New views of every shared buffer: at the start of a level, the lengths another thread grew them to. */
  private views(): void {
    const sh = this.sh;
    this.order = fixedView(sh.order);
    this.inv = fixedView(sh.inv);
    this.chunks = fixedView(sh.chunks[this.parity]);
    this.recs = fixedView(sh.recs[2 * this.id + this.parity]);
    this.canon = fixedView(sh.canon);
  }

  private wake(): void {
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
  }

  /** A helper's sign of life; the main thread checks them while it waits (watchHelpers). */
  beat(): void {
    if (this.id !== 0) Atomics.add(this.ctl, BEAT + this.id, 1);
  }

  private beats: Int32Array | null = null;
  private beatSeen = 0;

  /**
   * On the main thread, while it waits for the helpers: throws when no helper has shown a sign of
   * life for STALL_MS. A worker that dies outside its own try (a fatal error of its isolate) cannot
   * raise ERR, and this thread, blocked in a synchronous search, never sees its exit event: without
   * this the search would wait for ever.
   */
  watchHelpers(now: number): void {
    if (this.id !== 0) return;
    const ctl = this.ctl;
    const n = MAX_WORKERS;
    this.checkExits();
    if (this.beats === null) this.beats = new Int32Array(n);
    let moved = false;
    for (let id = 1; id < n; id++) {
      const b = Atomics.load(ctl, BEAT + id);
      if (b !== this.beats[id]) {
        this.beats[id] = b;
        moved = true;
      }
    }
    if (moved || this.beatSeen === 0) this.beatSeen = now;
    else if (now - this.beatSeen > STALL_MS)
      throw new Error(`parallel search: no helper thread showed a sign of life for ${STALL_MS / 1000} s`);
  }

  /**
   * Throws when a helper's thread exited while the search runs (it failed to load, or died): this
   * thread cannot see the Worker's events while it is blocked, so the helper says so in EXITED.
   */
  checkExits(): void {
    const ctl = this.ctl;
    for (let id = 1; id < MAX_WORKERS; id++)
      if (Atomics.load(ctl, EXITED + id) !== 0 && Atomics.load(ctl, STOP) !== 2)
        throw new Error(`parallel search: helper thread ${id} exited during the search`);
  }

  /** The clock the main thread's watch reads (performance.now by default). */
  now: () => number = () => performance.now();

  /** Asks every thread to park so that a table can grow. */
  private requestGrowth(): void {
    if (Atomics.compareExchange(this.ctl, PAUSE, 0, 1) === 0) {
      this.wake();
      // A helper waiting for numbered states (numbered) waits on LEVEL_END, not SEQ.
      Atomics.notify(this.ctl, LEVEL_END);
    }
  }

  /** Parks until the pause ends; the last thread to park grows the tables that need it. */
  /** Says where this thread is (WHERE). */
  at(where: number): void {
    Atomics.store(this.ctl, WHERE + this.id, where);
  }

  /** The main thread, waiting since `since`: reports the protocol words once per TRACE_MS. */
  private lastTrace = 0;
  traceStall(since: number, now: number, workers: number): void {
    if (!TRACE || this.id !== 0 || now - since < TRACE_MS || now - this.lastTrace < TRACE_MS) return;
    this.lastTrace = now;
    // Synchronously: this thread is blocked in a search, its stream would not flush.
    writeSync(2, `${new Date().toISOString()} ${stallReport(this.ctl, workers)}\n`);
  }

  park(): void {
    const ctl = this.ctl;
    // A growth rehashes every state number taken: none may be left unwritten.
    this.store.releaseNumbers();
    const was = Atomics.load(ctl, WHERE + this.id);
    this.at(W_PARKED);
    const g = Atomics.load(ctl, PAUSE_GEN);
    if (Atomics.add(ctl, PARKED, 1) + 1 === Atomics.load(ctl, ACTIVE)) {
      this.at(W_GROW);
      for (const t of this.tables) if (t.needsGrowth()) t.grow();
      Atomics.store(ctl, PARKED, 0);
      Atomics.store(ctl, PAUSE, 0);
      Atomics.add(ctl, PAUSE_GEN, 1);
      Atomics.notify(ctl, PAUSE_GEN);
      this.wake();
    } else {
      const since = this.now();
      while (Atomics.load(ctl, PAUSE_GEN) === g) {
        this.beat();
        const now = this.now();
        this.watchHelpers(now);
        this.traceStall(since, now, this.workers);
        Atomics.wait(ctl, PAUSE_GEN, g, 100);
      }
    }
    for (const t of this.tables) t.refresh();
    this.at(was);
  }

  /** Threads in all (for a stall's report). */
  workers = 1;

  // The level's parameters, read from the control words by expandLevel.
  private depth = 0;
  private maxDepth = 0;
  private entryStart = 0;
  /** Successors generated in this level (COUNTS). */
  private gen = 0;

  /**
   * Expands chunks of the current level until none is left or the search stops. The level's states
   * may still be being numbered (the main thread replays the previous level meanwhile): a chunk is
   * expanded once its states are (LEVEL_END), and the level ends at LEVEL_END once it is final.
   */
  expandLevel(poll?: () => void): void {
    const ctl = this.ctl;
    const ls = ctl[LEVEL_START];
    this.depth = ctl[DEPTH];
    this.parity = this.depth & 1;
    this.maxDepth = ctl[MAX_DEPTH];
    this.entryStart = ctl[ENTRY_START];
    this.gen = 0;
    for (const t of this.tables) t.refresh();
    this.views();
    this.at(W_EXPAND);
    let off = 0;
    for (;;) {
      if (Atomics.load(ctl, PAUSE) !== 0) this.park();
      poll?.();
      if (Atomics.load(ctl, STOP) !== 0) break;
      this.beat();
      const c = Atomics.add(ctl, CURSOR, 1);
      const start = ls + c * CHUNK;
      const le = this.numbered(start + CHUNK);
      if (start >= le || Atomics.load(ctl, STOP) !== 0) break;
      this.chunks[2 * c] = this.id;
      this.chunks[2 * c + 1] = off;
      this.roomForChunk(off);
      off = this.expandChunk(start, Math.min(le, start + CHUNK), off);
      Atomics.store(ctl, COUNTS + LINE * this.id, this.gen);
    }
    Atomics.store(ctl, COUNTS + LINE * this.id, this.gen);
    // The next level's states are the numbers from its start on.
    this.store.releaseNumbers();
  }

  /**
   * Grows this thread's records and the invariant codes before a chunk, so that the expansion's
   * loop does not meet a growth branch it has never taken: V8 drops an optimized function's code
   * at such a branch and compiles it again (decision 0261). The records are exact (a state writes
   * at most 3 + 3 * maxActions words); the codes are indexed by state number, which other
   * threads advance too, so the loop keeps its own check for a number past this margin.
   */
  private roomForChunk(off: number): void {
    const need = off + CHUNK * (3 + 3 * this.model.maxActions);
    if (need > this.recs.length) {
      const recBuf = this.sh.recs[2 * this.id + this.parity];
      checkRoom(recBuf, need * 4);
      this.recs = fixedView(recBuf);
    }
    const states = this.store.count + 4 * CHUNK * this.model.maxActions + 4096;
    if (states > this.inv.length) {
      checkRoom(this.sh.inv, states * 4);
      this.inv = fixedView(this.sh.inv);
    }
  }

  /**
   * The level's states numbered so far once `upTo` of them are, or the level is final (then its
   * end), or the search stops. Parks when asked meanwhile.
   */
  private numbered(upTo: number): number {
    const ctl = this.ctl;
    for (;;) {
      // FINAL before END: the main thread writes the end before it says it is final.
      const fin = Atomics.load(ctl, LEVEL_FINAL);
      const le = Atomics.load(ctl, LEVEL_END);
      if (fin !== 0 || le >= upTo || Atomics.load(ctl, STOP) !== 0) return le;
      if (Atomics.load(ctl, PAUSE) !== 0) {
        this.park();
        continue;
      }
      this.beat();
      Atomics.wait(ctl, LEVEL_END, le, 20);
    }
  }

  /**
   * Expands the level's states `start`..`end`-1, writing their records from `off`; returns where
   * the records end. A method of its own, called per chunk, for the reason level-replay.ts gives.
   */
  private expandChunk(start: number, end: number, off: number): number {
    const ctl = this.ctl;
    const m = this.model;
    const store = this.store;
    const acts = this.acts;
    const reducer = this.reducer;
    const es = this.entryStart;
    const open = this.depth < this.maxDepth;
    let gen = 0;
    // Room for the chunk's records: roomForChunk.
    const recs = this.recs;
    for (let i = start; i < end; i++) {
      store.load(this.order[i]);
      const n = m.enabled(store.cur, acts);
      if (n === 0) {
        recs[off++] = 0;
        recs[off++] = m.terminal(store.cur);
        recs[off++] = 0;
        continue;
      }
      let expand = open ? n : 0;
      // The one-thread search's choice (explorer.ts): the ample action first, alone unless its
      // successor was expanded already.
      let reduced = false;
      if (reducer !== undefined && expand > 1 && ampleFirst(reducer, store.cur, acts, n)) {
        expand = 1;
        reduced = true;
      }
      recs[off++] = n;
      recs[off++] = 0;
      const count = off++;
      for (let k = 0; k < expand; k++) {
        if (Atomics.load(ctl, PAUSE) !== 0) this.park();
        store.fresh();
        const sv = m.step(store.next, acts[k]);
        const t = store.intern();
        if (store.added) {
          if (t >= this.inv.length) {
            checkRoom(this.sh.inv, (t + 1) * 4);
            this.inv = fixedView(this.sh.inv);
          }
          this.inv[t] = m.invariant(store.next);
        }
        recs[off++] = t;
        recs[off++] = acts[k];
        recs[off++] = sv;
        gen++;
        // The proviso: a successor stored before this level has its one-thread position once the
        // previous level's replay numbered it (-1 before: then its position will be past every
        // state numbered now, this one included); one stored during this level belongs to the
        // next level, after this state.
        if (reduced && t < es) {
          const ct = this.canon[t];
          if (ct >= 0 && ct <= i) {
            expand = n;
            reduced = false;
          }
        }
      }
      recs[count] = expand;
    }
    this.gen += gen;
    return off;
  }

  /** Says the level is done here. */
  finishLevel(): void {
    Atomics.add(this.ctl, DONE, 1);
    this.wake();
  }
}

/**
 * The body of a helper thread (bfs-worker.ts): takes part in every level it is let in, parks when
 * asked, returns when the search is over.
 */
export function helperMain(
  sh: ParallelShared,
  build: () => { model: CheckModel; reducer?: Reducer },
  id: number,
): void {
  const ctl = new Int32Array(sh.ctl);
  try {
    // Inside the try: a helper whose model fails to build says so (ERR) instead of leaving the
    // main thread to wait for a helper that will never be ready.
    const { model, reducer } = build();
    const p = new Participant(sh, model, id, reducer);
    const init = new Uint32Array(model.words);
    model.init(init);
    let seen = Atomics.load(ctl, GEN);
    Atomics.store(ctl, SEEN_OF + id, seen);
    Atomics.store(ctl, READY + id, 1);
    // The helper's view of the store is set up (store.init, which interns the initial state's
    // nodes) only once it is counted in a level. Before that the other threads do not wait for it
    // when they park, so its lookups could run while the last to park rehashes a slot array.
    let started = false;
    p.at(W_IDLE);
    for (;;) {
      p.beat();
      const seq = Atomics.load(ctl, SEQ);
      if (Atomics.load(ctl, STOP) === 2) {
        p.at(W_EXIT);
        return;
      }
      const g = Atomics.load(ctl, GEN);
      // Counted in this level (invited for its generation): park with the others when asked.
      const invited = g !== 0 && Atomics.load(ctl, ACTIVE_OF + id) === g;
      if (invited && Atomics.load(ctl, PAUSE) !== 0) {
        p.park();
        continue;
      }
      if (g !== seen) {
        seen = g;
        Atomics.store(ctl, SEEN_OF + id, seen);
        // The main thread invites a helper (ACTIVE_OF = the new generation) before it publishes
        // the generation, and counts it among the threads the level waits for. A helper expands
        // only the generation it was invited for: one that read whether it takes part before
        // the new generation, or saw an older generation while already invited to the next, would
        // skip a level or finish into the wrong one, and the main thread would wait for ever.
        if (invited) {
          if (!started) {
            p.store.init(init);
            started = true;
          }
          p.expandLevel();
          p.at(W_IDLE);
          p.finishLevel();
        }
        continue;
      }
      Atomics.wait(ctl, SEQ, seq, 100);
    }
  } catch (e) {
    Atomics.store(ctl, ERR, 1);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    throw e;
  }
}

export interface ParallelOptions extends ExploreOptions {
  /** Threads in all, this one included (2..MAX_WORKERS). */
  workers: number;
  /**
   * Starts helper `id` (1..workers-1) on `sh` with the same model, and the same reduction when
   * `reducer` is given; returns a handle to end it.
   */
  spawn: (id: number, sh: ParallelShared) => { terminate(): unknown };
  /**
   * Start only once every helper runs (tests: a small search would otherwise end before a helper
   * has started, on one thread). Default: helpers join at the first level after they are ready.
   */
  waitForHelpers?: boolean;
  /**
   * Helpers are started at the first level at least this wide (default SPAWN_WIDTH), and not at
   * all by a search that never has one. Ignored with `waitForHelpers`, which starts them first.
   */
  spawnWidth?: number;
  /**
   * Called by this thread each time its replay has numbered one more chunk of a level for the
   * helpers (tests: a pause here keeps the helpers at the edge of the numbered states, where the
   * successors they meet are not numbered yet).
   */
  onPublish?: () => void;
}

/**
 * The level width (states) at which a search starts its helpers. A thread costs its start (about
 * 0.1 s from the build, 2 s under tsx) and a level narrower than a few chunks per thread leaves it
 * little to do: the built-ins' widest levels hold a few hundred to 2,000 states and end in well
 * under a second on one thread, and the 2-vCPU scaled scenario (25,906 states) took twice the CPU
 * on two threads (docs/reductions.md, "Threads"). So `--workers` can default to every core: a
 * small search never starts a thread.
 */
export const SPAWN_WIDTH = 4096;

/** The one-thread search's answer (explorer.ts), computed by `workers` threads. BFS only. */
export function exploreParallel(model: CheckModel, opts: ParallelOptions): ExploreResult {
  if (opts.strategy !== 'bfs') throw new Error('parallel search: breadth-first only');
  const reducer = opts.reducer;
  const W = Math.max(1, Math.min(MAX_WORKERS, opts.workers));
  const { maxStates, maxDepth, maxTimeMs } = opts.bounds;
  const len = levelLengths(model.words);
  // A lookup interns at most len[l] nodes of level l, and one root entry.
  const trees: SharedTrees = {
    levels: len.map((n, l) => SharedPairTable.create(l === 0 ? 1 : W * n)),
    root: SharedRootTable.create(W),
  };
  const sh: ParallelShared = {
    ctl: new SharedArrayBuffer(CTL_WORDS * 4),
    trees,
    order: reserveShared(),
    inv: reserveShared(),
    canon: reserveShared(),
    chunks: [reserveShared(), reserveShared()],
    recs: Array.from({ length: 2 * W }, () => reserveShared()),
  };
  const me = new Participant(sh, model, 0, reducer);
  me.workers = W;
  const ctl = me.ctl;
  const store = me.store;
  ctl[MAX_DEPTH] = Math.min(maxDepth, 0x7fffffff);
  const rootTable = new SharedRootTable(trees.root);
  const t0 = opts.now();
  const every = opts.progressEveryMs ?? 2000;
  let lastProgress = t0;

  const live = isLiveModel(model);
  const edges = live ? new EdgeLog() : null;
  // The one-thread search's bookkeeping, in its order.
  const rp = new LevelReplay(edges, maxStates, maxDepth);
  /** Stored state → position in the one-thread order (-1: not numbered yet): sh.canon. */
  let canon = fixedView(sh.canon);
  let cycleUnchecked = false;

  const order = () => fixedView(sh.order);
  const bytes = () => {
    // Written bytes: the tables, three per-state arrays here and four shared ones.
    let b = rootTable.bytes() + rp.parent.bytes() * 3 + rootTable.stored * 16;
    for (const h of trees.levels) b += new SharedPairTable(h).bytes();
    return b + (edges?.bytes() ?? 0);
  };
  const levelGenerated = () => {
    let g = 0;
    for (let w = 0; w < W; w++) g += Atomics.load(ctl, COUNTS + LINE * w);
    return g;
  };
  let stopReason: 'time' | 'interrupted' | null = null;
  let running = true;
  /** The most threads that took part in one level. */
  let maxActive = 1;
  const helpers: { terminate(): unknown }[] = [];
  const endHelpers = () => {
    Atomics.store(ctl, STOP, 2);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    for (const h of helpers) h.terminate();
  };
  const result = (outcome: Outcome): ExploreResult => {
    if (running) endHelpers();
    running = false;
    return {
      outcome,
      generated: rp.generated,
      distinct: outcome.kind === 'incomplete' && outcome.reason !== 'states' ? rootTable.stored : rp.count,
      depth: rp.maxSeenDepth,
      elapsedMs: opts.now() - t0,
      collisionProbability: 0,
      reducedStates: rp.reducedStates,
      cycleUnchecked,
      storeBytes: bytes(),
      threads: maxActive,
    };
  };
  /** Polled by this thread between chunks and while it waits: stop, time, progress. */
  const poll = () => {
    const t = opts.now();
    if (stopReason === null) {
      if (opts.shouldStop?.()) stopReason = 'interrupted';
      else if (t - t0 > maxTimeMs) stopReason = 'time';
      if (stopReason !== null) Atomics.store(ctl, STOP, 1);
    }
    if (opts.onProgress && t - lastProgress >= every) {
      lastProgress = t;
      const stored = rootTable.stored;
      opts.onProgress({
        states: rp.generated + levelGenerated(),
        distinct: stored,
        queue:
          Math.max(0, ctl[LEVEL_END] - ctl[LEVEL_START] - Atomics.load(ctl, CURSOR) * CHUNK) +
          stored -
          rp.count,
        depth: ctl[DEPTH],
        elapsedMs: t - t0,
      });
    }
  };

  const init = new Uint32Array(model.words);
  model.init(init);
  store.init(init);
  // Level 0's states are the numbers after the initial state's.
  store.releaseNumbers();
  checkRoom(sh.canon, 4);
  canon = fixedView(sh.canon);
  canon[0] = 0;
  rp.root();
  new Int32Array(sh.order)[0] = 0;
  const v0 = model.invariant(store.cur);
  if (v0 !== 0) return result({ kind: 'violated', code: v0, path: [], atTerminal: false });
  const spawnHelpers = () => {
    for (let id = 1; id < W; id++) helpers.push(opts.spawn(id, sh));
  };
  const spawnWidth = opts.spawnWidth ?? SPAWN_WIDTH;
  if (opts.waitForHelpers === true) {
    spawnHelpers();
    for (let id = 1; id < W; id++) {
      while (Atomics.load(ctl, READY + id) !== 1) {
        if (Atomics.load(ctl, ERR) !== 0) throw new Error('parallel search: a helper thread failed');
        if (opts.now() - t0 > 120_000) throw new Error('parallel search: a helper did not start in 120 s');
        me.checkExits();
        me.traceStall(t0, opts.now(), W);
        Atomics.wait(ctl, SEQ, Atomics.load(ctl, SEQ), 20);
      }
    }
  }

  /**
   * Sets level `d` up, its states from `from` on, numbered up to `upTo` so far (`final`: that is
   * its end), at most `bound` of them; invites the helpers that are ready and lets them start.
   * Returns the threads that take part.
   */
  const startLevel = (d: number, from: number, upTo: number, final: boolean, bound: number): number => {
    checkRoom(sh.chunks[d & 1], Math.ceil(bound / CHUNK) * 8);
    // A helper takes part in this level if it is invited for this level's generation: a helper
    // that sees an older generation, or was invited for an older one, stays out of it.
    const gen = Atomics.load(ctl, GEN) + 1;
    let active = 1;
    for (let id = 1; id < W; id++) {
      if (Atomics.load(ctl, READY + id) === 1) {
        Atomics.store(ctl, ACTIVE_OF + id, gen);
        active++;
      }
    }
    if (active > maxActive) maxActive = active;
    ctl[LEVEL_START] = from;
    Atomics.store(ctl, LEVEL_END, upTo);
    Atomics.store(ctl, LEVEL_FINAL, final ? 1 : 0);
    ctl[ENTRY_START] = rootTable.size;
    ctl[DEPTH] = d;
    for (let w = 0; w < W; w++) ctl[COUNTS + LINE * w] = 0;
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, CURSOR, 0);
    Atomics.store(ctl, ACTIVE, active);
    Atomics.add(ctl, GEN, 1);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    return active;
  };

  let ls = 0;
  let le = 1;
  const A = model.maxActions;
  try {
    let active = startLevel(0, 0, 1, true, 1);
    for (let d = 0; ; d++) {
      if ((le - ls) * A >= 2 ** 32)
        throw new Error('parallel search: a level too wide for 32-bit edge positions');
      // A helper that died before it was ready (its module failed to load) takes part in no level,
      // so no level's wait would notice it: the search would end on fewer threads and say nothing.
      if (helpers.length > 0) me.checkExits();
      me.expandLevel(poll);
      me.at(W_DONE_WAIT);
      me.finishLevel();
      const since = opts.now();
      for (;;) {
        const seq = Atomics.load(ctl, SEQ);
        if (Atomics.load(ctl, ERR) !== 0) throw new Error('parallel search: a helper thread failed');
        if (Atomics.load(ctl, PAUSE) !== 0) {
          me.park();
          continue;
        }
        if (Atomics.load(ctl, DONE) === active) break;
        poll();
        const now = opts.now();
        me.watchHelpers(now);
        me.traceStall(since, now, W);
        Atomics.wait(ctl, SEQ, seq, 50);
      }
      if (stopReason !== null) {
        rp.generated += levelGenerated();
        return result({ kind: 'incomplete', reason: stopReason });
      }

      // The level in the one-thread order. The next level is set up first: the helpers expand its
      // states as this replay numbers them (a chunk at a time), instead of waiting for its end.
      const es = ctl[ENTRY_START];
      const stored = rootTable.size;
      checkRoom(sh.canon, stored * 4);
      canon = fixedView(sh.canon);
      canon.fill(-1, es, stored);
      checkRoom(sh.order, (rp.count + (stored - es)) * 4);
      const chunks = fixedView(sh.chunks[d & 1]);
      const recsOf = Array.from({ length: W }, (_, w) => fixedView(sh.recs[2 * w + (d & 1)]));
      rp.level(d, es, canon, order(), fixedView(sh.inv));
      // The next level's states are the ones first stored during this level.
      active = startLevel(d + 1, le, le, false, stored - es);
      me.at(W_REPLAY);
      const nChunks = Math.ceil((le - ls) / CHUNK);
      for (let c = 0; c < nChunks; c++) {
        const end = Math.min(le, ls + (c + 1) * CHUNK);
        const o = rp.chunk(recsOf[chunks[2 * c]], chunks[2 * c + 1], ls + c * CHUNK, end);
        if (o !== null) return result(o);
        Atomics.store(ctl, LEVEL_END, rp.count);
        Atomics.notify(ctl, LEVEL_END);
        opts.onPublish?.();
        if (Atomics.load(ctl, PAUSE) !== 0) me.park();
      }
      if (rp.pending !== null) return result(rp.pending);
      Atomics.store(ctl, LEVEL_FINAL, 1);
      Atomics.notify(ctl, LEVEL_END);
      ls = le;
      le = rp.count;
      // An empty level: the helpers invited to it find nothing and finish; the search is over.
      if (ls === le) break;
      if (helpers.length === 0 && W > 1 && le - ls >= spawnWidth) spawnHelpers();
    }
    endHelpers();
    running = false;
    if (rp.depthLimited) return result({ kind: 'incomplete', reason: 'depth' });
    if (live) {
      const part = edges?.ok ? cyclicPart(edges, rp.count) : undefined;
      // As in explorer.ts: on a reduced graph that may hold a cycle, the caller runs the fair-cycle
      // phase on the full one (reduced.ts).
      if (part !== null && reducer !== undefined) {
        cycleUnchecked = true;
        return result({ kind: 'holds' });
      }
      if (part !== null) {
        const ord = order();
        const count = rp.count;
        const states: StateStore = {
          count,
          depthOf: (i) => rp.depthOf.get(i),
          load: (i) => store.load(ord[i]),
          cur: store.cur,
          find: (s) => {
            const e = store.find(s);
            return e < 0 || e >= count ? -1 : canon[e];
          },
        };
        const stopPoll = () => {
          if (opts.shouldStop?.()) return 'interrupted' as const;
          return opts.now() - t0 > maxTimeMs ? ('time' as const) : null;
        };
        const f = findFairCycle(model, states, stopPoll, part);
        if (f.kind === 'stopped') return result({ kind: 'incomplete', reason: f.reason });
        if (f.kind === 'found') {
          const stem = rp.path(f.entry);
          return result({
            kind: 'violated',
            code: f.code,
            path: [...stem, ...f.cycle],
            atTerminal: false,
            loopStart: stem.length,
          });
        }
      }
    }
    return result({ kind: 'holds' });
  } finally {
    if (running) endHelpers();
  }
}

export type { SharedTableHandle };
