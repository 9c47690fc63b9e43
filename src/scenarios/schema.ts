/**
 * The scenario file format (docs/scenario-format.md), as a zod schema. A scenario describes a
 * machine, a sequence of steps (guest, device, CPU and host operations) and expectations. The
 * schema is published as JSON Schema (schema/scenario.schema.json, `npm run schema`).
 *
 * Numbers that are vectors, APIC IDs or register values may be written as JSON numbers or as hex
 * strings ("0x31"), as the manuals and kernel logs write them.
 */
import { z } from 'zod';
import { APICV_INHIBIT_NAMES } from '../model/kvm/apicv.ts';
import { xapicOffsetKept, xapicOffsetWritable } from '../model/kvm/guest-apic.ts';
import { guestMsrSupported } from '../model/kvm/guest-msr.ts';
import { MAX_LOCKS } from '../model/kvm/locks.ts';
import { FIRST_EXTERNAL_VECTOR, FIRST_SYSTEM_VECTOR } from '../model/kvm/posted-msi.ts';
import { EXIT_REASON } from '../model/platform/events.ts';
import { avicTableSize } from '../model/platform/layout.ts';
import { PROPERTY_NAMES, type PropertyName } from '../model/system/properties.ts';
import { hexOrInt, hexOrIntIn, vector } from './values.ts';
import { workload } from './workload.ts';

export { vector };

const byte = hexOrIntIn('{field}', 0, 255);
const u32 = hexOrIntIn('{field}', 0, 0xffffffff, '0xffffffff');
const index = z.number().int().min(0);
const vcpuRef = index.describe('vCPU index (position in machine.vcpus)');
const pcpuRef = index.describe('pCPU index (0 .. machine.pcpus-1)');

/** The names of the basic exit reasons the model produces (EXIT_REASON in events.ts). */
export const EXIT_REASON_KEYS = Object.keys(EXIT_REASON) as [
  keyof typeof EXIT_REASON,
  ...(keyof typeof EXIT_REASON)[],
];
const exitReason = z.enum(EXIT_REASON_KEYS);

/**
 * The inhibit reasons a scenario may set or clear itself (enum kvm_apicv_inhibit): all but IRQWIN,
 * which only SVM's IRQ-window code changes (svm.irqWindow.*).
 */
export const SETTABLE_INHIBITS = APICV_INHIBIT_NAMES.filter((n) => n !== 'IRQWIN') as [
  Exclude<(typeof APICV_INHIBIT_NAMES)[number], 'IRQWIN'>,
  ...Exclude<(typeof APICV_INHIBIT_NAMES)[number], 'IRQWIN'>[],
];
const inhibitReason = z.enum(SETTABLE_INHIBITS);

const features = z
  .object({
    apicv: z
      .boolean()
      .default(true)
      .describe('APIC virtualization with virtual-interrupt delivery and posted interrupts'),
    vtdPosting: z
      .boolean()
      .default(true)
      .describe('IOMMU posting of device interrupts: VT-d posting (with avic: the AMD IOMMU GA mode)'),
    ipiv: z.boolean().default(false).describe('IPI virtualization'),
    avic: z.boolean().default(false).describe('AMD AVIC instead of Intel APICv (needs apicv false)'),
  })
  .strict();

const pid = z
  .object({
    on: z.boolean().default(false),
    sn: z.boolean().default(false),
    nv: byte.default(0xf2).describe('notification vector (POSTED_INTR_VECTOR 0xf2, wake-up 0xf1)'),
    pir: z.array(vector).default([]),
  })
  .strict();

const vcpu = z
  .object({
    apicId: u32.optional().describe('guest APIC ID (default: the vCPU index)'),
    ldr: byte
      .default(0)
      .describe(
        'xAPIC logical APIC ID, LDR bits 31:24 (logical destination mode; x2APIC derives it from apicId)',
      ),
    dfr: z
      .enum(['flat', 'cluster'])
      .default('flat')
      .describe('xAPIC destination format model (DFR bits 31:28: flat 1111b, cluster 0000b)'),
    pcpu: z.number().int().min(-1).default(-1).describe('pCPU the vCPU is loaded on, -1 for none'),
    running: z.boolean().default(false).describe('starts in guest mode on its pCPU'),
    if: z.boolean().default(true).describe('guest RFLAGS.IF'),
    halted: z.boolean().default(false),
    tpr: byte.default(0),
    autoEoi: z.boolean().default(false).describe('guest handlers write EOI as soon as they run'),
    eoiExit: z.array(vector).default([]).describe('vectors set in the EOI-exit bitmap'),
    notificationVector: byte
      .default(0xf2)
      .describe(
        "the VMCS's posted-interrupt notification vector (KVM: POSTED_INTR_VECTOR 0xf2); set pid.nv to match",
      ),
    pid: pid.default({ on: false, sn: false, nv: 0xf2, pir: [] }),
    virr: z.array(vector).default([]).describe('vectors pending in vIRR at the start (RVI set accordingly)'),
  })
  .strict();

const irte = z
  .object({
    vcpu: vcpuRef,
    vector,
    urg: z.boolean().default(false),
  })
  .strict();

/** What an I/O APIC redirection entry holds on both routes (82093AA: 24 pins). */
const redirectionEntry = {
  pin: z.number().int().min(0).max(23),
  vector,
  trigger: z.enum(['edge', 'level']).default('edge'),
  masked: z.boolean().default(false),
};

const ioapicPin = z
  .object({
    ...redirectionEntry,
    dest: byte.default(0).describe('destination pCPU APIC ID (physical mode)'),
    deliveryMode: z
      .enum(['fixed', 'nmi'])
      .default('fixed')
      .describe("nmi: the pCPU's NMI input (the vector is ignored; edge-triggered only)"),
  })
  .strict();

const guestIoapicPin = z
  .object({
    ...redirectionEntry,
    dest: byte
      .default(0)
      .describe('8-bit destination: a vCPU APIC ID, or a logical mask with destMode logical'),
    destMode: z.enum(['physical', 'logical']).default('physical'),
    deliveryMode: z.enum(['fixed', 'lowest', 'nmi']).default('fixed'),
  })
  .strict();

export const machine = z
  .object({
    pcpus: z.number().int().min(1).max(32).default(1),
    x2apic: z.boolean().default(true),
    features: features.default({ apicv: true, vtdPosting: true, ipiv: false, avic: false }),
    vcpus: z.array(vcpu).min(1).max(32),
    irtes: z.array(irte).default([]).describe('posted-format IRTEs of assigned devices'),
    hostIF: z.boolean().default(true).describe('host IRQs enabled on every pCPU at the start'),
    hostAutoEoi: z.boolean().default(true).describe('host handlers write EOI as soon as they run'),
    ioapic: z
      .array(ioapicPin)
      .default([])
      .describe('programmed I/O APIC inputs (messages go to pCPU LAPICs)'),
    guestIoapic: z
      .array(guestIoapicPin)
      .default([])
      .describe("KVM's emulated I/O APIC: inputs whose messages go to vCPUs (Intel APICv)"),
    apicRegisters: z
      .boolean()
      .default(false)
      .describe(
        "KVM keeps each vCPU's IA32_APIC_BASE, SVR and APIC ID as registers guest.apicWrite changes (fields vcpuN.apic.*)",
      ),
    lapicTimer: z
      .boolean()
      .default(false)
      .describe("each vCPU has KVM's emulated LAPIC timer (guest.timer, time.advance; fields vcpuN.timer.*)"),
    apicvInhibits: z
      .array(inhibitReason)
      .default([])
      .describe(
        'APICv inhibit reasons set when the VM starts, e.g. PIT_REINJ (the in-kernel PIT is created in re-inject mode); needs features.avic',
      ),
  })
  .strict();

