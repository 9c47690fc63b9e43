/**
 * Footprints for partial-order reduction (reduction.ts): the words of the World each atomic step
 * may read and write, whatever state it runs in. Steps are closures and carry no read/write sets,
 * so the footprints are declared here by the step's kernel function and label; a step this table
 * does not name touches everything (`null`), which is always sound and lets new steps in without
 * annotation. test/check/footprints.test.ts runs every step of every built-in on its reachable
 * states through a recording view of the World and fails when a step touches a word its footprint
 * does not declare.
 *
 * The footprints are generous on purpose (a whole descriptor rather than its ON bit): a larger
 * footprint only costs reduction, a missing word costs soundness.
 */
import { LAPIC } from '../model/hw/lapic.ts';
import { PID } from '../model/hw/pid.ts';
import { VAPIC } from '../model/hw/vapic.ts';
import { KVM_APICV_EXTRA } from '../model/kvm/apicv.ts';
import { KVM_ASSIGN, KVM_ASSIGN_BLOCK } from '../model/kvm/assignment.ts';
import { ACTOR } from '../model/kvm/program.ts';
import { KVM_VCPU } from '../model/kvm/state.ts';
import { type Layout, PCPU, VCPU } from '../model/platform/layout.ts';

/** Word indices a step may read and may write (a word it writes it may also read). */
export interface Footprint {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /**
   * Descriptor control words among `writes` that the step changes only in ON and SN, never in NV
   * (pi_clear_on, pi_set_on, pi_test_and_clear_sn): no invariant reads those bits (the wake-up-list
   * invariant reads NV; SystemModel.invariant), so such a write is invisible to the invariants.
   */
  readonly onSnOnly?: readonly number[];
  /**
   * The step never turns a state that violates a state invariant into one that satisfies it (it
   * may do the opposite). Partial-order reduction may then expand it alone although it writes
   * words the invariants read (reduction.ts, C2; decision 0258).
   */
  readonly neverRepairs?: boolean;
}

/** What a footprint is relative to: the actor running the step and the CPUs it may use. */
export interface StepScope {
  readonly L: Layout;
  /** The actor's World block. */
  readonly actor: number;
  /** The actor's vCPU, or -1. */
  readonly vcpu: number;
  /** The pCPUs the actor's vCPU may be loaded on over the whole scenario. */
  readonly pcpus: readonly number[];
  /**
   * When every step of the actor's program posts (kvm.deliver, device.post): the vCPUs and vectors
   * it posts to. A sender's footprint is then that of its targets and their vectors' PIR words.
   */
  readonly posts?: readonly { readonly vcpu: number; readonly vector: number }[];
  /**
   * Per vCPU: the pCPUs its descriptor's NDST and vcpu->cpu can name over the scenario (where it
   * starts, or pCPU 0 for a vCPU placed nowhere, and where it may be loaded), so the pCPUs a
   * notification or a kick to it can reach. With `posts`.
   */
  readonly ndst?: readonly (readonly number[])[];
}

type KvmField = keyof typeof KVM_VCPU;

const range = (base: number, n: number): number[] => Array.from({ length: n }, (_, k) => base + k);
const all = (n: number): number[] => range(0, n);

/** Word sets of the World's blocks, by unit. */
export const words = {
  pid: (L: Layout, x: number) => range(L.pid[x], PID.SIZE),
  vapic: (L: Layout, x: number) => range(L.vapic[x], VAPIC.SIZE),
  vcpu: (L: Layout, x: number) => range(L.vcpu[x], VCPU.SIZE),
  kvm: (L: Layout, x: number, ...f: KvmField[]) =>
    f.length === 0 ? range(L.kvmVcpu[x], KVM_VCPU.SIZE) : f.map((k) => L.kvmVcpu[x] + KVM_VCPU[k]),
  lapic: (L: Layout, p: number) => range(L.lapic[p], LAPIC.SIZE),
  pcpu: (L: Layout, p: number, ...f: (keyof typeof PCPU)[]) =>
    f.length === 0 ? range(L.pcpu[p], PCPU.SIZE) : f.map((k) => L.pcpu[p] + PCPU[k]),
  actor: (a: number) => range(a, ACTOR.SIZE),
  apicv: (L: Layout) => range(L.extra.get(KVM_APICV_EXTRA.name)!, KVM_APICV_EXTRA.size),
  /** The VM's assigned-device count, when the scenario assigns a device late (assignment.ts). */
  assign: (L: Layout) => {
    const o = L.extra.get(KVM_ASSIGN_BLOCK);
    return o === undefined ? [] : range(o, KVM_ASSIGN.SIZE);
  },
};

