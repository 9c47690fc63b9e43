/**
 * KVM code paths as programs of labelled atomic steps, in the manner of PlusCal: each actor (a
 * vCPU thread, a device, a sender) runs a program counter over a list of instructions, with a few
 * explicit local registers, all stored in the World so the checker sees them as state. One
 * instruction is one indivisible effect: a locked read-modify-write, one plain load or store, one
 * CAS attempt (ARCHITECTURE.md principle 2).
 *
 * Instructions are built once per scenario and variant; executing one allocates nothing.
 */
import { storeBufferWords } from '../hw/store-buffer.ts';
import type { Sink } from '../platform/events.ts';
import type { Features } from '../platform/machine.ts';
import type { World } from '../platform/world.ts';
import type { LockTable } from './locks.ts';

/**
 * Entries in a thread's store buffer. Two suffice for the model's buffered stores: the most a path
 * issues between two draining steps is vcpu->cpu at the end of a sched-in and IN_GUEST_MODE before
 * the barrier of vcpu_enter_guest (tso.ts). A thread whose buffer is full waits for a drain.
 */
export const SB_DEPTH = 2;

/** Per-actor words in the World: program counter and local registers. */
export const ACTOR = {
  PC: 0,
  L0: 1,
  L1: 2,
  L2: 3,
  L3: 4,
  /**
   * Where a vCPU thread resumes after handling a VM exit it did not ask for (an external
   * interrupt, an EOI-induced exit during a guest step): the pc it was at, saved by the system.
   */
  RET: 5,
  /**
   * The thread's store buffer under x86-TSO (`memory: tso`): a FIFO of SB_DEPTH plain stores not
   * yet visible to other CPUs, in the layout of src/model/hw/store-buffer.ts. See tso.ts.
   */
  SB: 6,
  SIZE: 6 + storeBufferWords(SB_DEPTH),
} as const;

/** Sequential consistency, or x86-TSO (store buffers; SDM Vol. 3A 9.2, Sewell et al. 2010). */
export type MemoryModel = 'sc' | 'tso';
export const MEMORY_MODELS: readonly MemoryModel[] = ['sc', 'tso'];

/** An instruction's exec returns the next pc, or NEXT to fall through. */
export const NEXT = -1;

/** A jump target meaning "the pc saved in ACTOR.RET" (the end of the asynchronous-exit handler). */
export const RESUME: { readonly pc: number } = { pc: -3 };

export interface Instr {
  /** The kernel function this step belongs to, e.g. "vmx_vcpu_pi_load". */
  fn: string;
  /** The step inside it, e.g. "test_and_clear_sn". */
  label: string;
  /**
   * The pCPU this step runs on when it is known from the program (a sched-in runs on its target);
   * otherwise the system uses the pCPU the vCPU is loaded on.
   */
  cpu?: number;
  /** Whether the step can run now (false while waiting: a lock, a wake-up). Default: always. */
  enabled?: (w: World, a: number) => boolean;
  /**
   * Why the step cannot run in this state, for a driver of one schedule that finds it stuck
   * (`irqlab run`: "vcpu1 is not running in guest mode"). Only steps whose `enabled` is a
   * precondition of the scenario rather than a wait have one.
   */
  why?: (w: World, a: number) => string;
  /**
   * Who performs the step when it is not the program's own thread, for traces: a scenario script
   * step is done by a guest ("vcpu0"), the IOMMU, the host or a CPU, not by the script.
   */
  actor?: string;
  /** The vCPU the step acts as or on when it is not the program's (a script step's vCPU). */
  vcpu?: number;
  /** Full memory barriers the step implies (a locked RMW, smp_mb); for path-cost reports. */
  barriers?: number;
  /**
   * The step is a VM exit of the actor's own vCPU that the following steps handle (a kvm.exit, a
   * guest HLT, the ICR-write exit). Any other exit of that vCPU sends its thread to the exit
   * handler the system appends to its program.
   */
  exits?: boolean;
  /**
   * Under x86-TSO: the step may run while the thread's store buffer holds a store (a plain load of
   * another location, or a write to state only this thread reads). Every other step waits until
   * the buffer has drained: a locked RMW, a fence, a serializing VM entry, or a further store
   * (the one-entry buffer keeps stores in program order).
   */
  passesStores?: boolean;
  exec: (w: World, a: number, sink: Sink) => number;
  /** The step takes a lock (locks.ts): the lock's index. The deadlock property looks at it. */
  acquires?: number;
  /** The step marks the end of the actor's own steps (a vCPU thread's "done"): the actor is done. */
  final?: boolean;
}

/** The machine features a builder assumes when it is given none: Intel APICv with VT-d posting. */
const INTEL_APICV: Features = { apicv: true, vtdPosting: true, ipiv: false, avic: false };

