/**
 * AMD AVIC: routing a device's IRQ to a vCPU (kvm_pi_update_irte -> avic_pi_update_irte,
 * arch/x86/kvm/svm/avic.c), the locks around it, and the lock-order cycle the 6.17 fix brought
 * (cases 2 and 3 of issue 14).
 *
 * avic_pi_update_irte puts the IRTE in guest (GA) mode through irq_set_vcpu_affinity (which takes
 * the IRQ descriptor's lock; amd_ir_set_vcpu_affinity programs the IRTE), programs the target pCPU
 * and IsRun from the vCPU's physical-ID entry (svm->avic_physical_id_entry), and adds the IRTE to
 * the vCPU's ir_list, which avic_vcpu_load and avic_vcpu_put walk under svm->ir_list_lock to keep
 * every posting IRTE's IsRun and Destination in step with the vCPU (since 4c08e737f056, 2023, they
 * write the physical-ID entry under that lock too).
 *
 * c3d591c91f9c "KVM: SVM: Take and hold ir_list_lock across IRTE updates in IOMMU" (Sean
 * Christopherson, 6.17) holds ir_list_lock from before irq_set_vcpu_affinity until the IRTE is on
 * the list, so that the vCPU cannot be scheduled out or migrated between the read of its pCPU and
 * IsRunning and the list add: otherwise the put or load that runs in that window does not see the
 * IRTE, and the IRTE keeps a pCPU and IsRun the vCPU no longer has (the fix's own comment). The
 * `before` preset (`irteUpdateLock: list-add-only`) is that window: the entry is read and the IRTE
 * programmed outside ir_list_lock, which is taken only for the list add. (The 6.16 code programmed
 * guest mode with IsRun clear outside the lock and set the pCPU under it; the pCPU has been set
 * together with guest mode since f965255dc503, which relies on c3d591c91f9c.)
 *
 * The fix made avic_pi_update_irte take the descriptor's lock while holding ir_list_lock. Lockdep
 * then reported, on 6.19-rc2 (Ankit Soni, Dec 2025; Paolo Bonzini's analysis in the thread
 * "possible deadlock due to irq_set_thread_affinity() calling into the scheduler"), the chain
 * irq_desc_lock -> rq->__lock -> ir_list_lock: irq_set_affinity holds the descriptor's lock while
 * irq_set_thread_affinity wakes the IRQ thread (try_to_wake_up takes a runqueue lock); the
 * scheduler calls kvm_sched_out with the runqueue lock held, and avic_vcpu_put takes ir_list_lock;
 * avic_pi_update_irte holds ir_list_lock and takes the descriptor's lock.
 *
 * Locks are modelled only as far as this needs (locks.ts): one runqueue lock (the scenarios have
 * one pCPU of interest), one descriptor lock per routed IRTE, one ir_list_lock per vCPU. Only the
 * sched-out path holds the runqueue lock (prepare_task_switch -> kvm_sched_out); the sched-in
 * notifier runs after it is released (finish_task_switch).
 */
import {
  avicPhysHostApicId,
  avicPhysIsRunning,
  GA_IRTE,
  GA_IRTE_BITS,
  gaIrteDestination,
  gaIrteRootPtr,
  gaIrteSetGaLogIntr,
  gaIrteSetRun,
} from '../hw/avic.ts';
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import { avicIrteOffset, PCPU } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { avicIsRunning, avicStopRunning, IR_LIST_BLOCK, IR_LIST_ROUTED, IR_LIST_VCPU } from './ir-list.ts';
import { emitLock, emitUnlock } from './locks.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { emitFinishTaskSwitch } from './sched.ts';
import { KVM_VCPU, kvmVcpu } from './state.ts';
import type { Variant } from './variants.ts';

/** The runqueue lock of the pCPU the vCPU runs on (struct rq, __lock). */
export const RQ_LOCK = 'rq->__lock';

export function irListLock(x: number): string {
  return `ir_list_lock(vcpu${x})`;
}