/** Everything a vCPU's own state holds: descriptor, virtual-APIC page, guest state, KVM state. */
function ownVcpu(c: StepScope): number[] {
  const { L, vcpu: x } = c;
  return [...words.pid(L, x), ...words.vapic(L, x), ...words.vcpu(L, x), ...words.kvm(L, x)];
}

/**
 * ownVcpu less vcpu->loaded_on: only sched-in and sched-out write it (vmx_vcpu_pi_load's first
 * step, context_switch), and every vCPU's sched-in reads every other's (one task per pCPU), so a
 * step that writes the rest of its vCPU's state commutes with another vCPU's sched-in. The step
 * may still read it.
 */
function ownVcpuButLoaded(c: StepScope): { r: number[]; w: number[] } {
  const loaded = c.L.kvmVcpu[c.vcpu] + KVM_VCPU.LOADED;
  return { r: [loaded], w: ownVcpu(c).filter((i) => i !== loaded) };
}

/** vmx_vcpu_run's steps (VM entry, the exits a program asks for): see RULES. */
function vmxVcpuRun(c: StepScope): { r: number[]; w: number[] } {
  const own = ownVcpuButLoaded(c);
  return { r: [...words.apicv(c.L), ...own.r], w: [...own.w, ...myPcpus(c)] };
}

/** The own descriptor's control word (ON, SN, NV). */
const control = (c: StepScope) => [c.L.pid[c.vcpu] + PID.CONTROL];

/**
 * An exchange of a PIR chunk of `chunkWords` 32-bit words (pirChunk) in vmx_sync_pir_to_irr's harvest:
 * the chunk, merged into the own vIRR, and KVM_REQ_EVENT where APICv is off or inhibited (read
 * from apicv_active; enter-guest.ts's `take`).
 */
function pirExchange(chunkWords: number): (c: StepScope, label: string) => { r: number[]; w: number[] } {
  return (c, label) => ({
    r: kvm(c, 'APICV_ACTIVE'),
    w: [...pirChunk(c, label, chunkWords), ...words.vapic(c.L, c.vcpu), ...kvm(c, 'REQUESTS')],
  });
}

/**
 * The PIR words a harvest load reads: READ_ONCE(pir[j]) is chunk j of `words` 32-bit words, the
 * 64-bit chunk in pi_harvest_pir (the u64-loads-then-xchg shape, enter-guest.ts names the step
 * so) and the 32-bit word in __kvm_apic_update_irr (harvest.ts).
 */
function pirChunk(c: StepScope, label: string, words: number): number[] {
  const j = Number(/\[(\d)\]/.exec(label)![1]);
  return range(c.L.pid[c.vcpu] + PID.PIR + j * words, words);
}

interface Rule {
  /** The step's kernel function (Instr.fn). */
  readonly fn: string;
  /** A pattern its label must match; absent: any label. */
  readonly label?: RegExp;
  /** Steps of a vCPU thread about its own vCPU: the rule needs the actor to have one. */
  readonly own: boolean;
  readonly fp: (c: StepScope, label: string) => { r?: number[]; w?: number[]; onSn?: number[] };
  /** Footprint.neverRepairs. */
  readonly neverRepairs?: true;
}

/**
 * A sender's step towards some target vCPU (the label does not always say which): the target's
 * descriptor, vIRR and posted set, the KVM fields a sender reads or changes (vcpu->mode, ->cpu,
 * the kick's wake-up of a blocked task, the posting count, KVM_REQ_EVENT), and any pCPU's LAPIC
 * (the notification or kick IPI) and PI_FOR instrumentation. kvm-semantics.md section 1 lists
 * the sender side of vmx_deliver_posted_interrupt and kvm_vcpu_kick.
 */
