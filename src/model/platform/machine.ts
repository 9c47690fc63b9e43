/**
 * The static description of a machine (what a scenario's "machine" section becomes after
 * validation): how many pCPUs and vCPUs, which virtualization features are on, how each vCPU
 * starts, and the posted-format IRTEs of assigned devices. Nothing here changes at run time; the
 * run-time state is the World (layout.ts).
 */

/**
 * Host vectors KVM uses for posted interrupts (Linux arch/x86/include/asm/irq_vectors.h):
 * the notification vector while a vCPU runs, the wake-up vector while it is blocked, and the
 * nested notification vector.
 */
export const POSTED_INTR_VECTOR = 0xf2;
export const POSTED_INTR_WAKEUP_VECTOR = 0xf1;
export const POSTED_INTR_NESTED_VECTOR = 0xf0;
/** The scheduler's IPI (smp_send_reschedule), which kvm_vcpu_kick uses to force a VM exit. */
export const RESCHEDULE_VECTOR = 0xfd;

export interface Features {
  /** APIC virtualization with virtual-interrupt delivery and posted-interrupt processing. */
  apicv: boolean;
  /** VT-d posting of device interrupts (posted-format IRTEs). */
  vtdPosting: boolean;
  /** IPI virtualization: the CPU posts qualifying guest IPIs itself. */
  ipiv: boolean;
  /** AMD AVIC instead of Intel APICv. */
  avic: boolean;
}

export interface VcpuConfig {
  apicId: number;
  /**
   * xAPIC logical destination: LDR (0D0H) and the DFR model (0E0H bits 31:28, 1111b flat, 0000b
   * cluster), as the guest programmed them; absent: the reset values, LDR 0 and flat (SDM Vol. 3A
   * "Logical Destination Mode"). x2APIC derives its LDR from the ID and has no DFR.
   */
  ldr?: number;
  dfr?: 'flat' | 'cluster';
  /** The VMCS's posted-interrupt notification vector; absent: KVM's POSTED_INTR_VECTOR. */
  notificationVector?: number;
  /** pCPU the vCPU is loaded on at the start, or -1. */
  pcpu: number;
  /** Whether it starts in guest mode on that pCPU. */
  running: boolean;
  if: boolean;
  halted: boolean;
  tpr: number;
  autoEoi: boolean;
  /** Vectors whose EOI causes an EOI-induced VM exit (KVM sets level-triggered vectors). */
  eoiExit: number[];
  pid: { on: boolean; sn: boolean; nv: number; pir: number[] };
  virr: number[];
}

export interface IrteConfig {
  /** vCPU whose descriptor the IRTE points at. */
  vcpu: number;
  vector: number;
  urg: boolean;
}

/** One I/O APIC input, programmed at the start (destination: a pCPU's APIC ID, physical mode). */
export interface IoapicPinConfig {
  pin: number;
  vector: number;
  level: boolean;
  masked: boolean;
  dest: number;
  /** Delivery mode: 0 fixed, 4 NMI (optional: fixed). */
  deliveryMode?: number;
}

/** One input of KVM's emulated I/O APIC, routed to vCPUs (kvm/guest-ioapic.ts). */
export interface GuestIoapicPinConfig {
  pin: number;
  vector: number;
  level: boolean;
  masked: boolean;
  /** 8-bit destination: a vCPU APIC ID (physical) or a logical mask (logical). */
  dest: number;
  logical: boolean;
  /** Delivery mode: 0 fixed, 1 lowest priority, 4 NMI. */
  deliveryMode: 0 | 1 | 4;
}

export interface Machine {
  pcpus: number;
  x2apic: boolean;
  features: Features;
  vcpus: VcpuConfig[];
  irtes: IrteConfig[];
  /** Host IRQs enabled at the start on every pCPU in root mode. */
  hostIF: boolean;
  /** The host's handlers write EOI as soon as they run. */
  hostAutoEoi: boolean;
  /** The I/O APIC's programmed inputs; empty when the machine has no I/O APIC in play. */
  ioapic: IoapicPinConfig[];
  /** KVM's emulated I/O APIC for the guest; absent or empty: none. */
  guestIoapic?: GuestIoapicPinConfig[];
  /** KVM keeps each vCPU's APIC base, SVR and ID as registers the guest writes (kvm/guest-apic.ts). */
  apicRegisters?: boolean;
  /** Each vCPU has KVM's emulated local APIC timer (timer-block.ts; kvm/lapic-timer.ts). */
  lapicTimer?: boolean;
  /**
   * APICv inhibit reasons set when the VM starts, as a bitmask of enum kvm_apicv_inhibit bits
   * (kvm/apicv.ts), e.g. PIT_REINJ; absent: none.
   */
  apicvInhibits?: number;
}