/** The lock of the IRQ descriptor of the host IRQ behind IRTE i (irq_desc->lock). */
export function irqDescLock(i: number): string {
  return `irq_desc_lock(irte${i})`;
}

/**
 * The ir_list block (ir-list.ts) for a machine with `irtes` IRTEs, of which those in `routed` are
 * routed by a scenario step: those start in remapped mode (GuestMode clear) and on no list; the
 * others start on their vCPU's list, in GA mode as the World sets them up.
 */
export function irListExtra(
  irtes: number,
  routed: readonly number[],
): ExtraBlock & {
  init: (w: World, base: number) => void;
} {
  const fields: FieldDesc[] = Array.from({ length: irtes }, (_, i) => [
    { name: `irte${i}.onIrListOf`, offset: i, kind: 'index1', mask: IR_LIST_VCPU, shift: 0 } as FieldDesc,
    { name: `irte${i}.routed`, offset: i, kind: 'bool', mask: 1, shift: 8 } as FieldDesc,
  ]).flat();
  return {
    name: IR_LIST_BLOCK,
    prefix: 'kvm',
    size: Math.max(1, irtes),
    fields,
    init: (w, base) => {
      for (let i = 0; i < irtes; i++) {
        if (!routed.includes(i)) {
          w.m[base + i] = w.machine.irtes[i].vcpu + 1;
          continue;
        }
        const o = avicIrteOffset(w.L.avic!, i);
        w.m[o + GA_IRTE.W0] &= ~(GA_IRTE_BITS.GUEST_MODE | GA_IRTE_BITS.IS_RUN | GA_IRTE_BITS.GA_LOG_INTR);
      }
    },
  };
}

/** The IRTE in remapped mode (amd_iommu_deactivate_guest_mode): the IOMMU no longer posts through it. */
function irteRemapped(m: Uint32Array, o: number): void {
  m[o + GA_IRTE.W0] &= ~(GA_IRTE_BITS.GUEST_MODE | GA_IRTE_BITS.IS_RUN | GA_IRTE_BITS.GA_LOG_INTR);
}

/**
 * The IRTE in guest mode (amd_iommu_activate_guest_mode with the pCPU info): IsRun and Destination
 * from the vCPU's physical-ID entry; GALogIntr while it is not running (set by the 6.17 IOMMU
 * driver whenever IsRun is clear; case 5's GA_LOG_INTR refinement is not modelled here).
 */
function irteGuestMode(m: Uint32Array, o: number, running: boolean, host: number): void {
  m[o + GA_IRTE.W0] |= GA_IRTE_BITS.GUEST_MODE;
  gaIrteSetRun(m, o, running, running ? host : gaIrteDestination(m, o));
  gaIrteSetGaLogIntr(m, o, !running);
}

function irList(w: World): number {
  return w.L.extra.get(IR_LIST_BLOCK)!;
}

/**
 * avic_pi_update_irte for IRTE i, routed to its vCPU x (machine.irtes[i].vcpu), from a host thread
 * (the irqfd routing update). With `across-irte-update` (c3d591c91f9c): ir_list_lock; read the
 * physical-ID entry; irq_set_vcpu_affinity (the descriptor's lock; the IRTE in GA mode with IsRun
 * and Destination from the entry, and GALogIntr when the vCPU is not running, as
 * amd_iommu_activate_guest_mode sets it); list_add; unlock. With `list-add-only`: the same without
 * ir_list_lock until the list add.
 */