function sender(c: StepScope): { r: number[]; w: number[] } {
  const { L } = c;
  if (c.posts !== undefined && c.ndst !== undefined) return senderTo(c, c.posts, c.ndst);
  const t: number[] = [];
  for (let y = 0; y < L.nVcpu; y++) {
    t.push(...words.pid(L, y), ...words.vapic(L, y), ...words.vcpu(L, y));
    t.push(...words.kvm(L, y, 'MODE', 'CPU', 'BLOCKING', 'TASK', 'POSTING', 'REQUESTS'));
  }
  for (let p = 0; p < L.nPcpu; p++) t.push(...words.lapic(L, p), ...words.pcpu(L, p, 'PI_FOR'));
  return { r: t, w: t };
}

/**
 * A sender whose targets are known (StepScope.posts): per target vCPU, its descriptor without the
 * PIR words of vectors nobody in this actor posts to it (the PIR is one bit per vector: SDM Vol.
 * 3C "Posted-Interrupt Descriptor"; the sender sets the bit of its vector, pi_test_and_set_pir),
 * its vIRR and posted set, the KVM fields of `sender`, and the LAPIC and PI_FOR of the pCPUs its
 * NDST or vcpu->cpu can name (the notification goes to NDST, VT-d 5.2.3; the kick to vcpu->cpu,
 * kvm_vcpu_kick).
 */
function senderTo(
  c: StepScope,
  posts: readonly { readonly vcpu: number; readonly vector: number }[],
  ndst: readonly (readonly number[])[],
): { r: number[]; w: number[] } {
  const { L } = c;
  const t = postTargets(c, posts, ndst);
  for (const y of new Set(posts.map((p) => p.vcpu))) {
    t.push(...words.vapic(L, y), ...words.vcpu(L, y));
    t.push(...words.kvm(L, y, 'MODE', 'CPU', 'BLOCKING', 'TASK', 'POSTING', 'REQUESTS'));
  }
  return { r: t, w: t };
}

/** PIR words of a descriptor: 256 bits, words 0-7 (PID.PIR is 0). */
const PID_PIR_WORDS = 8;

/**
 * What a post to known targets (StepScope.posts) touches of each: the PIR words of its vectors,
 * the control word and NDST, the guest's posted-set words of those vectors (VCPU.POSTED, the
 * no-lost-interrupt instrumentation), and the LAPIC and PI_FOR of the pCPUs its notification can
 * reach (NDST, or vcpu->cpu for KVM's IPI).
 */
function postTargets(
  c: StepScope,
  posts: readonly { readonly vcpu: number; readonly vector: number }[],
  ndst: readonly (readonly number[])[],
): number[] {
  const { L } = c;
  const t: number[] = [];
  const pcpus = new Set<number>();
  for (const y of new Set(posts.map((p) => p.vcpu))) {
    const chunks = new Set(posts.filter((p) => p.vcpu === y).map((p) => p.vector >>> 5));
    for (let k = 0; k < PID.SIZE; k++) if (k >= PID_PIR_WORDS || chunks.has(k)) t.push(L.pid[y] + k);
    for (const k of chunks) t.push(L.vcpu[y] + VCPU.POSTED + k);
    for (const p of ndst[y]) pcpus.add(p);
  }
  for (const p of pcpus) t.push(...words.lapic(L, p), ...words.pcpu(L, p, 'PI_FOR'));
  return t;
}

/**
 * VT-d posting to known targets (hardware.ts vtdPostTo; VT-d 5.2.3): one atomic update of the
 * descriptor (PIR bit, ON unless SN), the posted set, and the notification, NV to NDST. The
 * hardware touches no KVM state and no virtual-APIC page; with unknown targets, `sender`. The
 * step's label names its one target ("post 0x41 to vcpu0", scenarios/compile.ts), so the post
 * touches that target only, and a poster's later steps (its future, reduction.ts) only theirs.
 */
function vtdPoster(c: StepScope, label: string): { r: number[]; w: number[] } {
  if (c.posts === undefined || c.ndst === undefined) return sender(c);
  const named = /^post 0x([0-9a-f]+) to vcpu(\d+)$/.exec(label);
  const one = named && { vector: Number.parseInt(named[1], 16), vcpu: Number(named[2]) };
  const posts = one && c.posts.some((p) => p.vcpu === one.vcpu && p.vector === one.vector) ? [one] : c.posts;
  const t = postTargets(c, posts, c.ndst);
  return { r: t, w: t };
}

