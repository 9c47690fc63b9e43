/**
 * KVM's NMI window (arch/x86/kvm/vmx/vmx.c vmx_enable_nmi_window, x86.c kvm_check_and_inject_events):
 * when an NMI is pending but the guest's NMIs are blocked (its NMI handler has not returned), KVM
 * sets NMI-window exiting (primary control bit 22, with virtual NMIs), so the guest's IRET that
 * unblocks NMIs is followed by an NMI-window VM exit (reason 8, SDM Vol. 3C 26.7.6; hw/nmi.ts
 * nmiWindowExit), and KVM injects the pending NMI at the next entry.
 */
import { CORE_BLOCK_NMI, coreExecute } from '../hw/interruptibility.ts';
import { nmiWindowExit } from '../hw/nmi.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { guestIret, vcpuNmiPending, vmEntry, vmExit } from '../platform/hardware.ts';
import { vcpuRunningOn, type World } from '../platform/world.ts';

const KVM_NMI_CONTROLS = { nmiExiting: true, virtualNmis: true, nmiWindowExiting: true } as const;

/**
 * vCPU x's guest executes IRET. With an NMI pending, the NMI-window exit comes at once (no NMI
 * blocking, no STI or MOV-SS blocking after an IRET), and KVM re-enters to inject it; the
 * injection is then the vCPU's next event (hardware.ts vcpuNmiDeliver).
 */
export function kvmGuestIret(w: World, sink: Sink, x: number): void {
  guestIret(w, x);
  const p = vcpuRunningOn(w, x);
  // The core's blocking right after the handler's IRET: none (coreExecute 'iret' ends NMI blocking
  // and any shadow).
  const after = coreExecute(CORE_BLOCK_NMI, 'iret');
  if (p < 0 || vcpuNmiPending(w, x) === 0 || !nmiWindowExit(KVM_NMI_CONTROLS, after)) return;
  vmExit(w, sink, x, EXIT_REASON.NMI_WINDOW, 0);
  vmEntry(w, sink, x, p);
}