export function emitAvicPiUpdateIrte(b: ProgramBuilder, v: Variant, i: number, x: number): void {
  const fn = 'avic_pi_update_irte';
  const across = v.irteUpdateLock === 'across-irte-update';
  if (across) emitLock(b, fn, irListLock(x));
  b.step(fn, 'read avic_physical_id_entry', (w, a) => {
    const t = w.L.avic!.table;
    const id = w.machine.vcpus[x].apicId;
    w.m[a + ACTOR.L0] = avicPhysIsRunning(w.m, t, id) ? 1 : 0;
    w.m[a + ACTOR.L1] = avicPhysHostApicId(w.m, t, id);
    // kvm_vcpu_apicv_active: with AVIC inhibited the IRTE stays in remapped mode (case 4).
    w.m[a + ACTOR.L2] = w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE];
    return NEXT;
  });
  emitLock(b, 'irq_set_vcpu_affinity', irqDescLock(i));
  b.step('amd_ir_set_vcpu_affinity', `program irte${i}`, (w, a) => {
    const o = avicIrteOffset(w.L.avic!, i);
    if (w.m[a + ACTOR.L2] === 0) irteRemapped(w.m, o);
    else irteGuestMode(w.m, o, w.m[a + ACTOR.L0] === 1, w.m[a + ACTOR.L1]);
    w.m[a + ACTOR.L0] = 0;
    w.m[a + ACTOR.L1] = 0;
    return NEXT;
  });
  emitUnlock(b, 'irq_set_vcpu_affinity', irqDescLock(i));
  if (!across) emitLock(b, fn, irListLock(x));
  // Before 6df262f915ab an IRQ routed while AVIC is inhibited is not tracked on the list.
  const track = v.irteWhileInhibited === 'track-on-list';
  b.step(fn, 'list_add(ir_list)', (w, a) => {
    const active = w.m[a + ACTOR.L2] !== 0;
    w.m[irList(w) + i] = (active || track ? x + 1 : 0) | IR_LIST_ROUTED;
    w.m[a + ACTOR.L2] = 0;
    return NEXT;
  });
  emitUnlock(b, fn, irListLock(x));
}

/**
 * The host changes the affinity of the host IRQ behind IRTE i (irq_set_affinity, e.g. from
 * /proc/irq/N/smp_affinity or irqbalance): under the descriptor's lock, irq_set_thread_affinity
 * wakes the IRQ's thread (wake_up_process -> try_to_wake_up, which takes the runqueue lock). The
 * IRTE itself is not changed here (a GA-mode IRTE posts to the vCPU whatever the host affinity).
 */
export function emitIrqSetAffinity(b: ProgramBuilder, i: number): void {
  emitLock(b, 'irq_set_affinity', irqDescLock(i));
  emitLock(b, 'try_to_wake_up', RQ_LOCK);
  emitUnlock(b, 'try_to_wake_up', RQ_LOCK);
  emitUnlock(b, 'irq_set_affinity', irqDescLock(i));
}

/**
 * Sched-out of vCPU x with the locks of case 3: the scheduler holds the runqueue lock across
 * kvm_sched_out (prepare_task_switch); avic_vcpu_put returns at once when IsRunning is clear
 * (avic_vcpu_blocking cleared it), and otherwise takes ir_list_lock around __avic_vcpu_put.
 * Then the context switch releases the runqueue lock and the pCPU. Same effects as emitAvicPut.
 */
export function emitAvicPutLocked(b: ProgramBuilder, v: Variant, x: number, preempted: boolean): void {
  const gaLog = v.avicBlockingGaLogIntr === 'present';
  const everyPut = v.avicGaLogIntr === 'every-put';
  const skip = b.fresh('put_not_running');
  const tSkip = b.target(skip);
  emitLock(b, 'prepare_task_switch', RQ_LOCK);
  b.step('kvm_sched_out', preempted ? 'preempted' : 'put', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.PREEMPTED] = preempted ? 1 : 0;
    w.m[w.L.pcpu[w.m[k + KVM_VCPU.LOADED] - 1] + PCPU.HOST_IF] = 0;
    return avicIsRunning(w, x) ? NEXT : tSkip.pc;
  });
  emitLock(b, 'avic_vcpu_put', irListLock(x));
  b.step('avic_vcpu_put', '__avic_vcpu_put', (w) => {
    avicStopRunning(w, x, everyPut || (gaLog && w.m[kvmVcpu(w, x) + KVM_VCPU.BLOCKING] === 1));
    return NEXT;
  });
  emitUnlock(b, 'avic_vcpu_put', irListLock(x));
  b.mark(skip);
  emitUnlock(b, 'finish_task_switch', RQ_LOCK);
  emitFinishTaskSwitch(b, x);
}