const note = z.string().optional().describe('shown in the trace beside the step');

/** The fields of one step kind, beside `do` and `note`. */
type Fields = z.core.$ZodLooseShape;

/**
 * One step kind: what it means, and its fields where it may stand: in `steps` (the script, which
 * `irqlab run` follows and `irqlab check` runs as actor 0) and in an actor's steps. A kind means the
 * same wherever it stands. Where a vCPU does the step (its guest, or KVM on its thread), a script
 * step names the vCPU (`vcpu`) and an actor's step is the actor's vCPU's; a VM exit a guest step
 * causes is handled by that thread in an actor, and ends the step in the script.
 */
interface StepKind {
  readonly meaning: string;
  readonly script?: Fields;
  readonly actor?: Fields;
}

const devicePost = {
  irte: index.optional().describe('index into machine.irtes'),
  vcpu: vcpuRef.optional(),
  vector: vector.optional(),
  urg: z.boolean().optional(),
};

const hltExiting = z
  .boolean()
  .default(true)
  .describe('HLT exiting (the VM-execution control, which KVM sets): the HLT is a VM exit (default true)');

/**
 * Every step kind, declared once, in the order messages list them. Add a kind here: `step` and
 * `actorStep` (and so the loader, the messages and the JSON Schema) take it from this list.
 */
