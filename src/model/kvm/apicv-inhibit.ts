/**
 * Intel APICv inhibited and reactivated at run time, on a machine whose guests write their own
 * APIC registers (`apicRegisters`): the APICV_INHIBIT_REASON_APIC_ID_MODIFIED inhibit that
 * kvm_recalculate_apic_map sets while some vCPU in xAPIC mode has an APIC ID other than its vCPU ID
 * (kvm_recalculate_phys_map's xapic_id_mismatch) and clears when every such ID is back
 * (Greg Edwards, "KVM: x86: Allow APICv APIC ID inhibit to be cleared", 2023), and what a vCPU does
 * when its APICv is switched off or on (__kvm_vcpu_update_apicv):
 *
 * - off: apicv_active = false, vmx_refresh_apicv_exec_ctrl clears virtual-interrupt delivery and
 *   posted-interrupt processing (hw/vapic.ts vapicSetVid), KVM_REQ_EVENT: from now on KVM's software
 *   APIC owns delivery (kvm_lapic_set_irr, injection at VM entry, an interrupt window when the
 *   guest cannot take it, EOI and ICR writes emulated after an exit);
 * - on: VID back on, SVI = the highest in-service vector (kvm_apic_update_hwapic_isr ->
 *   vmx_hwapic_isr_update; "KVM: x86: Update SVI when activating APICv", 2025), and RVI = the
 *   highest pending one, which vmx_sync_pir_to_irr writes at the next entry (vmx_set_rvi). Without
 *   the SVI update the next virtualized EOI would clear the wrong vISR bit: KVM selftest
 *   vmx_apicv_updates_test.c l1_guest_code asserts the vector leaves ISR at that EOI.
 *
 * The virtual-APIC page doubles as KVM's register page (vIRR and vISR are KVM's IRR and ISR), as
 * in KVM, where apic->regs is the page the CPU virtualizes. The VM-wide change is folded into the
 * step that makes it: kvm_make_all_cpus_request(KVM_REQ_APICV_UPDATE) kicks every vCPU, and each
 * serves the request before it enters again; here every vCPU's update is done at once (the kicks'
 * exits and re-entries are not shown). In a script, like the guest I/O APIC's EOI-induced exit
 * (decision 0183), the exits handled here re-enter within one step. Under `irqlab check` a vCPU
 * with a thread of its own (World.vcpuThreads) stops at the exit instead: its thread's exit handler
 * (enter-guest.ts emitAsyncExitHandler) runs vcpu_enter_guest, interleaved with the other actors,
 * and the VM-wide update kicks it out of guest mode (decision 0235).
 */

import { APIC_BASE_EN, APIC_DEFAULT_BASE, LAPIC_MODE_DISABLED } from '../hw/apic-state.ts';
import { prioClass, processorPriority, regClear, regHighest, regSet } from '../hw/bits.ts';
import { LAPIC, LAPIC_MODE_X2APIC, SVR_APIC_ENABLED } from '../hw/lapic.ts';
import { setRvi, VAPIC, vapicSetIrqWindowExiting, vapicSetVid } from '../hw/vapic.ts';
import { EV, EXIT_REASON, type Sink } from '../platform/events.ts';
import {
  DELIVER_INJECTED,
  guestHandlerRuns,
  guestInterruptible,
  vmEntry,
  vmExit,
} from '../platform/hardware.ts';
import { VCPU } from '../platform/layout.ts';
import { RESCHEDULE_VECTOR } from '../platform/machine.ts';
import { vcpuHasThread, vcpuRunningOn, type World } from '../platform/world.ts';
import { apicMapInhibits, INHIBIT_APIC_BASE_MODIFIED, type MapApic, VMX_MAP_INHIBITS } from './apic-map.ts';
import { apicvBase, KVM_APICV } from './apicv.ts';
import { KVM_REQ_EVENT, KVM_VCPU, kvmVcpuWakeUp } from './state.ts';

export { INHIBIT_APIC_BASE_MODIFIED, INHIBIT_APIC_ID_MODIFIED } from './apic-map.ts';

/** Whether APICv can be inhibited and reactivated while the machine runs (Intel, apicRegisters). */
export function apicvInhibitable(w: World): boolean {
  return w.machine.features.apicv && !w.machine.features.avic && w.L.guestApic !== undefined;
}

/** Scratch of kvmRecalculateApicMap: one reused MapApic per vCPU and the map's slots. */
const MAP_APICS: MapApic[] = [];
const MAP_SLOTS = new Int32Array(320);

/**
 * kvm_recalculate_apic_map after a write of an APIC ID, IA32_APIC_BASE or the SVR: the map
 * inhibits of apic-map.ts that VMX honours (PHYSICAL_ID_ALIASED, APIC_ID_MODIFIED; not
 * LOGICAL_ID_ALIASED, outside VMX_REQUIRED_APICV_INHIBITS) set or cleared
 * (kvm_set_or_clear_apicv_inhibit), and, when that changes whether APICv is active, every vCPU's
 * __kvm_vcpu_update_apicv (folded, see the header).
 */
