/**
 * x86-TSO for the model's threads (SDM Vol. 3A 9.2.2 "Memory Ordering in P6 and More Recent
 * Processor Families"; Sewell, Sarkar, Owens, Zappa Nardelli, Myreen, "x86-TSO", CACM 2010): each
 * CPU's plain stores go through a FIFO store buffer (src/model/hw/store-buffer.ts) and become
 * visible to other CPUs later, oldest first, each drain a step of its own; the CPU's own loads see
 * its buffered stores; a locked instruction, MFENCE and serializing events (VM entry, a context
 * switch's locked run-queue operations) drain the buffer first. The relaxation this allows is a
 * load passing an earlier store to another location: the store-buffering ("Dekker") pattern that
 * vcpu_enter_guest and vmx_deliver_posted_interrupt rely on a full barrier to forbid
 * (kvm-semantics.md section 1). Hardware agents (the IOMMU posting, the APIC) are not CPUs running
 * code: they update memory atomically.
 *
 * The buffer is per thread (an actor), not per pCPU: a thread leaves a pCPU only through a context
 * switch, whose locked operations drain the buffer, so the two are the same.
 *
 * Which stores are buffered: the plain stores of shared words that other CPUs read in the modelled
 * protocol: vcpu->mode (IN_GUEST_MODE in vcpu_enter_guest, OUTSIDE_GUEST_MODE after an exit or a
 * cancelled entry; senders and kicks read it) and vcpu->cpu (kvm_arch_vcpu_load; senders read it
 * to address the notification). The thread's own loads of them forward from its buffer (ownLoad).
 * Every other store of a thread is a locked operation (PIR, the descriptor's control word,
 * requests), or a word no other CPU reads (the VMCS, vcpu->preempted, the model's instrumentation),
 * whose visibility order nobody can observe, or is followed at once by a draining step
 * (prepare_to_rcuwait's task pointer, then set_current_state's barrier); those are applied at once.
 *
 * Which steps wait: a step runs while its thread's buffer holds stores only if it is marked
 * `passesStores` (plain loads, buffered stores, thread-private writes, IRQ enable and disable) and
 * the buffer has room; every other step (locked RMW, fence, VM entry, a context switch) waits until
 * the system's drain actions have emptied it. Unmarked is the safe default: a step not known to be
 * plain acts as a fence.
 */
import { sbDrainOldest, sbEmpty, sbLoad, sbPush } from '../hw/store-buffer.ts';
import type { World } from '../platform/world.ts';
import { ACTOR, SB_DEPTH } from './program.ts';

/** A plain store by the thread whose actor block is at `a`: buffered under TSO, else immediate. */
export function plainStore(w: World, a: number, tso: boolean, index: number, value: number): void {
  if (!tso) {
    w.m[index] = value;
    return;
  }
  // The system runs no step of a thread whose buffer is full (storeBufferFull), so this succeeds.
  if (!sbPush(w.m, a + ACTOR.SB, SB_DEPTH, index, value)) throw new Error('store buffer overflow');
}

/** A plain load by the thread at `a` of a word it may have stored: its newest buffered store first. */
export function ownLoad(w: World, a: number, tso: boolean, index: number): number {
  return tso ? sbLoad(w.m, a + ACTOR.SB, index) : w.m[index];
}

export function storeBufferEmpty(s: Uint32Array, a: number): boolean {
  return sbEmpty(s, a + ACTOR.SB);
}

export function storeBufferFull(s: Uint32Array, a: number): boolean {
  return s[a + ACTOR.SB] >= SB_DEPTH;
}

/** The oldest buffered store becomes visible to every CPU. */
export function drainStoreBuffer(s: Uint32Array, a: number): void {
  sbDrainOldest(s, a + ACTOR.SB);
}