export const STEP_KINDS = {
  'kvm.load': {
    meaning:
      'sched-in on a pCPU: vmx_vcpu_load_vmcs, vmx_vcpu_pi_load (AVIC: avic_vcpu_load), vcpu->cpu = pcpu',
    actor: { pcpu: pcpuRef },
  },
  'kvm.put': {
    meaning:
      'sched-out: kvm_sched_out, vmx_vcpu_pi_put (AVIC: avic_vcpu_put) (preempted, or a put to userspace)',
    actor: { preempted: z.boolean().default(false) },
  },
  'kvm.enter': {
    meaning: 'vcpu_enter_guest: IRQs off, IN_GUEST_MODE, vmx_sync_pir_to_irr, VM entry',
    actor: {},
  },
  'kvm.exit': {
    meaning: 'a VM exit handled in the full path: OUTSIDE_GUEST_MODE, IRQs on',
    actor: {
      reason: exitReason
        .default('IO_INSTRUCTION')
        .describe(
          'basic exit reason recorded for the exit (default IO_INSTRUCTION: an exit to userspace; a preemption is EXTERNAL_INTERRUPT)',
        ),
    },
  },
  'kvm.injectNmi': {
    meaning:
      'kvm_inject_nmi from another context (KVM_NMI, a perf or watchdog NMI): the NMI is queued (two at most, one while the handler runs) and the vCPU kicked',
    actor: { vcpu: vcpuRef },
  },
  'kvm.deliver': {
    meaning:
      'vmx_deliver_posted_interrupt from another context (software posting; AVIC: svm_deliver_interrupt)',
    actor: { vcpu: vcpuRef, vector },
  },
  'device.post': {
    meaning:
      'a device interrupt is posted by VT-d, through an IRTE or to vcpu/vector directly (AVIC: by the AMD IOMMU in GA mode, through irte)',
    script: devicePost,
    actor: devicePost,
  },
  'device.postMsi': {
    meaning:
      "VT-d posts a device MSI into a pCPU's own descriptor (host posted MSI, CONFIG_X86_POSTED_MSI); the pCPU's notification handler runs as a host actor",
    actor: { pcpu: pcpuRef, vector },
  },
  'timer.expire': {
    meaning:
      "the host's hrtimer of a vCPU's LAPIC timer fires (apic_timer_fn): time moves to the timer's next expiry and apic_timer_expired posts its LVT vector (kvm_apic_local_deliver, a posted timer interrupt); waits while the timer is not armed (machine.lapicTimer)",
    actor: { vcpu: vcpuRef },
  },
  'guest.timerRearm': {
    meaning:
      "the guest's timer handler re-arms its one-shot or TSC-deadline LAPIC timer period ticks after the last expiry (an initial-count write or WRMSR IA32_TSC_DEADLINE, each an exit KVM emulates); waits until the last expiry's interrupt reached the guest (machine.lapicTimer)",
    actor: { period: u32.describe('timer input ticks after the last expiry (1 ns each)') },
  },
  'sched.migrate': {
    meaning:
      "the host scheduler moves the vCPU's thread to the next pCPU's run queue (set_task_cpu): its next sched-in (a kvm.load, or the wake-up in guest.hlt's block) is on that pCPU, where vmx_vcpu_pi_load rewrites NDST and moves a blocked vCPU off the old pCPU's wake-up list (AVIC: avic_vcpu_load with the new host APIC ID)",
    actor: { vcpu: vcpuRef },
  },
  'guest.tpr': {
    meaning: 'the guest writes its TPR',
    script: { value: byte, vcpu: vcpuRef },
    actor: { value: byte },
  },
  'guest.eoi': {
    meaning: 'the guest writes EOI',
    script: { vcpu: vcpuRef },
    actor: {},
  },
  'guest.selfIpi': {
    meaning: 'the guest writes the x2APIC SELF IPI MSR',
    script: { vector, vcpu: vcpuRef },
    actor: { vector },
  },
  'guest.icr': {
    meaning:
      'the guest writes the ICR (in an actor: a fixed, physical x2APIC IPI to dest, whose exit KVM handles per the icrWrite knob, with features.ipiv posted by the CPU with no exit; or to all excluding self, shorthand others, which exits)',
    script: {
      vector: vector.optional(),
      dest: u32.optional().describe('destination APIC ID'),
      deliveryMode: z.enum(['fixed', 'lowest', 'smi', 'nmi', 'init', 'sipi']).default('fixed'),
      destMode: z.enum(['physical', 'logical']).default('physical'),
      trigger: z.enum(['edge', 'level']).default('edge'),
      shorthand: z.enum(['none', 'self', 'all', 'others']).default('none'),
      via: z
        .enum(['mmio'])
        .optional()
        .describe(
          'with machine.apicRegisters the write goes through the interface of the vCPU APIC mode now (x2APIC: WRMSR 830H; xAPIC: the MMIO page); "mmio" writes the xAPIC page whatever the mode (in x2APIC mode the page is memory and nothing is sent)',
        ),
      vcpu: vcpuRef,
    },
    actor: {
      dest: u32.optional().describe('destination APIC ID of a vCPU (shorthand none)'),
      vector,
      shorthand: z
        .enum(['none', 'others'])
        .optional()
        .describe(
          'none (the default): to dest; others: all excluding self (ICR bits 19:18 = 11b), every other vCPU, which IPIv does not virtualize and the fastpath declines',
        ),
    },
  },
  'guest.icrRaw': {
    meaning:
      'the guest writes the ICR as a raw value: the register keeps what the mode keeps (vcpuN.apic.icrLo/icrHi), a reserved x2APIC bit is #GP, and the IPI goes as for guest.icr (machine.apicRegisters)',
    script: {
      lo: u32.describe('ICR bits 31:0 (xAPIC: the 300H write)'),
      hi: u32.default(0).describe('ICR bits 63:32 (xAPIC: the 310H write, destination in 31:24)'),
      vcpu: vcpuRef,
    },
  },
  'guest.sti': {
    meaning: 'the guest sets RFLAGS.IF',
    script: { vcpu: vcpuRef },
    actor: {},
  },
  'guest.cli': {
    meaning: 'the guest clears RFLAGS.IF',
    script: { vcpu: vcpuRef },
    actor: {},
  },
  'guest.nop': {
    meaning:
      'the guest executes an instruction that touches no interrupt state (a NOP): it ends the STI shadow, so an interrupt or interrupt-window exit that waited for it comes before the next step',
    script: { vcpu: vcpuRef },
  },
  'guest.hlt': {
    meaning:
      'the guest executes HLT. With HLT exiting (the default) it is a HLT exit, after which KVM blocks the vCPU in kvm_vcpu_block until it is runnable (sleeping and waking through the wake-up vector) in an actor; without ("exiting": false, script only) the activity state becomes HLT until virtual-interrupt delivery wakes it',
    script: { exiting: hltExiting, vcpu: vcpuRef },
    actor: {
      exiting: hltExiting,
      wakeOn: pcpuRef
        .optional()
        .describe('the pCPU the vCPU is scheduled back on after each sleep (default: its own)'),
    },
  },
  'guest.iret': {
    meaning: "the guest executes IRET: the NMI handler's return ends NMI blocking",
    script: { vcpu: vcpuRef },
    actor: {},
  },
  'guest.timer': {
    meaning:
      'the guest programs its LAPIC timer (LVT, divide configuration, initial count, TSC deadline, in that order): each write exits and KVM emulates it (machine.lapicTimer)',
    script: {
      vector: vector.optional().describe('writes the LVT timer entry with this vector (and mode, masked)'),
      mode: z.enum(['one-shot', 'periodic', 'tsc-deadline']).default('one-shot'),
      masked: z.boolean().default(false),
      divide: z.number().int().min(1).max(128).optional().describe('divide by 1, 2, 4, ..., 128'),
      initialCount: u32.optional().describe('writes the initial count (0 stops the timer)'),
      deadline: u32.optional().describe('writes IA32_TSC_DEADLINE (0 disarms)'),
      vcpu: vcpuRef,
    },
  },
  'guest.apicWrite': {
    meaning:
      'the guest writes IA32_APIC_BASE, the SVR or the APIC ID: the write exits and KVM emulates it or injects #GP (machine.apicRegisters); an xAPIC ID other than the vCPU ID inhibits Intel APICv VM-wide and restoring it reactivates APICv (in an actor, the vCPUs in guest mode are kicked and each thread re-enters through vcpu_enter_guest)',
    script: {
      reg: z.enum(['APIC_BASE', 'SVR', 'ID']),
      value: u32,
      hi: u32
        .optional()
        .describe('APIC_BASE only: bits 63:32 (all at or above the model MAXPHYADDR of 32, so reserved)'),
      vcpu: vcpuRef,
    },
    actor: {
      reg: z.enum(['APIC_BASE', 'SVR', 'ID']),
      value: u32,
      hi: u32
        .optional()
        .describe('APIC_BASE only: bits 63:32 (all at or above the model MAXPHYADDR of 32, so reserved)'),
    },
  },
  'guest.apicRead': {
    meaning:
      'the guest reads 32 bits of its xAPIC page at a guest-physical address (an APIC register if the APIC is in xAPIC mode and the address is in the page at its base): the value goes to vcpuN.apic.read, and vcpuN.apic.readHit says whether it reached the APIC (machine.apicRegisters)',
    script: { address: u32, vcpu: vcpuRef },
  },
  'guest.mmio': {
    meaning:
      "the guest reads (no `write`) or writes 32 bits at a page offset of its xAPIC page (at the base IA32_APIC_BASE names): hw/apic-access.ts decides, with KVM's controls, between a virtualized access, an APIC-write exit and an APIC-access exit, or, with APICv inhibited or the base moved, an EPT violation into KVM's MMIO emulation; a read's value goes to vcpuN.apic.read, and vcpuN.apic.readHit says the page was the APIC (machine.apicRegisters, Intel)",
    script: {
      offset: hexOrIntIn('offset', 0, 0xff0, '4080 (0FF0H)').describe(
        'the page offset (a register: a multiple of 10H)',
      ),
      write: u32.optional().describe('the value written; without it the step reads'),
      vcpu: vcpuRef,
    },
  },
  'guest.msr': {
    meaning:
      "the guest executes RDMSR (no `write`) or WRMSR of an x2APIC register by MSR number: KVM's controls and MSR bitmap for the vCPU now decide between a virtualized access, #GP and an MSR exit that KVM emulates (#GP outside x2APIC mode, for a write-only register's read or a read-only register's write); a read's low 32 bits go to vcpuN.apic.read and vcpuN.apic.readHit says it returned (machine.apicRegisters, Intel)",
    script: {
      msr: hexOrIntIn('msr', 0x800, 0x8ff, '2303 (800H-8FFH)').describe('the MSR number (ECX), 800H-8FFH'),
      write: u32.optional().describe('EAX of a WRMSR; without it the step reads'),
      hi: u32.default(0).describe('EDX of a WRMSR (bits 63:32)'),
      vcpu: vcpuRef,
    },
  },
  'time.advance': {
    meaning:
      "time passes: every vCPU's LAPIC timer counts, and expirations deliver their vector (machine.lapicTimer)",
    script: {
      ticks: z
        .number()
        .int()
        .min(1)
        .max(0xffffffff)
        .describe('timer input ticks (the TSC runs at the same rate)'),
    },
  },
  'vm.entry': {
    meaning: 'VM entry of a vCPU on a pCPU',
    script: { pcpu: pcpuRef, vcpu: vcpuRef },
  },
  'vm.exit': {
    meaning: 'VM exit of a vCPU running in guest mode',
    script: {
      reason: exitReason.default('HLT').describe('basic exit reason recorded for the exit (default HLT)'),
      vcpu: vcpuRef,
    },
  },
  'pid.set': {
    meaning: 'software rewrites fields of a descriptor (as KVM does on put/load)',
    script: {
      on: z.boolean().optional(),
      sn: z.boolean().optional(),
      nv: byte.optional(),
      ndst: pcpuRef
        .optional()
        .describe("pCPU whose APIC ID NDST names (encoded for the machine's APIC mode)"),
      vcpu: vcpuRef,
    },
  },
  'cpu.interrupt': {
    meaning: 'a physical interrupt message reaches a pCPU',
    script: { pcpu: pcpuRef, vector },
  },
  'ioapic.line': {
    meaning: 'an I/O APIC input line is asserted (true) or deasserted',
    script: { pin: z.number().int().min(0).max(23), level: z.boolean() },
  },
  'ioapic.mask': {
    meaning: 'software masks or unmasks an I/O APIC redirection entry',
    script: { pin: z.number().int().min(0).max(23), masked: z.boolean() },
  },
  'host.setLapic': {
    meaning:
      "the host writes a vCPU's APIC state outside guest mode (KVM_SET_LAPIC: TPR, IRR, ISR; or a VMWRITE of RVI, SVI)",
    script: {
      tpr: byte.optional(),
      irr: z.array(vector).optional().describe('vIRR becomes exactly these vectors (RVI their highest)'),
      isr: z.array(vector).optional().describe('vISR becomes exactly these vectors (SVI their highest)'),
      rvi: byte.optional().describe('RVI on its own (a VMWRITE of the guest-interrupt status)'),
      svi: byte.optional().describe('SVI on its own'),
      irqWindowExiting: z
        .boolean()
        .optional()
        .describe(
          'a VMWRITE of the interrupt-window exiting control (Intel): with it set the guest exits as soon as it can take an interrupt',
        ),
      id: u32
        .optional()
        .describe(
          'the APIC ID register as KVM_SET_LAPIC writes it (xAPIC: ID in bits 31:24; ignored in x2APIC mode); machine.apicRegisters',
        ),
      apicBase: u32
        .optional()
        .describe(
          'IA32_APIC_BASE written by the host (KVM_SET_MSRS): x2APIC to xAPIC directly is allowed; machine.apicRegisters',
        ),
      vcpu: vcpuRef,
    },
  },
  'guestIoapic.line': {
    meaning:
      "an input line of KVM's emulated I/O APIC is asserted (true) or deasserted (kvm_ioapic_set_irq; in an actor, one step under ioapic->lock, the delivery to the vCPUs included)",
    script: { pin: z.number().int().min(0).max(23), level: z.boolean() },
    actor: { pin: z.number().int().min(0).max(23), level: z.boolean() },
  },
  'guestIoapic.write': {
    meaning:
      "the guest rewrites a redirection entry of KVM's emulated I/O APIC (an exit KVM emulates; Remote IRR kept for a level entry; in an actor, its own vCPU writes, ioapic_write_indirect is one step under ioapic->lock and the thread re-enters through vcpu_enter_guest)",
    script: {
      pin: z.number().int().min(0).max(23),
      vector: vector.optional(),
      trigger: z.enum(['edge', 'level']).optional(),
      masked: z.boolean().optional(),
      dest: byte.optional(),
      destMode: z.enum(['physical', 'logical']).optional(),
      deliveryMode: z.enum(['fixed', 'lowest', 'nmi']).optional(),
      vcpu: vcpuRef,
    },
    actor: {
      pin: z.number().int().min(0).max(23),
      vector: vector.optional(),
      trigger: z.enum(['edge', 'level']).optional(),
      masked: z.boolean().optional(),
      dest: byte.optional(),
      destMode: z.enum(['physical', 'logical']).optional(),
      deliveryMode: z.enum(['fixed', 'lowest', 'nmi']).optional(),
    },
  },
  'guestIoapic.reg': {
    meaning:
      "the guest reads (no `write`) or writes a register of KVM's emulated I/O APIC by index through IOREGSEL/IOWIN: 0 ID, 1 version, 2 arbitration, 10H-3FH the redirection entries; a read's value goes to guestIoapic.read",
    script: {
      index: z.number().int().min(0).max(0x3f),
      write: u32.optional().describe('the value written; without it the step reads'),
      vcpu: vcpuRef,
    },
    actor: {
      index: z.number().int().min(0).max(0x3f),
      write: u32.optional().describe('the value written; without it the step reads'),
    },
  },
  'guestIoapic.mask': {
    meaning: "the host masks or unmasks an entry of KVM's emulated I/O APIC",
    script: { pin: z.number().int().min(0).max(23), masked: z.boolean() },
    actor: { pin: z.number().int().min(0).max(23), masked: z.boolean() },
  },
  'host.sti': {
    meaning: 'the host enables IRQs on a pCPU',
    script: { pcpu: pcpuRef },
  },
  'host.cli': {
    meaning: 'the host disables IRQs on a pCPU',
    script: { pcpu: pcpuRef },
  },
  'host.eoi': {
    meaning: 'the host writes EOI on a pCPU',
    script: { pcpu: pcpuRef },
  },
  'avic.load': {
    meaning:
      "KVM's avic_vcpu_load: the vCPU's AVIC table entry gets IsRunning=1 and the pCPU's APIC ID, its GA IRTEs IsRun=1 (features.avic)",
    script: { pcpu: pcpuRef, vcpu: vcpuRef },
  },
  'avic.put': {
    meaning:
      "KVM's avic_vcpu_put: IsRunning=0 in the AVIC table entry, IsRun=0 in its GA IRTEs (features.avic)",
    script: {
      blocking: z
        .boolean()
        .default(false)
        .describe('the vCPU blocks (halts): its GA IRTEs log device interrupts (GALogIntr=1)'),
      vcpu: vcpuRef,
    },
  },
  'avic.deliver': {
    meaning:
      'KVM delivers an interrupt in software (svm_deliver_interrupt): IRR (and TMR) in the backing page, then a doorbell or a wake-up (features.avic)',
    script: { vector, trigger: z.enum(['edge', 'level']).default('edge'), vcpu: vcpuRef },
  },
  'kvm.inhibit': {
    meaning:
      'a VM ioctl sets or clears an APICv inhibit (kvm_set_or_clear_apicv_inhibit under apicv_update_lock for write, e.g. the PIT leaving re-inject mode clears PIT_REINJ; features.avic)',
    actor: { reason: inhibitReason, set: z.boolean() },
  },
  'svm.irqWindow.open': {
    meaning:
      'svm_enable_irq_window before VM entry: the IRQWIN inhibit (per the irqWindowInhibit knob), then V_IRQ and the VINTR intercept (features.avic)',
    actor: {},
  },
  'svm.irqWindow.close': {
    meaning:
      'the guest opens the window and the VINTR intercept exits (never while AVIC is active on the vCPU); interrupt_window_interception, svm_clear_vintr and the IRQWIN clear or decrement (features.avic)',
    actor: {},
  },
  lock: {
    meaning: 'spin_lock: wait until the lock is free, then take it (lock-order and deadlock properties)',
    actor: { lock: z.string().min(1).describe("the lock's name") },
  },
  unlock: {
    meaning: 'spin_unlock',
    actor: { lock: z.string().min(1) },
  },
  'avic.updateIrte': {
    meaning:
      "KVM routes the IRTE's host IRQ to its vCPU (kvm_pi_update_irte -> avic_pi_update_irte: GA mode with the vCPU's pCPU and IsRunning, then the vCPU's ir_list, per the irteUpdateLock knob); the IRTE starts in remapped mode and on no list (features.avic)",
    actor: { irte: index.describe('index into machine.irtes') },
  },
  'host.irqSetAffinity': {
    meaning:
      "the host changes the affinity of the IRTE's host IRQ: on AVIC, irq_set_affinity under the IRQ descriptor's lock, which wakes the IRQ thread (the runqueue lock); on VT-d, intel_ir_set_affinity rewrites the IRTE for posted MSI (per vtdAffinityChange)",
    actor: { irte: index.describe('index into machine.irtes') },
  },
  'kvm.createVcpu': {
    meaning:
      "KVM_CREATE_VCPU for the actor's vCPU: kvm_create_lapic (apicv_active set speculatively, KVM_REQ_APICV_UPDATE) and init_vmcb's AVIC fields per the avicVmcbInit knob; the vCPU then needs a kvm.load and a kvm.enter (features.avic)",
    actor: {},
  },
  'vtd.irqSetVcpuAffinity': {
    meaning:
      "KVM's vmx_pi_update_irte -> intel_ir_set_vcpu_affinity: the IRTE posts to its vCPU, or goes back to the host (per vtdVcpuPostingOff); the host uses posted MSIs (features.vtdPosting, not avic)",
    actor: {
      irte: index.describe('index into machine.irtes'),
      post: z.boolean().describe("true: post to the IRTE's vCPU; false: give the IRTE back to the host"),
    },
  },
  'kvm.startAssignment': {
    meaning:
      'VFIO assigns a device to the VM (kvm_arch_start_assignment, per the startAssignment knob); with this step the VM starts without an assigned device (features.vtdPosting, not avic)',
    actor: {},
  },
} as const satisfies Record<string, StepKind>;

