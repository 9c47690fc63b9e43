/**
 * vcpu_enter_guest (arch/x86/kvm/x86.c) up to VM entry, with vmx_sync_pir_to_irr in it, and the
 * way back out (kvm-semantics.md sections 1 and 2). The order matters: IRQs are disabled before
 * IN_GUEST_MODE is published, so a notification sent by a sender that saw IN_GUEST_MODE stays
 * pending in the physical IRR and is processed as posted interrupts right after entry.
 */
import { regHighest, regMerge, regZero } from '../hw/bits.ts';
import { PID, piClearOn, piIsPirEmpty, piTestOn } from '../hw/pid.ts';
import { setRvi, VAPIC } from '../hw/vapic.ts';
import { vmEntry, vmExit } from '../system/hardware.ts';
import { PCPU } from '../system/layout.ts';
import { vcpuRunningOn, type World } from '../system/world.ts';
import { kvmVcpu } from './load-put.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { KVM_VCPU, MODE_IN_GUEST, MODE_OUTSIDE_GUEST } from './state.ts';
import type { Variant } from './variants.ts';

function cpuOf(w: World, x: number): number {
  return w.m[kvmVcpu(w, x) + KVM_VCPU.CPU] - 1;
}

/**
 * vmx_sync_pir_to_irr: test the gate, clear ON, harvest PIR into vIRR, write RVI. Harvesting is
 * one step here (every PIR word exchanged at once); the word-by-word harvest of seed 000 splits it.
 */
export function emitSyncPirToIrr(b: ProgramBuilder, v: Variant, x: number): void {
  const fn = 'vmx_sync_pir_to_irr';
  const noPir = b.fresh('no_pir');
  const setRviMark = b.fresh('set_rvi');
  const tNoPir = b.target(noPir);
  if (v.syncGate === 'on-only') {
    b.step(fn, 'pi_test_on', (w) => (piTestOn(w.m, w.L.pid[x]) ? NEXT : tNoPir.pc));
  } else {
    b.step(fn, 'pi_is_pir_empty', (w) => (piIsPirEmpty(w.m, w.L.pid[x]) ? tNoPir.pc : NEXT));
  }
  const clearOn = () =>
    b
      .step(fn, 'pi_clear_on', (w) => {
        piClearOn(w.m, w.L.pid[x]);
        return NEXT;
      })
      .barriers(1);
  const harvest = () =>
    b
      .step('kvm_apic_update_irr', 'harvest_pir', (w) => {
        const pid = w.L.pid[x];
        regMerge(w.m, w.L.vapic[x] + VAPIC.VIRR, w.m, pid + PID.PIR);
        regZero(w.m, pid + PID.PIR);
        return NEXT;
      })
      .barriers(1);
  if (v.syncOrder === 'clear-on-then-harvest') {
    clearOn();
    harvest();
  } else {
    harvest();
    clearOn();
  }
  b.mark(noPir);
  b.mark(setRviMark);
  b.step('vmx_set_rvi', 'write_rvi', (w) => {
    setRvi(w.m, w.L.vapic[x], regHighest(w.m, w.L.vapic[x] + VAPIC.VIRR));
    return NEXT;
  });
}

/** From the top of vcpu_enter_guest to VM entry; the guest then runs on pCPU vcpu->cpu. */
export function emitEnterGuest(b: ProgramBuilder, v: Variant, x: number): void {
  const fn = 'vcpu_enter_guest';
  b.step(fn, 'local_irq_disable', (w) => {
    w.m[w.L.pcpu[cpuOf(w, x)] + PCPU.HOST_IF] = 0;
    return NEXT;
  });
  b.step(fn, 'store_mode_in_guest', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.MODE] = MODE_IN_GUEST;
    return NEXT;
  });
  // smp_mb__after_srcu_read_unlock: counted for path-cost reports; as a step of its own it only
  // matters under TSO (issue 4), where it drains the store buffer.
  b.barriers(v.mbAfterMode === 'present' ? 1 : 0);
  // smp_mb__after_srcu_read_unlock: a full barrier. Under sequential consistency it has no
  // effect of its own; under TSO (issue 4) it drains the store buffer.
  emitSyncPirToIrr(b, v, x);
  vmEntryStep(b, x);
}

/** VM entry of vCPU x on vcpu->cpu; a notification pending in the physical IRR is taken after it. */
export function vmEntryStep(b: ProgramBuilder, x: number): void {
  b.step('vmx_vcpu_run', 'vmentry', (w, _a, sink) => {
    vmEntry(w, sink, x, cpuOf(w, x));
    return NEXT;
  });
}

/** A VM exit that KVM handles in the full path: back to root mode, OUTSIDE_GUEST_MODE, IRQs on. */
export function emitExit(b: ProgramBuilder, x: number, reason: number): void {
  b.step(
    'vmx_vcpu_run',
    'vmexit',
    (w, _a, sink) => {
      vmExit(w, sink, x, reason, 0);
      return NEXT;
    },
    (w) => vcpuRunningOn(w, x) >= 0,
  );
  b.step('vcpu_enter_guest', 'store_mode_outside', (w) => {
    w.m[kvmVcpu(w, x) + KVM_VCPU.MODE] = MODE_OUTSIDE_GUEST;
    return NEXT;
  });
  b.step('vcpu_enter_guest', 'local_irq_enable', (w) => {
    w.m[w.L.pcpu[cpuOf(w, x)] + PCPU.HOST_IF] = 1;
    return NEXT;
  });
}
