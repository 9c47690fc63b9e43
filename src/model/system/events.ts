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
  /** Virtual-interrupt delivery: the guest handler of b runs on vCPU a. */
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
  /** kvm_vcpu_wake_up instead of a notification (the target was not in guest mode): a = vCPU. */
  WAKE_UP: 15,
} as const;
export type EventKind = (typeof EV)[keyof typeof EV];

export const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EV).map(([k, v]) => [v, k.toLowerCase()]),
);

/** Basic VM-exit reasons used by the model (SDM Vol. 3D appendix C). */
export const EXIT_REASON = {
  EXTERNAL_INTERRUPT: 1,
  INTERRUPT_WINDOW: 7,
  HLT: 12,
  MSR_WRITE: 32,
  TPR_BELOW_THRESHOLD: 43,
  EOI_INDUCED: 45,
  APIC_WRITE: 56,
} as const;

export const EXIT_REASON_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EXIT_REASON).map(([k, v]) => [v, k]),
);

export interface Sink {
  ev(kind: EventKind, a: number, b: number, c: number, d: number): void;
}

/** A sink that drops every event. */
export const NULL_SINK: Sink = { ev() {} };