type Kinds = typeof STEP_KINDS;
type KindName = keyof Kinds & string;
type StepObject<K extends string, F extends Fields> = z.ZodObject<
  { do: z.ZodLiteral<K>; note: typeof note } & F,
  z.core.$strict
>;
/** The schema of each kind that may stand in `steps` (List 'script') or in an actor (List 'actor'). */
type StepIn<List extends 'script' | 'actor'> = {
  [K in KindName]: Kinds[K] extends { [L in List]: infer F extends Fields } ? StepObject<K, F> : never;
}[KindName];

/** The steps one list accepts: the kinds of STEP_KINDS that may stand there, in its order. */
function stepsIn<List extends 'script' | 'actor'>(list: List): z.ZodDiscriminatedUnion<StepIn<List>[], 'do'> {
  const options = Object.entries(STEP_KINDS as Record<string, StepKind>).flatMap(([kind, k]) => {
    const fields = k[list];
    return fields === undefined
      ? []
      : [
          z
            .object({ do: z.literal(kind), ...fields, note })
            .strict()
            .describe(k.meaning),
        ];
  });
  return z.discriminatedUnion(
    'do',
    options as unknown as [StepIn<List>, ...StepIn<List>[]],
  ) as unknown as z.ZodDiscriminatedUnion<StepIn<List>[], 'do'>;
}