/**
 * vmx_deliver_posted_interrupt's three steps to known targets (deliver.ts), each what it touches
 * of each target: pi_test_and_set_pir the PIR words of its vectors, the posted set, apicv_active
 * and the posting count; pi_test_and_set_on the control word and the posting count; read_mode
 * the posting count, vcpu->mode and ->cpu, the blocking and task state kvm_vcpu_wake_up looks at,
 * and the LAPIC and PI_FOR of the pCPUs the IPI can reach. The fallback without APICv
 * (kvm_lapic_set_irr) is a step of its own (vmx_deliver_interrupt), footprinted by `sender`.
 */
function postedSender(c: StepScope, label: string): { r: number[]; w: number[] } {
  if (c.posts === undefined || c.ndst === undefined) return sender(c);
  const { L } = c;
  const t: number[] = [];
  for (const y of new Set(c.posts.map((p) => p.vcpu))) {
    const chunks = new Set(c.posts.filter((p) => p.vcpu === y).map((p) => p.vector >>> 5));
    if (label === 'pi_test_and_set_pir') {
      for (const k of chunks) t.push(L.pid[y] + PID.PIR + k, L.vcpu[y] + VCPU.POSTED + k);
      t.push(...words.kvm(L, y, 'APICV_ACTIVE', 'POSTING'));
    } else if (label === 'pi_test_and_set_on') {
      t.push(L.pid[y] + PID.CONTROL, ...words.kvm(L, y, 'POSTING'));
    } else {
      t.push(...words.kvm(L, y, 'POSTING', 'MODE', 'CPU', 'BLOCKING', 'TASK'));
      for (const p of c.ndst[y]) t.push(...words.lapic(L, p), ...words.pcpu(L, p, 'PI_FOR'));
    }
  }
  return { r: t, w: t };
}

/** The pCPUs' own words for the pCPUs the vCPU may be on. */
const myPcpus = (c: StepScope) => c.pcpus.flatMap((p) => words.pcpu(c.L, p));
const myHostIf = (c: StepScope) => c.pcpus.flatMap((p) => words.pcpu(c.L, p, 'HOST_IF'));
const myLapics = (c: StepScope) => c.pcpus.flatMap((p) => words.lapic(c.L, p));
const kvm = (c: StepScope, ...f: KvmField[]) => words.kvm(c.L, c.vcpu, ...f);

