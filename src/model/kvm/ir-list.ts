/**
 * KVM's per-vCPU ir_list (struct vcpu_svm: the IRTEs that post to the vCPU) and what
 * avic_vcpu_load / avic_vcpu_put do with it and with the vCPU's physical APIC ID table entry
 * (arch/x86/kvm/svm/avic.c, avic_update_iommu_vcpu_affinity; kvm-semantics.md section 7). The
 * hardware they write is src/model/hw/avic.ts, placed in the World by the platform's AVIC unit
 * (src/model/platform/avic-steps.ts); the KVM threads that call them are avic.ts and avic-irte.ts.
 */
import {
  avicPhysClearRunning,
  avicPhysIsRunning,
  avicPhysSetRunning,
  gaIrteDestination,
  gaIrteSetGaLogIntr,
  gaIrteSetRun,
} from '../hw/avic.ts';
import { avicRegion, vcpuApicId } from '../platform/avic-steps.ts';
import type { Sink } from '../platform/events.ts';
import { avicIrteOffset } from '../platform/layout.ts';
import { pcpuApicId, type World } from '../platform/world.ts';

/**
 * Where KVM's per-vCPU ir_list (struct vcpu_svm: the IRTEs that post to the vCPU, which
 * avic_vcpu_load/put update) lives in the World when a scenario routes IRTEs itself
 * (avic-irte.ts): one word per IRTE of machine.irtes, the index + 1 of the vCPU whose list holds
 * it (IR_LIST_VCPU), or 0, and IR_LIST_ROUTED once KVM has routed it as a postable IRQ (case 4).
 * Without the block, every IRTE is on its vCPU's list from the start.
 */
export const IR_LIST_BLOCK = 'kvm.ir_list';
export const IR_LIST_VCPU = 0xff;
export const IR_LIST_ROUTED = 1 << 8;

/**
 * IRTE i is on vCPU x's ir_list, the IRTEs avic_vcpu_load/put update: the IRTEs of machine.irtes
 * that target x, unless the scenario routes IRTEs itself (the `kvm.ir_list` block above).
 */
function onIrList(w: World, i: number, x: number): boolean {
  const l = w.L.extra.get(IR_LIST_BLOCK);
  return l === undefined ? w.machine.irtes[i].vcpu === x : (w.m[l + i] & IR_LIST_VCPU) === x + 1;
}

/**
 * KVM's avic_vcpu_load of vCPU x on pCPU p: the vCPU's physical APIC ID table entry gets p's host
 * APIC ID and IsRunning = 1 (one store of the entry), and each of its GA-mode IRTEs gets IsRun = 1
 * and Destination = p, with GALogIntr clear (amd_iommu_update_ga; since KVM's "GA_LOG_INTR"
 * rework, only a blocking put asks for GA-log entries). From then on IPIs and device interrupts
 * ring p's doorbell. KVM skips this while the vCPU is blocking; the model has no such state.
 */
export function avicLoad(w: World, _sink: Sink, x: number, p: number): void {
  const a = avicRegion(w);
  const host = pcpuApicId(p);
  avicPhysSetRunning(w.m, a.table, vcpuApicId(w, x), host);
  const irtes = w.machine.irtes;
  for (let i = 0; i < irtes.length; i++) {
    if (!onIrList(w, i, x)) continue;
    const o = avicIrteOffset(a, i);
    gaIrteSetRun(w.m, o, true, host);
    gaIrteSetGaLogIntr(w.m, o, false);
  }
}

/**
 * The table and IRTE half of avic_vcpu_put (__avic_vcpu_put): IsRunning = 0 in vCPU x's table entry,
 * IsRun = 0 in its IRTEs, and GALogIntr as asked (KVM sets it only when the vCPU starts blocking:
 * AVIC_START_BLOCKING in avic_update_iommu_vcpu_affinity).
 */
export function avicStopRunning(w: World, x: number, gaLogIntr: boolean): void {
  const a = avicRegion(w);
  avicPhysClearRunning(w.m, a.table, vcpuApicId(w, x));
  const irtes = w.machine.irtes;
  for (let i = 0; i < irtes.length; i++) {
    if (!onIrList(w, i, x)) continue;
    const o = avicIrteOffset(a, i);
    gaIrteSetRun(w.m, o, false, gaIrteDestination(w.m, o));
    gaIrteSetGaLogIntr(w.m, o, gaLogIntr);
  }
}

/** vCPU x's table entry has IsRunning set (KVM reads its cached copy, svm->avic_physical_id_entry). */
export function avicIsRunning(w: World, x: number): boolean {
  return avicPhysIsRunning(w.m, avicRegion(w).table, vcpuApicId(w, x));
}