/** A step of `steps`: the script, whose steps fire in order (irqlab run; actor 0 under irqlab check). */
export const step = stepsIn('script');

/**
 * A step of a concurrent actor: each is a KVM function, a device posting or a guest operation,
 * expanded into atomic steps according to the variant.
 */
export const actorStep = stepsIn('actor');

const actor = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z][a-z0-9_-]*$/,
        'an actor name must be a lower-case letter, then lower-case letters, digits, "_" and "-"',
      ),
    vcpu: vcpuRef
      .optional()
      .describe('the vCPU whose thread and guest this actor is (for kvm.* and guest.* steps)'),
    steps: z
      .array(actorStep)
      .default([])
      .describe(
        "the actor's steps; a vCPU thread may have none (its guest just runs, and KVM handles its exits)",
      ),
    repeat: z
      .boolean()
      .default(false)
      .describe('run the steps again and again forever (liveness is then checked over fair cycles)'),
  })
  .strict();

/** The property names a scenario and `--properties` may give (src/model/system/properties.ts). */
export const PROPERTIES = PROPERTY_NAMES;

const vectorList = z.array(vector);

export const expectations = z
  .object({
    delivered: z
      .record(z.string().regex(/^\d+$/, 'keys are vCPU indices'), vectorList)
      .optional()
      .describe('per vCPU: the vectors whose guest handler ran, in order'),
    hostIrqs: z
      .record(z.string().regex(/^\d+$/, 'keys are pCPU indices'), vectorList)
      .optional()
      .describe('per pCPU: the vectors whose host handler ran, in order'),
    exits: z
      .record(z.string().regex(/^\d+$/, 'keys are vCPU indices'), z.array(exitReason))
      .optional()
      .describe('per vCPU: the VM-exit reasons, in order (EXTERNAL_INTERRUPT, EOI_INDUCED, APIC_WRITE, ...)'),
    state: z
      .record(
        z.string(),
        z.union([z.boolean(), vectorList, hexOrInt, z.string()], {
          error: 'expected true/false, a list of vectors, a number, a hex string or a name such as "none"',
        }),
      )
      .optional()
      .describe(
        'field name -> value after the last step, e.g. "vcpu0.PID.ON": false, "vcpu0.vIRR": ["0x31"]',
      ),
  })
  .strict();

const scenarioObject = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._-]*$/,
        'name must be lower-case letters, digits, ".", "_" and "-", starting with a letter or digit',
      ),
    description: z.string().min(1),
    source: z.string().min(1).describe('where the behaviour is documented (SDM/VT-d section, kernel commit)'),
    machine,
    steps: z.array(step).default([]).describe('a sequential script for irqlab run'),
    actors: z.array(actor).optional().describe('concurrent actors whose interleavings irqlab check explores'),
    presets: z
      .record(
        z
          .string()
          .regex(
            /^[a-z0-9][a-z0-9-]*$/,
            'a preset name must be lower-case letters, digits and "-", starting with a letter or digit',
          ),
        z.record(z.string(), z.string()),
      )
      .optional()
      .describe('named variants: knob settings on top of the current kernel (docs/variants.md)'),
    properties: z.array(z.enum(PROPERTIES)).optional().describe('properties to check (default: all)'),
    workload: workload
      .optional()
      .describe('what the environment does over simulated time, for irqlab sim (docs/sim.md, "Workloads")'),
    memory: z
      .enum(['sc', 'tso'])
      .optional()
      .describe('memory model for irqlab check: sc (default) or tso (x86 store buffers); --memory overrides'),
    expect: expectations.default({}),
    checkpoints: z
      .array(
        z
          .object({
            after: index.describe('the index of the script step after which (and its reactions) to judge'),
            expect: expectations,
          })
          .strict(),
      )
      .optional()
      .describe('expectations at intermediate points of the run: after steps[after] and the reactions to it'),
  })
  .strict();

