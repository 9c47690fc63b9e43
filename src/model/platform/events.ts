/**
 * Trace events emitted by steps. A step reports what it did as numbers through a Sink, so that the
 * checker's hot path allocates nothing; the runner's sink turns them into records for printing.
 */
export const EV = {
  /** VT-d posting: a = vCPU, b = vector, c = 1 if a notification was sent. */
  VTD_POST: 1,
  /** IPIv posting by the sender's CPU: a = target vCPU, b = vector, c = notified, d = sender vCPU. */
  IPIV_POST: 2,
  /** A physical interrupt message accepted by a LAPIC: a = pCPU, b = vector, c = intended vCPU + 1 (0: none). */
  PHYS_IRQ: 3,
  /** A physical interrupt addressed to an APIC ID nobody has: a = APIC ID, b = vector. */
  PHYS_IRQ_DROPPED: 4,
  /** Posted-interrupt processing: a = pCPU, b = vCPU whose PID was processed, c = highest vector moved (-1 none). */
  PI_PROCESS: 5,
  /** A notification meant for other vCPUs processed against this one: a = pCPU, b = processing vCPU, c = bitmask of intended vCPUs. */
  PI_WRONG_VCPU: 6,
  /** Virtual-interrupt delivery: the guest handler of b runs on vCPU a; c = 1 when from an AVIC backing page, 2 for an injected NMI (b = 2). */
  DELIVER: 7,
  /** Virtual EOI: a = vCPU, b = vector. */
  EOI: 8,
  /** VM exit: a = vCPU, b = pCPU, c = basic exit reason, d = qualification. */
  VMEXIT: 9,
  /** VM entry: a = vCPU, b = pCPU. */
  VMENTRY: 10,
  /** A host interrupt handler ran: a = pCPU, b = vector. */
  HOST_IRQ: 11,
  /** The APIC handed the core its spurious vector: a = pCPU, b = vector. */
  SPURIOUS: 12,
  /** Self-IPI virtualization: a = vCPU, b = vector. */
  SELF_IPI: 13,
  /** A guest IPI with an illegal vector was not sent: a = vCPU, b = vector. */
  ILLEGAL_VECTOR: 14,
  /**
   * kvm_vcpu_wake_up (a software sender whose target was not in guest mode, or pi_wakeup_handler):
   * a = vCPU, b = 1 if a thread blocked in kvm_vcpu_block was woken.
   */
  WAKE_UP: 15,
  /**
   * An AVIC doorbell (APM 15.29: WRMSR C001_011Bh with a host APIC ID): a = pCPU it reached (-1: no
   * pCPU has that APIC ID), b = the vCPU running there in guest mode, which re-evaluated its backing
   * page (-1: none, so the doorbell had no effect), c = vector recognized by that evaluation (-1:
   * none), d = vCPU whose IRR bit the doorbell was rung for.
   */
  AVIC_DOORBELL: 16,
  /**
   * The AMD IOMMU posted a device interrupt through a GA-mode IRTE: a = vCPU (the backing page's
   * slot), b = vector, c = outcome (GA_POST in hw/avic.ts: 1 doorbell, 2 logged, 3 silent, 4 log
   * full), d = IRTE index.
   */
  GA_POST: 17,
  /**
   * The host's GA-log interrupt handler consumed one entry (Linux iommu_poll_ga_log, then KVM
   * avic_ga_log_notifier -> kvm_vcpu_wake_up): a = vCPU woken (-1: the GATag names no vCPU),
   * b = GATag, c = device ID, d = 1 if the vCPU was halted.
   */
  GA_LOG: 18,
} as const;
export type EventKind = (typeof EV)[keyof typeof EV];

export const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EV).map(([k, v]) => [v, k.toLowerCase()]),
);

/** Basic VM-exit reasons used by the model (SDM Vol. 3D appendix C). */
export const EXIT_REASON = {
  /** An exception or an NMI (with NMI exiting, vector 2). */
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  HLT: 12,
  VMCALL: 18,
  /** IN/OUT: KVM hands most port I/O to userspace (KVM_EXIT_IO), the usual exit to userspace. */
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  TPR_BELOW_THRESHOLD: 43,
  /** An APIC-access VM exit: an access to the APIC-access page that is not virtualized. */
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  /**
   * A guest access to a page EPT does not map: KVM's xAPIC page while APICv is inhibited (the
   * APIC-access page's mapping is zapped and each access faults into KVM's MMIO emulation,
   * kvm_faultin_pfn on APIC_ACCESS_PAGE_PRIVATE_MEMSLOT; qualification: the register offset).
   */
  EPT_VIOLATION: 48,
  /** An access to an MMIO page KVM emulates (the guest I/O APIC window). */
  EPT_MISCONFIG: 49,
  APIC_WRITE: 56,
  /**
   * AMD SVM exit codes of AVIC (APM Vol. 2 15.29; KVM SVM_EXIT_AVIC_*): a guest IPI the hardware
   * could not complete (qualification = the failure cause, EXITINFO2[63:32]), and an APIC access it
   * does not accelerate (qualification = the APIC register offset, e.g. 0B0H for EOI). They cannot
   * collide with the VMX basic exit reasons above, which are all below 100.
   */
  AVIC_INCOMPLETE_IPI: 0x401,
  AVIC_NOACCEL: 0x402,
} as const;

export const EXIT_REASON_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EXIT_REASON).map(([k, v]) => [v, k]),
);

export interface Sink {
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void;
}

/** A sink that drops every event. */
export const NULL_SINK: Sink = { ev() {} };