/**
 * Property irte-affinity (cases 2 and 3), at an end state: every GA-mode IRTE that posts to a vCPU
 * agrees with that vCPU's physical-ID entry: IsRun equals IsRunning and, while running, the
 * Destination is the entry's host APIC ID (the pCPU avic_vcpu_load put there). Otherwise a device
 * interrupt rings a pCPU that does not run the vCPU and logs nothing, or logs for a running vCPU.
 */
export function irteAffinityHolds(w: World): boolean {
  const a = w.L.avic;
  if (a === undefined) return true;
  const m = w.m;
  for (let i = 0; i < w.machine.irtes.length; i++) {
    const o = avicIrteOffset(a, i);
    const w0 = m[o + GA_IRTE.W0];
    if ((w0 & GA_IRTE_BITS.REMAP_EN) === 0 || (w0 & GA_IRTE_BITS.GUEST_MODE) === 0) continue;
    const x = gaIrteRootPtr(m, o);
    if (x >= w.machine.vcpus.length) continue;
    const id = w.machine.vcpus[x].apicId;
    const running = avicPhysIsRunning(m, a.table, id);
    if (((w0 & GA_IRTE_BITS.IS_RUN) !== 0) !== running) return false;
    if (running && gaIrteDestination(m, o) !== avicPhysHostApicId(m, a.table, id)) return false;
  }
  return true;
}

/**
 * avic_set_pi_irte_mode (from __kvm_vcpu_update_apicv -> avic_refresh_apicv_exec_ctrl), after
 * vCPU x's apicv_active changed: under ir_list_lock, every IRTE on x's list goes to guest mode
 * (with the pCPU info of the physical-ID entry) when AVIC is now active, or to remapped mode when
 * it is inhibited. An IRTE routed while AVIC was inhibited is switched only if it is on the list
 * (case 4, 6df262f915ab).
 */
export function emitAvicSetPiIrteMode(b: ProgramBuilder, x: number): void {
  const fn = 'avic_set_pi_irte_mode';
  emitLock(b, fn, irListLock(x));
  b.step(fn, 'walk ir_list', (w) => {
    const a = w.L.avic!;
    const id = w.machine.vcpus[x].apicId;
    const active = w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] !== 0;
    const running = avicPhysIsRunning(w.m, a.table, id);
    const host = avicPhysHostApicId(w.m, a.table, id);
    for (let i = 0; i < w.machine.irtes.length; i++) {
      if ((w.m[irList(w) + i] & IR_LIST_VCPU) !== x + 1) continue;
      const o = avicIrteOffset(a, i);
      if (active) irteGuestMode(w.m, o, running, host);
      else irteRemapped(w.m, o);
    }
    return NEXT;
  });
  emitUnlock(b, fn, irListLock(x));
}

/**
 * Property irte-guest-mode (case 4), at an end state: an IRTE KVM routed as postable to vCPU x is
 * in guest mode whenever x's AVIC is active (otherwise its interrupts keep going through the host
 * and KVM's software injection although they could be posted).
 */
export function irteGuestModeHolds(w: World): boolean {
  const a = w.L.avic;
  const l = w.L.extra.get(IR_LIST_BLOCK);
  if (a === undefined || l === undefined) return true;
  for (let i = 0; i < w.machine.irtes.length; i++) {
    if ((w.m[l + i] & IR_LIST_ROUTED) === 0) continue;
    const x = w.machine.irtes[i].vcpu;
    if (w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] === 0) continue;
    if ((w.m[avicIrteOffset(a, i) + GA_IRTE.W0] & GA_IRTE_BITS.GUEST_MODE) === 0) return false;
  }
  return true;
}