export function kvmRecalculateApicMap(w: World, sink?: Sink): void {
  if (!apicvInhibitable(w)) return;
  const ga = w.L.guestApic!;
  const n = ga.length;
  // The reused entries are created once, at the first call with this many vCPUs.
  while (MAP_APICS.length < n)
    MAP_APICS.push({
      present: false,
      x2apic: false,
      id: 0,
      vcpuId: 0,
      swEnabled: false,
      ldr: 0,
      cluster: false,
    });
  for (let x = 0; x < MAP_APICS.length; x++) {
    const a = MAP_APICS[x];
    if (x >= n) {
      a.present = false;
      continue;
    }
    const mode = w.m[ga[x] + LAPIC.MODE];
    const c = w.machine.vcpus[x];
    a.present = mode !== LAPIC_MODE_DISABLED;
    a.x2apic = mode === LAPIC_MODE_X2APIC;
    a.id = w.m[ga[x] + LAPIC.ID];
    a.vcpuId = c.apicId;
    a.swEnabled = (w.m[ga[x] + LAPIC.SVR] & SVR_APIC_ENABLED) !== 0;
    a.ldr = (c.ldr ?? 0) >>> 24; // Machine.ldr is the LDR register: the logical ID is its bits 31:24.
    a.cluster = c.dfr === 'cluster';
  }
  const r = apicMapInhibits(MAP_APICS, MAP_SLOTS);
  const k = apicvBase(w) + KVM_APICV.INHIBITS;
  setInhibits(w, ((w.m[k] & ~VMX_MAP_INHIBITS) | (r & VMX_MAP_INHIBITS)) >>> 0, sink);
}

/**
 * kvm_lapic_set_base (__kvm_apic_set_base): an enabled APIC whose base is no longer the default
 * 0FEE00000H sets APICV_INHIBIT_REASON_APIC_BASE_MODIFIED, for good (KVM never clears it: APICv's
 * APIC-access page cannot move).
 */
export function kvmApicBaseModified(w: World, apicBase: number, sink?: Sink): void {
  const v = BigInt(apicBase >>> 0);
  if (!apicvInhibitable(w) || (v & APIC_BASE_EN) === 0n) return;
  if ((v & 0xfffff000n) !== APIC_DEFAULT_BASE)
    setInhibits(w, (w.m[apicvBase(w) + KVM_APICV.INHIBITS] | INHIBIT_APIC_BASE_MODIFIED) >>> 0, sink);
}

/**
 * kvm_set_or_clear_apicv_inhibit, with every vCPU's update folded in when activation changes.
 * kvm_make_all_cpus_request(KVM_REQ_APICV_UPDATE) also kicks every vCPU in guest mode
 * (kvm_kick_many_cpus): one with a thread of its own leaves guest mode here (an external-interrupt
 * exit), and its thread re-enters through vcpu_enter_guest, which then injects what APICv no longer
 * delivers, or writes RVI for what it will.
 */
function setInhibits(w: World, n: number, sink?: Sink): void {
  const k = apicvBase(w) + KVM_APICV.INHIBITS;
  const old = w.m[k];
  w.m[k] = n;
  if ((old === 0) === (n === 0)) return;
  for (let x = 0; x < w.machine.vcpus.length; x++) {
    kvmVcpuUpdateApicv(w, x);
    if (sink !== undefined && vcpuHasThread(w, x) && vcpuRunningOn(w, x) >= 0)
      vmExit(w, sink, x, EXIT_REASON.EXTERNAL_INTERRUPT, RESCHEDULE_VECTOR);
  }
}

/**
 * __kvm_vcpu_update_apicv for vCPU x: active iff the VM has no inhibit. Deactivation turns VID off
 * and asks for KVM_REQ_EVENT; activation turns it on and writes SVI from the highest vISR vector
 * and RVI from the highest vIRR vector (see the header).
 */