const RULES: readonly Rule[] = [
  // Control only: the actor's own block (pc, locals).
  { fn: 'actor', label: /^repeat$/, own: false, fp: () => ({}) },
  { fn: 'thread', label: /^done$/, own: false, fp: () => ({}) },
  {
    fn: 'vcpu_enter_guest',
    label: /^(srcu_read_lock|smp_mb__after_srcu_read_unlock)$/,
    own: false,
    fp: () => ({}),
  },
  // Scheduling and blocking: the thread's own task state (kvm-semantics.md section 4).
  {
    fn: 'context_switch',
    own: true,
    fp: (c) => ({ r: kvm(c, 'LOADED'), w: [...kvm(c, 'LOADED'), ...myHostIf(c)] }),
  },
  { fn: 'kvm_arch_vcpu_load', own: true, fp: (c) => ({ w: kvm(c, 'CPU') }) },
  {
    fn: 'kvm_sched_out',
    own: true,
    // With late device assignment, vmx_needs_pi_wakeup also reads the VM's assigned-device count.
    fp: (c) => ({
      r: [...kvm(c), ...words.vcpu(c.L, c.vcpu), ...words.assign(c.L)],
      w: [...kvm(c, 'PREEMPTED'), ...myHostIf(c)],
    }),
  },
  { fn: 'kvm_vcpu_block', own: true, fp: (c) => ({ w: kvm(c, 'BLOCKING', 'TASK') }) },
  { fn: 'schedule', label: /^check_task_state$/, own: true, fp: (c) => ({ r: kvm(c, 'TASK') }) },
  { fn: 'kvm_vcpu_check_block', own: true, fp: (c) => ({ r: ownVcpu(c) }) },
  // vcpu_enter_guest: IRQs off/on on the pCPU, the vcpu->mode stores (buffered under TSO: the
  // drain writes the same word), event injection without APICv.
  {
    fn: 'vcpu_enter_guest',
    label: /^local_irq_(disable|enable)$/,
    own: true,
    fp: (c) => ({ r: kvm(c, 'CPU', 'LOADED'), w: myHostIf(c) }),
  },
  { fn: 'vcpu_enter_guest', label: /^store_mode_/, own: true, fp: (c) => ({ w: kvm(c, 'MODE') }) },
  { fn: 'vcpu_enter_guest', own: true, fp: ownVcpuButLoaded },
  // Tests of the own descriptor that only branch: pi_test_on or pi_is_pir_empty as the gate of
  // vmx_sync_pir_to_irr (enter-guest.ts) read the descriptor and write nothing shared.
  {
    fn: 'vmx_sync_pir_to_irr',
    label: /^(pi_test_on|pi_is_pir_empty)$/,
    own: true,
    fp: (c) => ({ r: words.pid(c.L, c.vcpu) }),
  },
  // vmx_set_rvi: RVI from the highest vIRR bit, in the own virtual-APIC page (enter-guest.ts).
  {
    fn: 'vmx_set_rvi',
    own: true,
    fp: (c) => ({ r: words.vapic(c.L, c.vcpu), w: words.vapic(c.L, c.vcpu) }),
  },
  // pi_clear_on: a locked clear of ON in the own descriptor (pid.ts piClearOn).
  {
    fn: 'vmx_sync_pir_to_irr',
    label: /^pi_clear_on$/,
    own: true,
    fp: (c) => ({ w: control(c), onSn: control(c) }),
  },
  // PIR to vIRR and RVI before entry, on the vCPU's own descriptor and page.
  { fn: 'vmx_sync_pir_to_irr', own: true, fp: ownVcpuButLoaded },
  // A plain load of a PIR chunk in the harvest (harvest.ts, READ_ONCE in pi_harvest_pir and
  // __kvm_apic_update_irr) reads the own descriptor's PIR and notes the result in the thread's
  // locals only: it writes no shared word, so it commutes with every step that does not write
  // that chunk (issue 12's "a read of a PIR word that no other actor writes is independent").
  {
    fn: 'pi_harvest_pir',
    label: /^READ_ONCE\(pir\[\d\]\)$/,
    own: true,
    fp: (c, label) => ({ r: pirChunk(c, label, 2) }),
  },
  {
    fn: '__kvm_apic_update_irr',
    label: /^READ_ONCE\(pir\[\d\]\)$/,
    own: true,
    fp: (c, label) => ({ r: pirChunk(c, label, 1) }),
  },
  // An exchange of a PIR chunk in vmx_sync_pir_to_irr's harvest (harvest.ts): pirExchange.
  { fn: 'pi_harvest_pir', label: /^arch_xchg\(pir\[\d\]\)$/, own: true, fp: pirExchange(2) },
  { fn: '__kvm_apic_update_irr', label: /^xchg\(pir\[\d\]\)$/, own: true, fp: pirExchange(1) },
  // The word-by-word harvest (harvest.ts, seed 000): loads and exchanges of the own PIR, merged
  // into the own vIRR.
  { fn: 'pi_harvest_pir', own: true, fp: ownVcpuButLoaded },
  { fn: '__kvm_apic_update_irr', own: true, fp: ownVcpuButLoaded },
  { fn: 'kvm_apic_update_irr', own: true, fp: ownVcpuButLoaded },
  // Load, put and the wake-up handler set-up: the own descriptor and KVM state, the VMCS and LAPIC
  // of the pCPUs it may be on (the self-IPI), and whether another vCPU holds the pCPU.
  // In vmx_vcpu_pi_load (load-put.ts), read_control copies the descriptor's control and NDST into
  // the thread's locals and pi_is_pir_empty notes whether the PIR is empty there; the branch
  // after it reads vcpu->cpu.
  {
    fn: 'vmx_vcpu_pi_load',
    label: /^(read_control|pi_is_pir_empty)$/,
    own: true,
    fp: (c) => ({ r: [...words.pid(c.L, c.vcpu), ...kvm(c, 'CPU')] }),
  },
  // SN cleared, or ON set after it (c112b5f50232), in the own descriptor; the branch after each
  // reads vcpu->cpu (posted-intr.ts emitPiLoad).
  {
    fn: 'vmx_vcpu_pi_load',
    label: /^(pi_test_and_clear_sn|pi_set_on)$/,
    own: true,
    fp: (c) => ({ r: kvm(c, 'CPU'), w: control(c), onSn: control(c) }),
  },
  {
    fn: 'vmx_vcpu_pi_load',
    own: true,
    fp: (c) => ({
      r: all(c.L.nVcpu).flatMap((y) => words.kvm(c.L, y, 'LOADED')),
      w: [...ownVcpu(c), ...myPcpus(c), ...myLapics(c)],
    }),
  },
  {
    fn: 'pi_enable_wakeup_handler',
    own: true,
    fp: (c) => ({ w: [...ownVcpu(c), ...myPcpus(c), ...myLapics(c)] }),
  },
  { fn: 'vmx_vcpu_pi_put', own: true, fp: ownVcpuButLoaded },
  // VM entry and the exits the program asks for: the own vCPU and the pCPU's mode and VMCS.
  // The VM-entry monitors also read the VM-wide APICv state (apicv-activation, seed 002).
  // VM entry starts the vCPU in guest mode on the pCPU vcpu->cpu names, or cancels the entry.
  // Onto a pCPU where no other vCPU runs in guest mode (the reducer checks it: its context's
  // `taken`), it makes no violated invariant true: a stuck PIR's other clauses, and every other
  // invariant, read no word it writes (decision 0258).
  {
    fn: 'vmx_vcpu_run',
    label: /^vmentry$/,
    own: true,
    fp: vmxVcpuRun,
    neverRepairs: true,
  },
  { fn: 'vmx_vcpu_run', own: true, fp: vmxVcpuRun },
  // Senders.
  {
    fn: 'vmx_deliver_posted_interrupt',
    label: /^pi_test_and_set_(pir|on)$/,
    own: false,
    fp: postedSender,
  },
  { fn: 'kvm_vcpu_trigger_posted_interrupt', label: /^read_mode$/, own: false, fp: postedSender },
  { fn: 'vmx_deliver_posted_interrupt', own: false, fp: sender },
  { fn: 'kvm_vcpu_trigger_posted_interrupt', own: false, fp: sender },
  { fn: 'kvm_vcpu_kick', own: false, fp: sender },
  { fn: 'vmx_deliver_interrupt', own: false, fp: sender },
  { fn: 'VT-d', label: /^post /, own: false, fp: vtdPoster },
];

