/**
 * Cost tables (docs/sim.md, "Costs"; docs/decisions/0150-cost-tables.md). Costs are data: a table
 * gives each primitive operation a number of cycles and the source of that number, and the step
 * map (src/sim/costs/steps.yaml, which a table may extend) says which primitives each model step
 * is made of. End-to-end figures (an IPI's latency, a fastpath's saving) are never inputs: they
 * must come out of the simulation, and a table lists the published ones under `published` only so
 * that the output can be compared with them.
 *
 * A step is named `fn/label` as the model names it (Instr.fn and Instr.label, e.g.
 * `vmx_deliver_posted_interrupt/pi_test_and_set_pir`; the hardware's own actions are
 * SystemModel.describe's `lapic/dispatch` and `guest/interrupt`). A `*` in a key matches any text,
 * so `pi_harvest_pir/READ_ONCE(pir[*])` covers the four loads. What a step does conditionally (a
 * VM exit, a notification IPI, posted-interrupt processing, a host interrupt) is priced by the
 * trace events it emits (`events`, keyed by the names of src/model/platform/events.ts), so a step
 * costs its `steps` entry plus the entries of the events it emitted.
 *
 * A term of a step's sum is one of:
 * - `name`: one primitive;
 * - `name*N`: N of them; `name*vcpus`: one per vCPU of the VM (a request to every vCPU);
 * - `rmw@line`, `load@line`, `store@line`: an access to a shared cache line, which costs the
 *   `_local` primitive when this CPU wrote the line last and the `_transfer` one otherwise (the
 *   line must move from another core's cache). The simulator tracks each line's last writer.
 *
 * This module is pure: it parses text the caller read (src/cli/costs.ts reads files).
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { EVENT_NAMES } from '../model/platform/events.ts';
import { formatIssues, pathString, yamlErrorLine } from '../scenarios/loader.ts';
import { scenarioErrorMap } from '../scenarios/messages.ts';

/** The primitive operations a table prices, each with what it covers. */
export const PRIMITIVES = {
  vm_exit:
    'VM exit: guest to host, guest state saved, host state loaded (each source says whether KVM’s minimal exit path is in)',
  vm_entry: 'VM entry: host to guest (each source says whether KVM’s minimal entry path is in)',
  exit_to_userspace: 'KVM_RUN returns to the VMM in userspace and is called again (beyond an in-kernel exit)',
  vmread: 'one VMREAD of a VMCS field (AMD: a VMCB field, plain memory)',
  vmwrite: 'one VMWRITE of a VMCS field (AMD: a VMCB field, plain memory)',
  locked_rmw_local: 'a locked read-modify-write on a line this core owns',
  locked_rmw_transfer: 'a locked read-modify-write on a line another core wrote last',
  load_local: 'a plain load that hits L1',
  load_transfer: 'a plain load of a line another core wrote last',
  store_local: 'a plain store into the store buffer',
  store_transfer: 'a plain store to a line another core wrote last (read-for-ownership)',
  full_barrier: 'smp_mb(): a full fence with an empty store buffer',
  ipi_icr_to_irr: 'a physical IPI from the sender’s ICR write to the bit set in the target’s IRR',
  host_irq_entry_exit: 'a host interrupt: IDT delivery, entry code, EOI and IRET, with an empty handler',
  guest_irq_delivery: 'virtual-interrupt delivery into the guest’s handler (IDT vectoring in non-root mode)',
  posted_interrupt_processing: 'the CPU’s posted-interrupt processing: ON cleared, PIR into vIRR, RVI, EOI',
  iommu_post: 'the IOMMU posting an interrupt into a descriptor (VT-d posting, AMD GA mode)',
  srcu_read_lock: 'srcu_read_lock as KVM re-takes it after an exit (its counter update and barriers)',
  rwsem_down_write: 'an uncontended rwsem write acquisition (one cmpxchg on the lock word)',
  kick_vcpu_request: 'kvm_make_all_cpus_request, per vCPU: request bit, kick IPI, the target’s exit, the ack',
  remote_tlb_flush: 'a remote TLB flush, per vCPU (kvm_flush_remote_tlbs on an APIC-access page zap)',
  wake_up: 'kvm_vcpu_wake_up of a blocked vCPU thread: try_to_wake_up on the waker’s CPU',
  context_switch: 'a host context switch into a vCPU thread (a woken or rescheduled thread runs again)',
} as const;
export type Primitive = keyof typeof PRIMITIVES;
export const PRIMITIVE_NAMES = Object.keys(PRIMITIVES) as Primitive[];

