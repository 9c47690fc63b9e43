/**
 * The VM-entry checks on the VM-execution controls that concern interrupts (SDM Vol. 3C 26.2.1.1
 * "VM-Execution Control Fields"; KVM mirrors them for a nested guest in nested_vmx_check_apicv_controls
 * and nested_check_vm_execution_controls, and kvm-unit-tests vmx_tests.c vmx_controls_test checks
 * them through test_apic_virtual_ctls, test_virtual_intr_ctls, test_posted_intr and
 * test_nmi_ctrls). A VM entry whose controls break one fails with "invalid control field(s)"
 * (VM-instruction error 7) and the guest does not run.
 */

export interface InterruptVmxControls {
  /** Pin-based bit 0. */
  readonly externalInterruptExiting: boolean;
  /** Pin-based bit 3. */
  readonly nmiExiting: boolean;
  /** Pin-based bit 5. */
  readonly virtualNmis: boolean;
  /** Pin-based bit 7. */
  readonly processPostedInterrupts: boolean;
  /** Primary bit 22. */
  readonly nmiWindowExiting: boolean;
  /** Primary bit 21. */
  readonly useTprShadow: boolean;
  /** Secondary bit 0. */
  readonly virtualizeApicAccesses: boolean;
  /** Secondary bit 4. */
  readonly virtualizeX2apicMode: boolean;
  /** Secondary bit 8. */
  readonly apicRegisterVirtualization: boolean;
  /** Secondary bit 9. */
  readonly virtualInterruptDelivery: boolean;
  /** VM-exit control bit 15. */
  readonly acknowledgeInterruptOnExit: boolean;
  /** Posted-interrupt notification vector (16-bit field). */
  readonly pinv: number;
  /** Posted-interrupt descriptor address. */
  readonly pidAddress: bigint;
  /** MAXPHYADDR of the processor. */
  readonly maxPhyAddr: number;
}

/** The first check the controls fail, or null when VM entry may proceed. */
export function interruptControlsEntryFault(c: InterruptVmxControls): string | null {
  if (!c.nmiExiting && c.virtualNmis) return 'virtual NMIs require NMI exiting';
  if (!c.virtualNmis && c.nmiWindowExiting) return 'NMI-window exiting requires virtual NMIs';
  if (
    !c.useTprShadow &&
    (c.virtualizeX2apicMode || c.apicRegisterVirtualization || c.virtualInterruptDelivery)
  )
    return 'virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery require use TPR shadow';
  if (c.virtualizeX2apicMode && c.virtualizeApicAccesses)
    return 'virtualize x2APIC mode and virtualize APIC accesses are mutually exclusive';
  if (c.virtualInterruptDelivery && !c.externalInterruptExiting)
    return 'virtual-interrupt delivery requires external-interrupt exiting';
  if (c.processPostedInterrupts) {
    if (!c.virtualInterruptDelivery) return 'process posted interrupts requires virtual-interrupt delivery';
    if (!c.acknowledgeInterruptOnExit)
      return 'process posted interrupts requires acknowledge interrupt on exit';
    if ((c.pinv & 0xff00) !== 0) return 'posted-interrupt notification vector bits 15:8 must be 0';
    if ((c.pidAddress & 0x3fn) !== 0n) return 'posted-interrupt descriptor address must be 64-byte aligned';
    if (c.pidAddress >> BigInt(c.maxPhyAddr) !== 0n)
      return 'posted-interrupt descriptor address must be within the physical-address width';
  }
  return null;
}
