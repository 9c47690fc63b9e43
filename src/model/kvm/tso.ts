/**
 * x86-TSO for the model's threads (SDM Vol. 3A 9.2.2 "Memory Ordering in P6 and More Recent
 * Processor Families"; Sewell, Sarkar, Owens, Zappa Nardelli, Myreen, "x86-TSO", CACM 2010): each
 * CPU's plain stores go through a FIFO store buffer and become visible to other CPUs later; the
 * CPU's own loads see its buffered stores; a locked instruction, MFENCE and serializing events
 * (VM entry) drain the buffer first. The one relaxation this allows is a load passing an earlier
 * store to another location: the store-buffering ("Dekker") pattern that vcpu_enter_guest and
 * vmx_deliver_posted_interrupt rely on a full barrier to forbid (kvm-semantics.md section 1).
 *
 * What the model buffers: the plain stores whose reordering the posted-interrupt protocol depends
 * on, today the vCPU thread's store of IN_GUEST_MODE to vcpu->mode (checklist X1). Every other
 * store of a thread is a locked operation, or state only that thread reads (the VMCS, its task
 * state), or a store the kernel orders with a barrier of its own; those are applied at once. The
 * buffer has one entry: a thread with a buffered store runs only steps marked `passesStores`
 * (loads of other locations, thread-private writes) until the system's drain action for it has
 * made the store visible. One entry suffices for one buffered store site per path; a second site
 * would need a deeper buffer to allow a store to stay buffered behind another.
 */
import type { World } from '../system/world.ts';
import { ACTOR } from './program.ts';

/** A plain store by the thread whose actor block is at `a`: buffered under TSO, else immediate. */
export function plainStore(w: World, a: number, tso: boolean, index: number, value: number): void {
  if (!tso) {
    w.m[index] = value;
    return;
  }
  w.m[a + ACTOR.SB_ADDR] = index + 1;
  w.m[a + ACTOR.SB_VAL] = value;
}

export function storeBufferEmpty(s: Uint32Array, a: number): boolean {
  return s[a + ACTOR.SB_ADDR] === 0;
}

/** The oldest buffered store becomes visible to every CPU. */
export function drainStoreBuffer(s: Uint32Array, a: number): void {
  const at = s[a + ACTOR.SB_ADDR];
  if (at === 0) return;
  s[at - 1] = s[a + ACTOR.SB_VAL];
  s[a + ACTOR.SB_ADDR] = 0;
  s[a + ACTOR.SB_VAL] = 0;
}