/** Accesses whose cost depends on which core wrote the line last. */
export const OWNED_ACCESSES = ['rmw', 'load', 'store'] as const;
export type OwnedAccess = (typeof OWNED_ACCESSES)[number];
const OWNED_PRIMITIVE: Record<OwnedAccess, [Primitive, Primitive]> = {
  rmw: ['locked_rmw_local', 'locked_rmw_transfer'],
  load: ['load_local', 'load_transfer'],
  store: ['store_local', 'store_transfer'],
};

/** The shared cache lines the step map may name (the simulator tracks each one's last writer). */
export const LINES = {
  pid: 'the posted-interrupt descriptor of the target vCPU (PIR, ON, SN, NV, NDST)',
  vapic: 'the virtual-APIC page (vIRR) of the vCPU',
  vcpu: 'struct kvm_vcpu fields other CPUs read: mode, requests, cpu',
  apicv: 'apicv_update_lock, the inhibit reasons and the IRQ-window count',
  wakeup_list: 'the per-pCPU wake-up list and its lock',
  msi_pid: 'the per-pCPU descriptor of host posted MSI',
  avic: 'the AVIC physical APIC ID table entry and backing page',
  lock: 'a spinlock word: ir_list_lock, irq_desc_lock, rq->__lock (issue 14 cases)',
} as const;
export type Line = keyof typeof LINES;

const TERM = /^([a-z_]+)(?:@([a-z_]+))?(?:\*(\d+|vcpus))?$/;

const cycles = z.number().min(0, 'cycles must not be negative').finite();
const source = z
  .string({ error: 'every number needs a source (a string naming where it comes from)' })
  .min(1, 'source must not be empty');

const primitiveEntry = z.object({ cycles, source }).strict();

const published = z
  .object({
    what: z.string().min(1),
    cycles: cycles.optional(),
    ns: cycles.optional(),
    change: z.string().optional().describe('a relative change, e.g. "-22.2%"'),
    source,
  })
  .strict();

const stepTerms = z.array(z.string());

/** A cost file, as written. */
export const costFile = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'name: lower-case letters, digits, dots and dashes'),
    cpu: z.string().min(1).describe('the part the numbers are for'),
    base: z.string().optional().describe('a built-in table whose primitives and steps this one extends'),
    clockGHz: z.object({ value: z.number().positive(), source }).strict().optional(),
    primitives: z
      .partialRecord(z.enum(PRIMITIVE_NAMES as [Primitive, ...Primitive[]]), primitiveEntry)
      .default({}),
    steps: z.record(z.string(), stepTerms).default({}),
    events: z.record(z.string(), stepTerms).default({}),
    published: z.array(published).default([]),
  })
  .strict();
export type CostFile = z.output<typeof costFile>;

/** The shared step map (src/sim/costs/steps.yaml), as written. */
export const stepMapFile = z
  .object({
    steps: z.record(z.string(), stepTerms),
    events: z.record(z.string(), stepTerms),
  })
  .strict();

/** The step map: step costs by `fn/label` pattern, and event costs by event name. */
export interface StepMap {
  steps: StepCost[];
  events: StepCost[];
}

/** One term, resolved. */
export type Term =
  | { kind: 'fixed'; primitive: Primitive; count: number; perVcpu: boolean }
  | { kind: 'owned'; access: OwnedAccess; line: Line; count: number };

export interface StepCost {
  key: string;
  terms: Term[];
}

/** A complete table: every primitive priced, the step map merged. */
export interface CostTable {
  name: string;
  cpu: string;
  clockGHz: { value: number; source: string };
  primitives: Record<Primitive, { cycles: number; source: string }>;
  /** Step keys in file order (base first): exact keys before patterns when resolving. */
  steps: StepCost[];
  /** Costs of trace events (events.ts names, lower case), charged to the step that emitted them. */
  events: StepCost[];
  published: CostFile['published'];
}

/** Parses one term of a step's sum, or throws a UserError at `where`. */
export function parseTerm(t: string, where: string): Term {
  const m = TERM.exec(t.trim());
  if (!m) throw new UserError(`${where}: "${t}" is not a term (name, name*N, name*vcpus or rmw@line)`);
  const [, name, line, mult] = m;
  const count = mult === undefined || mult === 'vcpus' ? 1 : Number(mult);
  if (line !== undefined) {
    if (!(OWNED_ACCESSES as readonly string[]).includes(name))
      throw new UserError(`${where}: "${t}": only ${OWNED_ACCESSES.join(', ')} take @line`);
    if (!Object.hasOwn(LINES, line))
      throw new UserError(
        `${where}: "${t}": unknown line "${line}" (lines: ${Object.keys(LINES).join(', ')})`,
      );
    if (mult === 'vcpus') throw new UserError(`${where}: "${t}": an access to one line is not per vCPU`);
    return { kind: 'owned', access: name as OwnedAccess, line: line as Line, count };
  }
  if (!Object.hasOwn(PRIMITIVES, name))
    throw new UserError(
      `${where}: unknown primitive "${name}" (primitives: ${PRIMITIVE_NAMES.join(', ')}; or rmw@line, load@line, store@line)`,
    );
  return { kind: 'fixed', primitive: name as Primitive, count, perVcpu: mult === 'vcpus' };
}