/**
 * The footprint of a step run by the actor of `c`, or null (touches everything) for a step no
 * rule names, or on an AVIC, `apicRegisters` or `guestIoapic` machine. Every footprint includes the actor's own block: its pc, locals and store buffer.
 */
export function stepFootprint(fn: string, label: string, c: StepScope): Footprint | null {
  // On an AMD AVIC machine the same kernel functions also touch the backing pages, the physical
  // APIC ID table and the GA-mode IRTEs (avic.ts): none of those steps is annotated.
  if (c.L.avic !== undefined) return null;
  // With the guests' own APIC registers (machine.apicRegisters) KVM's paths also read those
  // registers and the VM-wide APICv state, which they test when they run (the APICv inhibit at run
  // time, decision 0235): not annotated either.
  if (c.L.guestApic !== undefined) return null;
  // KVM's emulated I/O APIC (machine.guestIoapic): an EOI, a VM entry or a delivery there reads
  // and writes the redirection table, the EOI-exit bitmaps and the TMRs (guest-ioapic.ts): not
  // annotated.
  if (c.L.extra.has('guestIoapic')) return null;
  const rule = RULES.find((r) => r.fn === fn && (r.label === undefined || r.label.test(label)));
  if (rule === undefined || (rule.own && c.vcpu < 0)) return null;
  const { r = [], w = [], onSn } = rule.fp(c, label);
  const self = words.actor(c.actor);
  return {
    reads: [...self, ...r],
    writes: [...self, ...w],
    ...(onSn === undefined ? {} : { onSnOnly: onSn }),
    ...(rule.neverRepairs === true ? { neverRepairs: true } : {}),
  };
}