export const scenario = scenarioObject.superRefine((s, ctx) => {
  const nv = s.machine.vcpus.length;
  const np = s.machine.pcpus;
  // zod still runs this refinement when a size check failed (an empty vcpus list, pcpus: 0). That
  // failure is reported already: index checks against such a machine would only add noise.
  const vcpusValid = nv >= 1 && nv <= 32;
  const pcpusValid = Number.isInteger(np) && np >= 1 && np <= 32;
  const badVcpu = (x: number | undefined, path: (string | number)[]) => {
    if (vcpusValid && x !== undefined && x >= nv)
      ctx.addIssue({ code: 'custom', path, message: `unknown vCPU ${x} (machine has ${nv})` });
  };
  const badPcpu = (p: number | undefined, path: (string | number)[]) => {
    if (pcpusValid && p !== undefined && p >= np)
      ctx.addIssue({ code: 'custom', path, message: `unknown pCPU ${p} (machine has ${np})` });
  };
  const selfIpiNeedsX2apic = (path: (string | number)[]) => {
    if (!s.machine.x2apic)
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          'guest.selfIpi writes the x2APIC SELF IPI MSR, which needs "x2apic": true (in xAPIC mode use guest.icr with shorthand self)',
      });
  };
  s.machine.vcpus.forEach((c, i) => {
    badPcpu(c.pcpu >= 0 ? c.pcpu : undefined, ['machine', 'vcpus', i, 'pcpu']);
    if (c.running && c.pcpu < 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['machine', 'vcpus', i, 'running'],
        message: 'a running vCPU needs a pcpu',
      });
    }
  });
  const runningOn = new Map<number, number>();
  s.machine.vcpus.forEach((c, i) => {
    if (!c.running) return;
    if (runningOn.has(c.pcpu)) {
      ctx.addIssue({
        code: 'custom',
        path: ['machine', 'vcpus', i, 'pcpu'],
        message: `pCPU ${c.pcpu} already runs vCPU ${runningOn.get(c.pcpu)}`,
      });
    }
    runningOn.set(c.pcpu, i);
  });
  // APIC IDs are unique per processor (SDM Vol. 3A, APIC chapter, "Local APIC ID"), and everything that
  // routes by APIC ID assumes it: the ICR destination, IPIv's PID-pointer table and AVIC's physical
  // APIC ID table have one entry per ID. KVM does not take a duplicate on trust either: its optimized
  // APIC map is disabled for it (kvm_recalculate_apic_map), which irqlab does not model.
  const apicIdOwner = new Map<number, number>();
  s.machine.vcpus.forEach((c, i) => {
    const id = c.apicId ?? i;
    const other = apicIdOwner.get(id);
    if (other !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['machine', 'vcpus', i, 'apicId'],
        message: `APIC ID ${id} is vCPU ${other}'s too: each vCPU needs its own APIC ID`,
      });
    else apicIdOwner.set(id, i);
  });
  if (s.steps.length === 0 && !s.actors) {
    ctx.addIssue({
      code: 'custom',
      path: ['steps'],
      message: 'a scenario needs steps (for run) or actors (for check)',
    });
  }
  const names = new Set<string>();
  s.actors?.forEach((a, i) => {
    if (names.has(a.name))
      ctx.addIssue({ code: 'custom', path: ['actors', i, 'name'], message: `duplicate actor ${a.name}` });
    names.add(a.name);
    badVcpu(a.vcpu, ['actors', i, 'vcpu']);
    if (a.steps.length === 0 && a.vcpu === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['actors', i, 'steps'],
        message: 'an actor without a vcpu needs steps',
      });
    // The pCPU the actor's vCPU is loaded on as its steps go (a guest.hlt sleeps and wakes there).
    // (zod runs this refinement even when a.vcpu failed its own check: it may be any number.)
    const own = a.vcpu !== undefined ? s.machine.vcpus[a.vcpu] : undefined;
    let loadedOn = own?.pcpu ?? -1;
    a.steps.forEach((st, j) => {
      const path = ['actors', i, 'steps', j];
      if (
        (st.do.startsWith('kvm.') &&
          st.do !== 'kvm.deliver' &&
          st.do !== 'kvm.injectNmi' &&
          st.do !== 'kvm.inhibit' &&
          st.do !== 'kvm.startAssignment') ||
        st.do.startsWith('guest.') ||
        st.do === 'guestIoapic.write' ||
        st.do === 'guestIoapic.reg' ||
        st.do.startsWith('svm.')
      ) {
        if (a.vcpu === undefined)
          ctx.addIssue({ code: 'custom', path, message: `${st.do} needs the actor's vcpu` });
      }
      if ('vcpu' in st) badVcpu(st.vcpu, [...path, 'vcpu']);
      if ('pcpu' in st) badPcpu(st.pcpu, [...path, 'pcpu']);
      if (st.do === 'guest.apicWrite' && (!s.machine.apicRegisters || s.machine.features.avic))
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            'an actor\'s guest.apicWrite needs "apicRegisters": true in machine (and an Intel machine)',
        });
      if (st.do === 'guest.apicWrite' && st.hi !== undefined && st.reg !== 'APIC_BASE')
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'hi'],
          message: `hi is the upper half of IA32_APIC_BASE: ${st.reg} has none`,
        });
      if (st.do === 'kvm.load') loadedOn = st.pcpu;
      if (st.do === 'guest.hlt') {
        if (!st.exiting)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'exiting'],
            message:
              'an actor\'s guest.hlt has HLT exiting (KVM blocks the vCPU): "exiting": false is a step of "steps" (irqlab run)',
          });
        badPcpu(st.wakeOn, [...path, 'wakeOn']);
        if (loadedOn < 0 && st.wakeOn === undefined && a.vcpu !== undefined)
          ctx.addIssue({
            code: 'custom',
            path,
            message:
              'guest.hlt needs the vCPU loaded on a pCPU (machine.vcpus[].pcpu or a kvm.load before it) or a wakeOn pCPU',
          });
        loadedOn = st.wakeOn ?? loadedOn;
      }
      if (st.do === 'guest.selfIpi') selfIpiNeedsX2apic(path);
      if (st.do === 'guest.icr' && st.shorthand !== 'others' && st.dest === undefined)
        ctx.addIssue({ code: 'custom', path, message: 'an ICR write without shorthand needs dest' });
      if (st.do === 'guest.icr' && st.shorthand === 'others' && st.dest !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'dest'],
          message: 'dest is for shorthand none (others sends to every other vCPU)',
        });
      if (
        st.do === 'guest.icr' &&
        st.dest !== undefined &&
        vcpusValid &&
        !s.machine.vcpus.some((c, k) => (c.apicId ?? k) === st.dest)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'dest'],
          message: `no vCPU has APIC ID ${st.dest}`,
        });
      }
      if (
        st.do === 'device.postMsi' &&
        (st.vector < FIRST_EXTERNAL_VECTOR || st.vector >= FIRST_SYSTEM_VECTOR)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'vector'],
          message: `a posted MSI carries a device vector 0x${FIRST_EXTERNAL_VECTOR.toString(16)}-0x${(FIRST_SYSTEM_VECTOR - 1).toString(16)} (below the posted-MSI notification vector 0x${FIRST_SYSTEM_VECTOR.toString(16)})`,
        });
      }
      if (
        (st.do === 'avic.updateIrte' ||
          st.do === 'host.irqSetAffinity' ||
          st.do === 'vtd.irqSetVcpuAffinity') &&
        st.irte >= s.machine.irtes.length
      )
        ctx.addIssue({ code: 'custom', path: [...path, 'irte'], message: `unknown IRTE ${st.irte}` });
      if (st.do === 'device.post') {
        if (st.irte !== undefined && st.irte >= s.machine.irtes.length) {
          ctx.addIssue({ code: 'custom', path: [...path, 'irte'], message: `unknown IRTE ${st.irte}` });
        }
        if (st.irte === undefined && (st.vcpu === undefined || st.vector === undefined)) {
          ctx.addIssue({ code: 'custom', path, message: 'device.post needs irte, or vcpu and vector' });
        }
      }
    });
  });
  lockRules(s, ctx);
  s.machine.ioapic.forEach((p, i) => {
    badPcpu(p.dest, ['machine', 'ioapic', i, 'dest']);
  });
  s.steps.forEach((st, i) => {
    if (
      (st.do === 'ioapic.line' || st.do === 'ioapic.mask') &&
      !s.machine.ioapic.some((p) => p.pin === st.pin)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'pin'],
        message: `pin ${st.pin} is not programmed in machine.ioapic`,
      });
    }
  });
  s.machine.irtes.forEach((e, i) => {
    badVcpu(e.vcpu, ['machine', 'irtes', i, 'vcpu']);
  });
  s.steps.forEach((st, i) => {
    if ('vcpu' in st) badVcpu(st.vcpu, ['steps', i, 'vcpu']);
    if ('pcpu' in st) badPcpu(st.pcpu, ['steps', i, 'pcpu']);
    if (st.do === 'pid.set') badPcpu(st.ndst, ['steps', i, 'ndst']);
    if (st.do === 'guest.selfIpi') selfIpiNeedsX2apic(['steps', i]);
    if (st.do === 'device.post') {
      if (st.irte !== undefined) {
        if (st.irte >= s.machine.irtes.length) {
          ctx.addIssue({ code: 'custom', path: ['steps', i, 'irte'], message: `unknown IRTE ${st.irte}` });
        }
        if (st.vcpu !== undefined || st.vector !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i],
            message: 'give either irte or vcpu+vector, not both',
          });
        }
      } else if (st.vcpu === undefined || st.vector === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i],
          message: 'device.post needs irte, or vcpu and vector',
        });
      }
    }
    if (st.do === 'guest.icr' && st.shorthand === 'none' && st.dest === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'dest'],
        message: 'an ICR write without shorthand needs dest',
      });
    }
    if (
      st.do === 'guest.icr' &&
      st.vector === undefined &&
      (st.deliveryMode === 'fixed' || st.deliveryMode === 'lowest')
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'vector'],
        message: 'a fixed or lowest-priority IPI needs a vector',
      });
    }
  });
  s.steps.forEach((st, i) => {
    if (
      st.do === 'host.setLapic' &&
      (st.id !== undefined || st.apicBase !== undefined) &&
      !s.machine.apicRegisters
    )
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'host.setLapic with id or apicBase needs "apicRegisters": true in machine',
      });
    if (st.do === 'host.setLapic' && st.irqWindowExiting !== undefined && s.machine.features.avic)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'irqWindowExiting'],
        message: 'irqWindowExiting is a VMX control: it needs an Intel machine (features.avic false)',
      });
    if (st.do === 'guest.icrRaw' && (!s.machine.apicRegisters || s.machine.features.avic))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'guest.icrRaw needs "apicRegisters": true in machine (and an Intel machine)',
      });
    if (st.do === 'guest.apicWrite' && st.hi !== undefined && st.reg !== 'APIC_BASE')
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'hi'],
        message: `hi is the upper half of IA32_APIC_BASE: ${st.reg} has none`,
      });
    if (st.do === 'guest.apicRead' && ![0x20, 0x30, 0x80, 0xf0].includes(st.address & 0xfff))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'address'],
        message:
          'guest.apicRead reads the ID (020H), version (030H), TPR (080H) or SVR (0F0H) offset of a page',
      });
    if (st.do === 'guest.apicRead' && (!s.machine.apicRegisters || s.machine.features.avic))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'guest.apicRead needs "apicRegisters": true in machine (and an Intel machine)',
      });
    if (st.do === 'guest.mmio' && (!s.machine.apicRegisters || s.machine.features.avic))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'guest.mmio needs "apicRegisters": true in machine (and an Intel machine)',
      });
    if (
      st.do === 'guest.mmio' &&
      !(st.write === undefined ? xapicOffsetKept : xapicOffsetWritable)(st.offset)
    )
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'offset'],
        message:
          st.write === undefined
            ? 'guest.mmio reads ID, version, TPR, PPR, LDR, DFR, SVR, ISR, IRR or ICR (the registers the model keeps)'
            : 'guest.mmio writes TPR, EOI, ID, SVR, the ICR high word or a read-only register (the ICR low word is guest.icr)',
      });
    if (st.do === 'guest.msr' && (!s.machine.apicRegisters || s.machine.features.avic))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'guest.msr needs "apicRegisters": true in machine (and an Intel machine)',
      });
    if (st.do === 'guest.msr' && !guestMsrSupported(st.msr, st.write !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'msr'],
        message:
          st.write === undefined
            ? 'guest.msr reads ID, version, TPR, PPR, LDR, SVR, ISR, IRR, ICR, EOI or SELF IPI (the registers the model keeps)'
            : 'guest.msr writes TPR, EOI, SVR or a read-only register (ICR and SELF IPI writes are guest.icr and guest.selfIpi)',
      });
    if (st.do === 'guest.apicWrite' && !s.machine.apicRegisters)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: 'guest.apicWrite needs "apicRegisters": true in machine',
      });
    if ((st.do === 'guest.timer' || st.do === 'time.advance') && !s.machine.lapicTimer)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: `${st.do} needs "lapicTimer": true in machine`,
      });
    if (st.do === 'guest.timer' && st.divide !== undefined && (st.divide & (st.divide - 1)) !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'divide'],
        message: 'divide must be 1, 2, 4, 8, 16, 32, 64 or 128',
      });
  });
  s.actors?.forEach((a, i) => {
    a.steps.forEach((st, j) => {
      if ((st.do === 'timer.expire' || st.do === 'guest.timerRearm') && !s.machine.lapicTimer)
        ctx.addIssue({
          code: 'custom',
          path: ['actors', i, 'steps', j],
          message: `${st.do} needs "lapicTimer": true in machine`,
        });
    });
  });
  s.machine.ioapic.forEach((p, i) => {
    // 82093AA datasheet, "I/O Redirection Table Registers": NMI is edge-triggered whatever the
    // trigger-mode bit says, and the entry must be programmed edge-triggered.
    if (p.deliveryMode === 'nmi' && p.trigger === 'level')
      ctx.addIssue({
        code: 'custom',
        path: ['machine', 'ioapic', i, 'trigger'],
        message: 'an I/O APIC entry with delivery mode nmi must be edge-triggered',
      });
  });
  if (s.machine.guestIoapic.length > 0 && (!s.machine.features.apicv || s.machine.features.avic))
    ctx.addIssue({
      code: 'custom',
      path: ['machine', 'guestIoapic'],
      message: 'machine.guestIoapic is modelled with Intel APICv: it needs features.apicv',
    });
  const gioPins = new Set<number>();
  s.machine.guestIoapic.forEach((p, i) => {
    if (gioPins.has(p.pin))
      ctx.addIssue({
        code: 'custom',
        path: ['machine', 'guestIoapic', i, 'pin'],
        message: `pin ${p.pin} is listed twice`,
      });
    gioPins.add(p.pin);
  });
  s.actors?.forEach((a, i) => {
    a.steps.forEach((st, j) => {
      if (st.do.startsWith('guestIoapic.') && 'pin' in st && !gioPins.has(st.pin))
        ctx.addIssue({
          code: 'custom',
          path: ['actors', i, 'steps', j, 'pin'],
          message: `pin ${st.pin} is not programmed in machine.guestIoapic`,
        });
      if (st.do === 'guestIoapic.reg' && s.machine.guestIoapic.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['actors', i, 'steps', j],
          message: "guestIoapic.reg needs KVM's emulated I/O APIC: program a pin in machine.guestIoapic",
        });
    });
  });
  s.steps.forEach((st, i) => {
    if (st.do.startsWith('guestIoapic.') && 'pin' in st && !gioPins.has(st.pin))
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'pin'],
        message: `pin ${st.pin} is not programmed in machine.guestIoapic`,
      });
    if (st.do === 'guestIoapic.reg' && s.machine.guestIoapic.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i],
        message: "guestIoapic.reg needs KVM's emulated I/O APIC: program a pin in machine.guestIoapic",
      });
  });
  s.checkpoints?.forEach((cp, i) => {
    if (cp.after >= s.steps.length)
      ctx.addIssue({
        code: 'custom',
        path: ['checkpoints', i, 'after'],
        message: `steps has no index ${cp.after} (it has ${s.steps.length} steps)`,
      });
    for (const [k, path] of [
      [cp.expect.delivered, 'delivered'],
      [cp.expect.exits, 'exits'],
    ] as const)
      for (const key of Object.keys(k ?? {})) badVcpu(Number(key), ['checkpoints', i, 'expect', path, key]);
  });
  featureRules(s, ctx);
  for (const [k, path] of [
    [s.expect.delivered, 'delivered'],
    [s.expect.exits, 'exits'],
  ] as const) {
    for (const key of Object.keys(k ?? {})) badVcpu(Number(key), ['expect', path, key]);
  }
  for (const key of Object.keys(s.expect.hostIrqs ?? {})) badPcpu(Number(key), ['expect', 'hostIrqs', key]);
});

