/**
 * AMD AVIC: the AVIC control fields of a vCPU's VMCB when the vCPU is created while APICv is
 * inhibited (case 7 of issue 14; 3989a6d036c8 "KVM: SVM: Initialize AVIC VMCB fields if AVIC is
 * enabled with in-kernel APIC", Sean Christopherson, 2026, Cc stable).
 *
 * At vCPU creation kvm_create_lapic sets apic->apicv_active speculatively when APICv is enabled in
 * KVM and asks for KVM_REQ_APICV_UPDATE, which the first KVM_RUN serves. init_vmcb then set up the
 * VMCB's AVIC fields only if the vCPU's APICv is active (true, speculatively), and avic_init_vmcb
 * enabled AVIC in the VMCB only if the VM had no inhibit (kvm_apicv_activated). A vCPU created
 * while the VM is inhibited so gets AVIC disabled in its VMCB with apicv_active still true; if the
 * inhibit is lifted before its first KVM_RUN, __kvm_vcpu_update_apicv finds apicv_active equal to
 * what it computes and skips the vendor refresh (avic_refresh_apicv_exec_ctrl): the vCPU runs with
 * KVM's AVIC paths active (doorbells, IRR in the backing page) and AVIC disabled in the VMCB. The
 * fix initialises the fields whenever AVIC is possible (enable_apicv and an in-kernel APIC) and
 * enables AVIC in the VMCB according to the vCPU's own apicv_active, so the skip is right.
 *
 * The model keeps one word per vCPU, "AVIC enabled in the VMCB" (int_ctl's AVIC_ENABLE), in a block
 * that exists only in scenarios that create a vCPU (`kvm.createVcpu`); there the request service
 * skips the refresh when apicv_active does not change, as __kvm_vcpu_update_apicv does.
 */

import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import { vcpuRunningOn, type World } from '../platform/world.ts';
import { apicvBase, KVM_APICV } from './apicv.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import { KVM_REQ_APICV_UPDATE, KVM_VCPU, kvmVcpu } from './state.ts';
import type { Variant } from './variants.ts';

export const SVM_VMCB_BLOCK = 'svm.vmcb';

/** The block: per vCPU, 1 when AVIC is enabled in its VMCB (avic_activate_vmcb). */
export function vmcbExtra(vcpus: number): ExtraBlock {
  const fields: FieldDesc[] = Array.from({ length: vcpus }, (_, x) => ({
    name: `vcpu${x}.vmcb.avicEnable`,
    offset: x,
    kind: 'u32',
  }));
  return { name: SVM_VMCB_BLOCK, prefix: 'svm', size: vcpus, fields };
}

function vmcb(w: World, x: number): number {
  return w.L.extra.get(SVM_VMCB_BLOCK)! + x;
}

/**
 * kvm_vm_ioctl_create_vcpu for vCPU x on an AVIC machine: kvm_create_lapic (apicv_active = 1,
 * KVM_REQ_APICV_UPDATE), then init_vmcb: with `if-apicv-active` (before 3989a6d036c8) the AVIC
 * fields only when apicv_active, AVIC enabled iff the VM has no inhibit; with `if-avic-possible`
 * the fields always (AVIC is enabled and the APIC in-kernel here), AVIC enabled iff apicv_active.
 */
export function emitCreateVcpu(b: ProgramBuilder, v: Variant, x: number): void {
  b.step('kvm_create_lapic', 'apicv_active = enable_apicv', (w) => {
    const k = kvmVcpu(w, x);
    w.m[k + KVM_VCPU.APICV_ACTIVE] = 1;
    w.m[k + KVM_VCPU.REQUESTS] |= KVM_REQ_APICV_UPDATE;
    return NEXT;
  });
  // The two parts of the fix: which condition init_vmcb tests, and which activation
  // avic_init_vmcb follows.
  const initAlways =
    v.avicVmcbInit === 'if-avic-possible' || v.avicVmcbInit === 'init-always-enable-if-vm-activated';
  const perVcpu =
    v.avicVmcbInit === 'if-avic-possible' || v.avicVmcbInit === 'init-if-active-enable-if-vcpu-active';
  b.step('init_vmcb', 'avic_init_vmcb', (w) => {
    const active = w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] !== 0;
    const activated = w.m[apicvBase(w) + KVM_APICV.INHIBITS] === 0;
    if (initAlways || active) w.m[vmcb(w, x)] = (perVcpu ? active : activated) ? 1 : 0;
    return NEXT;
  });
}

/**
 * The vendor half of __kvm_vcpu_update_apicv for vCPU x (svm_refresh_apicv_exec_ctrl ->
 * avic_activate_vmcb / avic_deactivate_vmcb), run under the read lock before apicv_active is
 * stored: skipped when apicv_active already equals the VM's activation.
 */
export function emitRefreshApicvExecCtrl(b: ProgramBuilder, x: number): void {
  b.step('avic_refresh_apicv_exec_ctrl', 'avic_(de)activate_vmcb', (w) => {
    const activate = w.m[apicvBase(w) + KVM_APICV.INHIBITS] === 0 ? 1 : 0;
    if (w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] !== activate) w.m[vmcb(w, x)] = activate;
    return NEXT;
  });
}

/**
 * Property avic-vmcb (case 7): no vCPU runs in guest mode with apicv_active set while AVIC is
 * disabled in its VMCB (KVM would ring doorbells and fill the backing page that the CPU ignores).
 */
export function avicVmcbHolds(w: World): boolean {
  const o = w.L.extra.get(SVM_VMCB_BLOCK);
  if (o === undefined) return true;
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    if (vcpuRunningOn(w, x) < 0) continue;
    if (w.m[kvmVcpu(w, x) + KVM_VCPU.APICV_ACTIVE] !== 0 && w.m[o + x] === 0) return false;
  }
  return true;
}