export function kvmVcpuUpdateApicv(w: World, x: number): void {
  const { m } = w;
  const kv = w.L.kvmVcpu[x];
  const o = w.L.vapic[x];
  const active = m[apicvBase(w) + KVM_APICV.INHIBITS] === 0;
  if ((m[kv + KVM_VCPU.APICV_ACTIVE] !== 0) === active) return;
  m[kv + KVM_VCPU.APICV_ACTIVE] = active ? 1 : 0;
  vapicSetVid(m, o, active);
  if (!active) {
    m[kv + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
    return;
  }
  m[o + VAPIC.SVI] = Math.max(0, regHighest(m, o + VAPIC.VISR));
  setRvi(m, o, regHighest(m, o + VAPIC.VIRR));
}

/** vCPU x's APICv was switched off at run time (apicvInhibitable machines only). */
export function apicvInhibited(w: World, x: number): boolean {
  return apicvInhibitable(w) && w.m[w.L.kvmVcpu[x] + KVM_VCPU.APICV_ACTIVE] === 0;
}

/**
 * kvm_check_and_inject_events for an APICv-inactive vCPU (arch/x86/kvm/x86.c): nothing queued yet
 * and a vIRR vector whose class is above the PPR's (apic_update_ppr, SDM 11.8.3.1): if the guest can
 * take it now (vmx_interrupt_blocked: IF and no STI or MOV-SS blocking) it moves from IRR to ISR
 * (kvm_apic_ack_interrupt) and is queued for injection; otherwise KVM asks for an interrupt window
 * (enable_irq_window -> vmx_enable_irq_window sets interrupt-window exiting).
 */
export function kvmInjectPendingIrq(w: World, x: number): void {
  const { m } = w;
  const kv = w.L.kvmVcpu[x];
  const o = w.L.vapic[x];
  m[kv + KVM_VCPU.REQUESTS] &= ~KVM_REQ_EVENT;
  if (m[kv + KVM_VCPU.INJECT] !== 0) return;
  const v = regHighest(m, o + VAPIC.VIRR);
  if (v < 0) return;
  const ppr = processorPriority(m[o + VAPIC.VTPR], Math.max(0, regHighest(m, o + VAPIC.VISR)));
  if (prioClass(v) <= prioClass(ppr)) return;
  if (!guestInterruptible(w, x)) {
    vapicSetIrqWindowExiting(m, o, true);
    return;
  }
  regClear(m, o + VAPIC.VIRR, v);
  regSet(m, o + VAPIC.VISR, v);
  m[kv + KVM_VCPU.INJECT] = v;
}

/**
 * KVM enters vCPU x again on pCPU p after an exit it handled: on an APICv-inactive vCPU it first
 * injects what is pending (kvmInjectPendingIrq); the entry delivers the injected vector
 * (VM-entry event injection, SDM Vol. 3C 27.6).
 */
export function kvmReenter(w: World, sink: Sink, x: number, p: number): void {
  if (apicvInhibited(w, x)) kvmInjectPendingIrq(w, x);
  vmEntry(w, sink, x, p);
  const kv = w.L.kvmVcpu[x];
  const v = w.m[kv + KVM_VCPU.INJECT];
  if (v !== 0) {
    w.m[kv + KVM_VCPU.INJECT] = 0;
    guestHandlerRuns(w, sink, x, v, DELIVER_INJECTED);
  }
}

/**
 * handle_interrupt_window: interrupt-window exiting off again (exec_controls_clearbit),
 * KVM_REQ_EVENT, and the re-entry injects the interrupt the window was opened for.
 */
export function kvmHandleInterruptWindow(w: World, sink: Sink, x: number, p: number): void {
  vapicSetIrqWindowExiting(w.m, w.L.vapic[x], false);
  w.m[w.L.kvmVcpu[x] + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
  if (p >= 0 && !vcpuHasThread(w, x)) kvmReenter(w, sink, x, p);
}

/**
 * The guest's EOI write on an APICv-inactive vCPU: not virtualized, so it exits (x2APIC: WRMSR
 * 80BH, intercepted while APICv is off; xAPIC: the zapped APIC-access page, an EPT violation at
 * offset 0B0H), and KVM emulates it (apic_set_eoi: the highest vISR vector leaves service,
 * KVM_REQ_EVENT), then re-enters. The EOI broadcast to KVM's I/O APIC for a level vector
 * (kvm_ioapic_send_eoi) is not modelled on this path.
 */
export function kvmEmulatedEoi(w: World, sink: Sink, x: number): void {
  const p = vcpuRunningOn(w, x);
  const x2 = w.L.guestApic !== undefined && w.m[w.L.guestApic[x] + LAPIC.MODE] === LAPIC_MODE_X2APIC;
  vmExit(w, sink, x, x2 ? EXIT_REASON.MSR_WRITE : EXIT_REASON.EPT_VIOLATION, x2 ? 0x80b : 0xb0);
  const o = w.L.vapic[x];
  const v = regHighest(w.m, o + VAPIC.VISR);
  if (v >= 0) regClear(w.m, o + VAPIC.VISR, v);
  sink.ev(EV.EOI, x, Math.max(0, v), 0, 0);
  w.m[w.L.kvmVcpu[x] + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
  if (p >= 0 && !vcpuHasThread(w, x)) kvmReenter(w, sink, x, p);
}

/**
 * __apic_accept_irq for a fixed interrupt to an APICv-inactive vCPU, done at once (the script's
 * whole-step paths: an expiring timer, KVM's I/O APIC): kvm_lapic_set_irr, KVM_REQ_EVENT and
 * kvm_vcpu_kick, whose reschedule IPI makes a running vCPU exit; its re-entry injects (folded).
 */
export function kvmAcceptIrqInactive(w: World, sink: Sink, x: number, vector: number): void {
  regSet(w.m, w.L.vapic[x] + VAPIC.VIRR, vector);
  regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, vector);
  w.m[w.L.kvmVcpu[x] + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
  const p = vcpuRunningOn(w, x);
  if (p < 0) {
    kvmVcpuWakeUp(w, sink, x);
    return;
  }
  vmExit(w, sink, x, EXIT_REASON.EXTERNAL_INTERRUPT, RESCHEDULE_VECTOR);
  if (!vcpuHasThread(w, x)) kvmReenter(w, sink, x, p);
}