function parseYamlText(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new UserError(`${file}: not valid YAML: ${yamlErrorLine(e)}`);
  }
}

const EVENT_KEYS = Object.values(EVENT_NAMES);

function checkedSteps(raw: Record<string, string[]>, file: string): StepCost[] {
  return Object.entries(raw).map(([key, terms]) => {
    if (!/^[^/]+\/.+$/.test(key))
      throw new UserError(`${file}: at ${pathString(['steps', key])}: a step key is "fn/label"`);
    return { key, terms: terms.map((t, i) => parseTerm(t, `${file}: at ${pathString(['steps', key, i])}`)) };
  });
}

function checkedEvents(raw: Record<string, string[]>, file: string): StepCost[] {
  return Object.entries(raw).map(([key, terms]) => {
    if (!EVENT_KEYS.includes(key))
      throw new UserError(
        `${file}: at ${pathString(['events', key])}: unknown event "${key}" (events: ${EVENT_KEYS.join(', ')})`,
      );
    return { key, terms: terms.map((t, i) => parseTerm(t, `${file}: at ${pathString(['events', key, i])}`)) };
  });
}

/** Parses the shared step map. */
export function parseStepMapText(text: string, file: string): StepMap {
  const r = stepMapFile.safeParse(parseYamlText(text, file), { error: scenarioErrorMap });
  if (!r.success) throw new UserError(formatIssues(file, r.error.issues));
  return { steps: checkedSteps(r.data.steps, file), events: checkedEvents(r.data.events, file) };
}

/** Entries of `base` not overridden by `own`, then `own`. */
function overlay(base: readonly StepCost[], own: StepCost[]): StepCost[] {
  const overridden = new Set(own.map((s) => s.key));
  return [...base.filter((s) => !overridden.has(s.key)), ...own];
}

/**
 * Parses a cost file into a complete table. `stepMap` is the shared step map; `baseOf` returns the
 * built-in table a `base:` names (the CLI reads it), or undefined when there is none of that name.
 */
export function parseCostText(
  text: string,
  file: string,
  stepMap: StepMap,
  baseOf: (name: string) => CostTable | undefined = () => undefined,
): CostTable {
  const raw = parseYamlText(text, file);
  // zod's record of objects reports an unknown primitive as a valid key: check the names first.
  if (raw !== null && typeof raw === 'object' && 'primitives' in raw) {
    const prims = (raw as { primitives: unknown }).primitives;
    if (prims !== null && typeof prims === 'object') {
      const unknown = Object.keys(prims).find((k) => !Object.hasOwn(PRIMITIVES, k));
      if (unknown !== undefined)
        throw new UserError(
          `${file}: at ${pathString(['primitives', unknown])}: unknown primitive "${unknown}" (primitives: ${PRIMITIVE_NAMES.join(', ')})`,
        );
    }
  }
  const r = costFile.safeParse(raw, { error: scenarioErrorMap });
  if (!r.success) throw new UserError(formatIssues(file, r.error.issues));
  const f = r.data;
  let base: CostTable | undefined;
  if (f.base !== undefined) {
    base = baseOf(f.base);
    if (!base) throw new UserError(`${file}: at base: no built-in cost table "${f.base}"`);
  }
  const primitives = { ...(base?.primitives ?? {}) } as CostTable['primitives'];
  for (const [k, v] of Object.entries(f.primitives)) primitives[k as Primitive] = v;
  const missing = PRIMITIVE_NAMES.filter((p) => !Object.hasOwn(primitives, p));
  if (missing.length > 0)
    throw new UserError(
      `${file}: at primitives: missing primitive "${missing[0]}"${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}: give each one cycles and a source, or set base: to a built-in table`,
    );
  const steps = overlay(base?.steps ?? stepMap.steps, checkedSteps(f.steps, file));
  const events = overlay(base?.events ?? stepMap.events, checkedEvents(f.events, file));
  const clock = f.clockGHz ?? base?.clockGHz;
  if (!clock)
    throw new UserError(
      `${file}: at clockGHz: missing (the clock that turns cycles into time, with a source)`,
    );
  return {
    name: f.name,
    cpu: f.cpu,
    clockGHz: clock,
    primitives,
    steps,
    events,
    published: [...(base?.published ?? []), ...f.published],
  };
}