type Ctx = z.core.$RefinementCtx<z.output<typeof scenarioObject>>;

/**
 * Lock steps (locks.ts): at most MAX_LOCKS names in a scenario, and an actor unlocks only a lock
 * it took before and has not released (its steps run in order), and never takes a lock it holds.
 */
function lockRules(s: z.output<typeof scenarioObject>, ctx: Ctx): void {
  const names = new Set<string>();
  s.actors?.forEach((a, i) => {
    const held = new Set<string>();
    a.steps.forEach((st, j) => {
      const path = ['actors', i, 'steps', j, 'lock'];
      if (st.do === 'lock') {
        names.add(st.lock);
        if (names.size > MAX_LOCKS)
          ctx.addIssue({ code: 'custom', path, message: `more than ${MAX_LOCKS} locks in one scenario` });
        if (held.has(st.lock))
          ctx.addIssue({ code: 'custom', path, message: `${a.name} already holds ${st.lock}` });
        held.add(st.lock);
      }
      if (st.do === 'unlock') {
        if (!held.has(st.lock))
          ctx.addIssue({ code: 'custom', path, message: `${a.name} does not hold ${st.lock} here` });
        held.delete(st.lock);
      }
    });
  });
}

/**
 * The rules that `machine.features` imposes: what a machine without VT-d posting cannot do, which
 * features AVIC excludes, and what an AVIC machine has instead of the Intel structures.
 */
