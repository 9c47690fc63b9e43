/**
 * The properties the checker monitors, one object each: its name (as scenarios, the CLI and traces
 * spell it), its kind (an invariant exits 12, a liveness property 13: TLC's split), what a
 * violation means, and where its monitor looks (SystemModel: `invariant` on every state, the step
 * sink on the events of every step, `terminal` at end states and over fair cycles). The scenario
 * schema, SystemModel and docs/properties.md all read this one list
 * (test/model/system/properties.test.ts holds the docs to it).
 */

/** Properties, as violation codes. */
export const PROP = {
  NO_STUCK_PIR: 1,
  NO_WRONG_VCPU: 2,
  RVI_AT_ENTRY: 3,
  NO_LOST_INTERRUPT: 4,
  WAKEUP_LIST: 5,
  NO_LOST_WAKEUP: 6,
  NO_LOST_MSI: 7,
  APICV_ACTIVATION: 8,
  NO_IRQ_WINDOW_WITH_AVIC: 9,
  LOCK_ORDER: 10,
  DEADLOCK: 11,
  IRTE_AFFINITY: 12,
  IRTE_GUEST_MODE: 13,
  AVIC_VMCB: 14,
  IRTE_OWNER: 15,
} as const;

/**
 * Where a property's monitor looks: `state` every state reached (SystemModel.invariant), `step`
 * the events a step emits (the step sink), `end` every end state and, for liveness, every fair
 * cycle (SystemModel.terminal and the cycle search).
 */
export type MonitorPoint = 'state' | 'step' | 'end';

export interface PropertyDef {
  readonly code: number;
  readonly name: string;
  readonly kind: 'invariant' | 'liveness';
  /** What a violation means, in one line (the CLI prints it after the name). */
  readonly meaning: string;
  readonly monitor: readonly MonitorPoint[];
}

/** In the order the CLI and the schema list them. */
export const PROPERTY_LIST = [
  {
    code: PROP.NO_STUCK_PIR,
    name: 'no-stuck-pir',
    kind: 'invariant',
    meaning: 'the guest runs with a vector in PIR and no notification on its way',
    monitor: ['state'],
  },
  {
    code: PROP.NO_WRONG_VCPU,
    name: 'no-wrong-vcpu',
    kind: 'invariant',
    meaning: "a notification meant for one vCPU was processed against another vCPU's descriptor",
    monitor: ['step'],
  },
  {
    code: PROP.RVI_AT_ENTRY,
    name: 'rvi-at-entry',
    kind: 'invariant',
    meaning: 'RVI differs from the highest vIRR vector at VM entry',
    monitor: ['step'],
  },
  {
    code: PROP.NO_LOST_INTERRUPT,
    name: 'no-lost-interrupt',
    kind: 'liveness',
    meaning:
      'a posted, deliverable vector never reached the guest handler (at an end state, or forever along a fair cycle)',
    monitor: ['end'],
  },
  {
    code: PROP.WAKEUP_LIST,
    name: 'wakeup-list',
    kind: 'invariant',
    meaning:
      "a vCPU's wake-up lists disagree with its descriptor: on a list while NV or NDST point elsewhere, or NV is the wake-up vector and NDST's pCPU does not list it",
    monitor: ['state'],
  },
  {
    code: PROP.NO_LOST_WAKEUP,
    name: 'no-lost-wakeup',
    kind: 'liveness',
    meaning:
      'a vCPU sleeps in kvm_vcpu_block with a posted, deliverable vector and nothing is left to wake it',
    monitor: ['end'],
  },
  {
    code: PROP.APICV_ACTIVATION,
    name: 'apicv-activation',
    kind: 'invariant',
    meaning:
      "a vCPU entered with apicv_active differing from the VM's inhibits, or, with no writer holding apicv_update_lock, the inhibits disagree with the IRQ-window count (activated iff no inhibit but IRQWIN and a zero count)",
    monitor: ['step', 'state'],
  },
  {
    code: PROP.NO_IRQ_WINDOW_WITH_AVIC,
    name: 'no-irq-window-with-avic',
    kind: 'invariant',
    meaning:
      'a vCPU waiting for an IRQ window entered the guest with AVIC active, which ignores V_IRQ: the window exit never comes',
    monitor: ['step'],
  },
  {
    code: PROP.NO_LOST_MSI,
    name: 'no-lost-msi',
    kind: 'liveness',
    meaning:
      "a device MSI posted into a pCPU's posted-MSI descriptor never had its handler run, and nothing is left to run it",
    monitor: ['end'],
  },
  {
    code: PROP.LOCK_ORDER,
    name: 'lock-order',
    kind: 'invariant',
    meaning:
      "the locks were taken in orders that form a cycle (lockdep's circular locking dependency): a possible deadlock, whether or not this schedule deadlocked",
    monitor: ['state'],
  },
  {
    code: PROP.DEADLOCK,
    name: 'deadlock',
    kind: 'invariant',
    meaning: 'every actor that is not done waits for a lock that another (or itself) holds',
    monitor: ['state'],
  },
  {
    code: PROP.IRTE_AFFINITY,
    name: 'irte-affinity',
    kind: 'invariant',
    meaning:
      "at an end state, a GA-mode IRTE that posts to a vCPU disagrees with the vCPU's physical-ID entry: IsRun differs from IsRunning, or the vCPU runs on another pCPU than the Destination (AMD AVIC)",
    monitor: ['end'],
  },
  {
    code: PROP.IRTE_GUEST_MODE,
    name: 'irte-guest-mode',
    kind: 'invariant',
    meaning:
      'at an end state, an IRQ KVM routed as postable to a vCPU whose AVIC is active still goes through a remapped-mode IRTE (AMD AVIC)',
    monitor: ['end'],
  },
  {
    code: PROP.AVIC_VMCB,
    name: 'avic-vmcb',
    kind: 'invariant',
    meaning:
      "a vCPU runs in guest mode with apicv_active set while AVIC is disabled in its VMCB: KVM's doorbells and backing-page IRR go unseen (AMD AVIC)",
    monitor: ['state'],
  },
  {
    code: PROP.IRTE_OWNER,
    name: 'irte-owner',
    kind: 'invariant',
    meaning:
      'a VT-d IRTE is not in the mode its latest owner asked for: posting to a vCPU for KVM, posted MSI for the host',
    monitor: ['state'],
  },
] as const satisfies readonly PropertyDef[];

export type PropertyName = (typeof PROPERTY_LIST)[number]['name'];

/** The property names, in PROPERTY_LIST's order. */
export const PROPERTY_NAMES = PROPERTY_LIST.map((p) => p.name) as [PropertyName, ...PropertyName[]];

/** The properties by violation code. */
export const PROP_INFO: Readonly<Record<number, PropertyDef>> = Object.fromEntries(
  PROPERTY_LIST.map((p) => [p.code, p]),
);

export function propertyCode(name: string): number {
  const p = PROPERTY_LIST.find((q) => q.name === name);
  if (p === undefined) throw new Error(`unknown property ${name}`);
  return p.code;
}