function globToRegExp(key: string): RegExp {
  return new RegExp(`^${key.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/**
 * The cost of the step `fn/label` (or `hw/action`): an exact key first, else the most specific
 * pattern (the longest key) that matches. Undefined when the map has none: the caller reports the
 * step as unpriced rather than guessing. Called once per instruction when a model is compiled.
 */
export function resolveStep(t: CostTable, key: string): StepCost | undefined {
  const exact = t.steps.find((s) => s.key === key);
  if (exact) return exact;
  let best: StepCost | undefined;
  for (const s of t.steps) {
    if (!s.key.includes('*')) continue;
    if (globToRegExp(s.key).test(key) && (best === undefined || s.key.length > best.key.length)) best = s;
  }
  return best;
}

/**
 * The cycles of a step: `vcpus` is the VM's vCPU count, `local(line)` whether this CPU wrote that
 * line last. (The simulator compiles terms into arrays; this is the reference it is tested against.)
 */
export function stepCycles(t: CostTable, s: StepCost, vcpus: number, local: (line: Line) => boolean): number {
  let c = 0;
  for (const term of s.terms) {
    if (term.kind === 'fixed') {
      c += t.primitives[term.primitive].cycles * term.count * (term.perVcpu ? vcpus : 1);
    } else {
      const [l, x] = OWNED_PRIMITIVE[term.access];
      c += t.primitives[local(term.line) ? l : x].cycles * term.count;
    }
  }
  return c;
}

/** The cost of an event kind (lower-case name, as EVENT_NAMES), or undefined when unpriced. */
export function resolveEvent(t: CostTable, name: string): StepCost | undefined {
  return t.events.find((s) => s.key === name);
}

/** Cycles to nanoseconds at the table's clock. */
export function cyclesToNs(t: CostTable, c: number): number {
  return c / t.clockGHz.value;
}

/** The lines in a fixed order: bit i of a `local` mask is LINE_NAMES[i]. */
export const LINE_NAMES = Object.keys(LINES) as Line[];

/**
 * A cost table compiled for one model: the cost of each of its step keys (an instruction, or an
 * event kind) as typed arrays, so that pricing a step at run time is a few array reads and
 * allocates nothing. `fixed[i]` is the cycles that do not depend on cache lines (per-vCPU terms
 * already multiplied by the VM's vCPU count); the owned accesses of key i are entries
 * ownedStart[i] .. ownedStart[i+1]-1 of ownedLine, ownedLocal and ownedTransfer.
 */
export class CompiledCosts {
  readonly fixed: Float64Array;
  readonly ownedStart: Int32Array;
  readonly ownedLine: Uint8Array;
  readonly ownedLocal: Float64Array;
  readonly ownedTransfer: Float64Array;

  /**
   * `keys[i]` is resolved with `resolve` (resolveStep for instructions, resolveEvent for events);
   * a key the table does not price is an error naming it (the step map must cover the model).
   */
  constructor(t: CostTable, keys: readonly string[], vcpus: number, resolve = resolveStep) {
    this.fixed = new Float64Array(keys.length);
    this.ownedStart = new Int32Array(keys.length + 1);
    const line: number[] = [];
    const local: number[] = [];
    const transfer: number[] = [];
    keys.forEach((k, i) => {
      const s = resolve(t, k);
      if (!s)
        throw new UserError(`cost table ${t.name}: no price for step "${k}" (add it to steps or events)`);
      this.ownedStart[i] = line.length;
      for (const term of s.terms) {
        if (term.kind === 'fixed') {
          this.fixed[i] += t.primitives[term.primitive].cycles * term.count * (term.perVcpu ? vcpus : 1);
        } else {
          const [l, x] = OWNED_PRIMITIVE[term.access];
          line.push(LINE_NAMES.indexOf(term.line));
          local.push(t.primitives[l].cycles * term.count);
          transfer.push(t.primitives[x].cycles * term.count);
        }
      }
    });
    this.ownedStart[keys.length] = line.length;
    this.ownedLine = Uint8Array.from(line);
    this.ownedLocal = Float64Array.from(local);
    this.ownedTransfer = Float64Array.from(transfer);
  }

  /** The cycles of key i; bit b of `localLines` says this CPU wrote LINE_NAMES[b] last. */
  cycles(i: number, localLines: number): number {
    let c = this.fixed[i];
    for (let j = this.ownedStart[i]; j < this.ownedStart[i + 1]; j++)
      c += ((localLines >>> this.ownedLine[j]) & 1) !== 0 ? this.ownedLocal[j] : this.ownedTransfer[j];
    return c;
  }

  /** The lines key i accesses, as a bitmask over LINE_NAMES (the driver updates their owners). */
  lines(i: number): number {
    let m = 0;
    for (let j = this.ownedStart[i]; j < this.ownedStart[i + 1]; j++) m |= 1 << this.ownedLine[j];
    return m;
  }
}