function featureRules(s: z.output<typeof scenarioObject>, ctx: Ctx): void {
  const f = s.machine.features;
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  if (!f.vtdPosting) {
    const noPosting = 'machine has no VT-d posting: device.post needs features.vtdPosting';
    if (s.machine.irtes.length > 0)
      issue(['machine', 'irtes'], 'machine has no VT-d posting: machine.irtes needs features.vtdPosting');
    s.steps.forEach((st, i) => {
      if (st.do === 'device.post') issue(['steps', i], noPosting);
    });
    s.actors?.forEach((a, i) => {
      a.steps.forEach((st, j) => {
        if (st.do === 'vtd.irqSetVcpuAffinity' || st.do === 'host.irqSetAffinity')
          issue(['actors', i, 'steps', j], `machine has no VT-d posting: ${st.do} needs features.vtdPosting`);
        if (st.do === 'kvm.startAssignment')
          issue(
            ['actors', i, 'steps', j],
            'machine has no VT-d posting: kvm.startAssignment needs features.vtdPosting',
          );
        if (st.do === 'device.post') issue(['actors', i, 'steps', j], noPosting);
        if (st.do === 'device.postMsi')
          issue(
            ['actors', i, 'steps', j],
            'machine has no VT-d posting: device.postMsi needs features.vtdPosting',
          );
      });
    });
  }
  // The xAPIC ICR destination field is 8 bits (ICR bits 63:56; SDM Vol. 3A "Interrupt Command
  // Register") on every machine, Intel as AMD.
  s.steps.forEach((st, i) => {
    if (st.do === 'guest.icr' && !s.machine.x2apic && st.dest !== undefined && st.dest > 0xff)
      issue(['steps', i, 'dest'], 'in xAPIC mode the ICR destination is 8 bits (0-0xff)');
  });
  const avicExit = (reason: string) => reason.startsWith('AVIC_');
  if (!f.avic) {
    s.steps.forEach((st, i) => {
      if (st.do.startsWith('avic.')) issue(['steps', i], `${st.do} needs features.avic`);
      if (st.do === 'vm.exit' && avicExit(st.reason))
        issue(['steps', i, 'reason'], `${st.reason} is an AVIC exit: it needs features.avic`);
    });
    if (s.machine.apicvInhibits.length > 0)
      issue(
        ['machine', 'apicvInhibits'],
        'machine.apicvInhibits needs features.avic (irqlab models inhibits on AVIC machines)',
      );
    s.actors?.forEach((a, i) => {
      a.steps.forEach((st, j) => {
        if (st.do === 'kvm.exit' && avicExit(st.reason))
          issue(['actors', i, 'steps', j, 'reason'], `${st.reason} is an AVIC exit: it needs features.avic`);
        if (
          st.do === 'kvm.inhibit' ||
          st.do.startsWith('svm.') ||
          st.do === 'avic.updateIrte' ||
          st.do === 'kvm.createVcpu'
        )
          issue(['actors', i, 'steps', j], `${st.do} needs features.avic`);
      });
    });
    return;
  }
  if (f.apicv)
    issue(['machine', 'features', 'avic'], 'features.avic replaces Intel APICv: set "apicv": false');
  if (f.ipiv)
    issue(
      ['machine', 'features', 'ipiv'],
      'features.ipiv is Intel IPI virtualization: it cannot be combined with features.avic, which virtualizes IPIs itself',
    );
  s.actors?.forEach((a, i) => {
    a.steps.forEach((st, j) => {
      if (st.do === 'device.post' && st.irte === undefined)
        issue(
          ['actors', i, 'steps', j],
          'with features.avic, device.post needs irte (a GA-mode IRTE of machine.irtes)',
        );
      if (st.do === 'vtd.irqSetVcpuAffinity')
        issue(
          ['actors', i, 'steps', j],
          'vtd.irqSetVcpuAffinity is VT-d: not with features.avic (use avic.updateIrte)',
        );
      if (st.do === 'kvm.startAssignment')
        issue(
          ['actors', i, 'steps', j],
          'kvm.startAssignment is modelled on Intel (vmx_pi_start_assignment): not with features.avic',
        );
    });
  });
  const size = avicTableSize(s.machine.x2apic);
  s.machine.vcpus.forEach((c, i) => {
    const id = c.apicId ?? i;
    // A duplicate ID is refused on every machine (above).
    if (id >= size) {
      issue(
        ['machine', 'vcpus', i, 'apicId'],
        `APIC ID ${id} is outside AVIC's physical APIC ID table (0-0x${(size - 1).toString(16)} in ${s.machine.x2apic ? 'x2APIC' : 'xAPIC'} mode)`,
      );
    }
    if (c.eoiExit.length > 0)
      issue(
        ['machine', 'vcpus', i, 'eoiExit'],
        'AVIC has no EOI-exit bitmap: a level-triggered vector exits at its EOI (use avic.deliver with trigger level)',
      );
    if (c.notificationVector !== 0xf2)
      issue(
        ['machine', 'vcpus', i, 'notificationVector'],
        'AVIC has no posted-interrupt notification vector: remove notificationVector',
      );
    if (c.pid.on || c.pid.sn || c.pid.pir.length > 0 || c.pid.nv !== 0xf2)
      issue(['machine', 'vcpus', i, 'pid'], 'AVIC has no posted-interrupt descriptor: remove pid');
  });
  s.machine.irtes.forEach((e, i) => {
    if (e.urg) issue(['machine', 'irtes', i, 'urg'], 'GA-mode IRTEs have no URG bit (urg is VT-d posting)');
  });
  if (s.machine.lapicTimer)
    issue(['machine', 'lapicTimer'], 'the LAPIC timer is modelled on Intel APICv: not with features.avic');
  s.steps.forEach((st, i) => {
    if (st.do === 'host.setLapic')
      issue(['steps', i], 'host.setLapic writes the Intel virtual-APIC page: not with features.avic');
    if (st.do === 'pid.set')
      issue(['steps', i], 'AVIC has no posted-interrupt descriptor: pid.set needs features.avic false');
    if (st.do === 'device.post' && st.irte === undefined)
      issue(['steps', i], 'with features.avic, device.post needs irte (a GA-mode IRTE of machine.irtes)');
    if (st.do === 'guest.icr' && st.destMode === 'logical')
      issue(
        ['steps', i, 'destMode'],
        'guest.icr with destMode logical is not modelled with features.avic (no logical APIC ID table): use physical',
      );
    if (st.do === 'avic.deliver' && st.vector < 16)
      issue(
        ['steps', i, 'vector'],
        'vectors 0-15 cannot be delivered: avic.deliver needs a vector of 16-255',
      );
  });
}

export type ScenarioInput = z.input<typeof scenario>;
export type Scenario = z.output<typeof scenario>;
export type Step = z.output<typeof step>;
export type ActorStep = z.output<typeof actorStep>;
export type Property = PropertyName;