/**
 * Builds a program with forward jumps: `target(name)` returns a getter of the pc that
 * `mark(name)` later fixes.
 */
export class ProgramBuilder {
  readonly code: Instr[] = [];
  private readonly marks = new Map<string, number>();
  /**
   * Whether the vCPUs' APIC virtualization is active (the machine's `apicv` feature, or AMD AVIC):
   * when it is not, senders fall back to vIRR, KVM_REQ_EVENT and a kick, and vcpu_enter_guest
   * injects (deliver.ts).
   */
  readonly apicv: boolean;
  /**
   * AMD AVIC (`features.avic`): KVM's SVM paths (avic.ts) instead of the VMX ones; vcpu_enter_guest
   * serves KVM_REQ_APICV_UPDATE and has no PIR to sync (apicv.ts).
   */
  readonly avic: boolean;
  /** The machine's features: which hardware posts (VT-d, IPIv) and whether it is AMD AVIC. */
  readonly features: Features;
  /** The memory model: 'tso' sends the plain stores that tso.ts names through a store buffer. */
  readonly memory: MemoryModel;
  /**
   * The VM starts without an assigned device and a scenario step assigns one
   * (kvm_arch_start_assignment, assignment.ts): vmx_needs_pi_wakeup then reads the VM's count at
   * each put, and kvm_vcpu_check_block tests KVM_REQ_UNBLOCK.
   */
  dynamicAssignment = false;
  /** The model's locks, shared by every actor's builder (locks.ts); set by the scenario builder. */
  locks: LockTable | undefined = undefined;
  /**
   * The scenario routes AVIC IRTEs itself (avic-irte.ts): avic_vcpu_load/put and the block hooks
   * take ir_list_lock, and the sched-out holds the runqueue lock.
   */
  avicIrList = false;
  /**
   * The scenario creates a vCPU (avic-vmcb.ts): the VMCB's AVIC enable is tracked, and serving
   * KVM_REQ_APICV_UPDATE refreshes it only when apicv_active changes.
   */
  avicVmcb = false;
  /**
   * Intel APICv can be inhibited and reactivated at run time (machine.apicRegisters: a guest's
   * xAPIC ID write, kvm/apicv-inhibit.ts): KVM's delivery and entry paths test apicv_active when
   * they run instead of only the machine's features.
   */
  apicvInhibitable = false;
  /**
   * The program is a script's (APICv-inhibitable machines): a vCPU it kicks has no thread of its
   * own to run vcpu_enter_guest, so the kick's exit and re-entry are folded into the kick.
   */
  kickReentersAtOnce = false;
  /** The index of the actor whose program this is (-1: not known); lock holders are recorded by it. */
  actor = -1;
  /**
   * The machine's pCPUs, when the scenario moves vCPU threads between run queues (sched.migrate,
   * sched.ts): every sched-in of a vCPU in `migrated` then goes to its thread's run queue. 0: none.
   */
  rqPcpus = 0;
  migrated: readonly number[] = [];

  constructor(features: Features = INTEL_APICV, memory: MemoryModel = 'sc') {
    this.features = features;
    this.apicv = features.apicv || features.avic;
    this.avic = features.avic;
    this.memory = memory;
  }

  step(fn: string, label: string, exec: Instr['exec'], enabled?: Instr['enabled'], cpu?: number): this {
    this.code.push({ fn, label, exec, enabled, cpu });
    return this;
  }

  /** Marks the last step as one that can run past a buffered store (x86-TSO). */
  passesStores(): this {
    this.code[this.code.length - 1].passesStores = true;
    return this;
  }

  /** Marks the last step as a VM exit that the program handles itself. */
  exits(): this {
    this.code[this.code.length - 1].exits = true;
    return this;
  }

  /** Marks the last step as implying `n` full barriers. */
  barriers(n: number): this {
    this.code[this.code.length - 1].barriers = n;
    return this;
  }

  mark(name: string): this {
    if (this.marks.has(name)) throw new Error(`program mark ${name} defined twice`);
    this.marks.set(name, this.code.length);
    return this;
  }

  /** A lazily resolved jump target (resolved by `build`). */
  target(name: string): { pc: number } {
    const t = { pc: -2 };
    this.pending.push([name, t]);
    return t;
  }

  private readonly pending: [string, { pc: number }][] = [];

  /** A fresh mark name, for helpers that add several copies of the same code. */
  private n = 0;
  fresh(prefix: string): string {
    return `${prefix}#${this.n++}`;
  }

  build(): Instr[] {
    for (const [name, t] of this.pending) {
      const pc = this.marks.get(name);
      if (pc === undefined) throw new Error(`program jump to undefined mark ${name}`);
      t.pc = pc;
    }
    return this.code;
  }
}
