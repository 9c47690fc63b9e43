/**
 * AMD AVIC inside a machine (`features.avic`): the steps of hw/avic.ts wired to the World's pCPUs
 * and vCPUs, as ioapic-steps.ts wires the I/O APIC. The unit keeps each vCPU's backing page (slot =
 * vCPU index), the physical APIC ID table (indexed by guest APIC ID), the GA-mode IRTEs of
 * machine.irtes and the IOMMU's GA log in the World's 'avic' region (layout.ts AvicRegion); this
 * file decides who runs where, which pCPU a doorbell reaches, and what KVM does around it.
 *
 * Sources: AMD64 APM Vol. 2 15.29 (AVIC) and the AMD IOMMU specification's guest virtual APIC
 * mode, as summarised in hw-semantics.md section 5 and rows 17-20 of 7.2; KVM arch/x86/kvm/svm/
 * avic.c as summarised in kvm-semantics.md section 7. The comments below say in our own words what
 * each function takes from them.
 *
 * Steps do not allocate: destinations and results go through module-level buffers.
 */
import {
  AVIC_BACKING,
  AVIC_EXIT,
  AVIC_ICR_OUT,
  AVIC_IPI_FAILURE,
  AVIC_NOACCEL_EOI_OFFSET,
  avicDeliver,
  avicDoorbell,
  avicEoi,
  avicIcrOutSize,
  avicIcrWrite,
  avicPhysBackingPage,
  avicPhysIsRunning,
  avicPhysValid,
  avicTprWrite,
  GA_LOG,
  GA_LOG_STATUS,
  GA_POST,
  gaIrteDestination,
  gaIrteRootPtr,
  gaIrteVector,
  gaLogClearInt,
  gaLogCount,
  gaLogPop,
  gaLogRestart,
  iommuGaPost,
} from '../hw/avic.ts';
import { regEmpty, regHighest, regSet } from '../hw/bits.ts';
import { EV, EXIT_REASON, type Sink } from './events.ts';
import { guestHandlerRuns, guestInterruptible, type IcrWrite, vmExit } from './hardware.ts';
import {
  type AvicRegion,
  avicIrteOffset,
  avicPageOffset,
  VCPU,
  VCPU_F_AUTO_EOI,
  VCPU_F_HALTED,
} from './layout.ts';
import { pcpuByApicId, runningVcpu, vcpuRunningOn, type World } from './world.ts';

/** Names of the AVIC_INCOMPLETE_IPI causes (EXITINFO2[63:32]), for traces. */
export const AVIC_IPI_FAILURE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(AVIC_IPI_FAILURE).map(([k, v]) => [v, k]),
);

/** Names of the outcomes of a GA-mode posting, for traces. */
export const GA_POST_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(GA_POST).map(([k, v]) => [v, k]),
);

/** GATag bits that hold the vCPU index (KVM: the table's max-index mask, 0x1FF for x2AVIC). */
const GATAG_VCPU_MASK = 0x1ff;

/** The scenario format allows at most 32 vCPUs, so an IPI has at most 32 destinations. */
const MAX_TARGETS = 32;
const targets = new Uint32Array(MAX_TARGETS);
const icrOut = new Uint32Array(avicIcrOutSize(MAX_TARGETS));
const popped = new Uint32Array(2);

/** The machine's AVIC region (layout.ts), or a fault when it has no AVIC. */
export function avicRegion(w: World): AvicRegion {
  const a = w.L.avic;
  if (a === undefined) throw new Error('this machine has no AVIC (features.avic is false)');
  return a;
}

function page(w: World, x: number): number {
  return avicPageOffset(avicRegion(w), x);
}

function guestIf(w: World, x: number): boolean {
  return guestInterruptible(w, x);
}

/** Instrumentation for the no-lost-interrupt view: vector v reached vCPU x's backing page. */
function markPosted(w: World, x: number, v: number): void {
  regSet(w.m, w.L.vcpu[x] + VCPU.POSTED, v);
}

// ---------------------------------------------------------------------------------------------
// Doorbell and delivery
// ---------------------------------------------------------------------------------------------

/**
 * A doorbell (the write of a host APIC ID to MSR C001_011Bh, by a sending CPU, the IOMMU or KVM's
 * avic_ring_doorbell) reaches a pCPU. If that pCPU runs a vCPU in guest mode, the core re-evaluates
 * that vCPU's backing page (avicDoorbell): the vCPU running there, which need not be `forVcpu`
 * when the table or the IRTE names a stale pCPU. A pCPU in root mode takes no architectural action;
 * the vector waits for the next VMRUN of its vCPU. Either way the trace records the doorbell.
 */
export function avicRingDoorbell(w: World, sink: Sink, hostApicId: number, forVcpu: number): void {
  const p = pcpuByApicId(w, hostApicId);
  if (p < 0) {
    sink.ev(EV.AVIC_DOORBELL, -1, -1, -1, forVcpu);
    return;
  }
  const x = runningVcpu(w, p);
  if (x < 0) {
    sink.ev(EV.AVIC_DOORBELL, p, -1, -1, forVcpu);
    return;
  }
  sink.ev(EV.AVIC_DOORBELL, p, x, avicDoorbell(w.m, page(w, x)), forVcpu);
}

/** vCPU x runs in guest mode, has IF = 1, and its core recognized a vector of its backing page. */
export function avicDeliverEnabled(w: World, x: number): boolean {
  return vcpuRunningOn(w, x) >= 0 && guestIf(w, x) && w.m[page(w, x) + AVIC_BACKING.PEND] !== 0;
}

/**
 * Guest-side delivery from the backing page (APM 15.29; avicDeliver): the recognized vector moves
 * from IRR to ISR, the guest handler runs and HLT ends; the core then evaluates again. If the
 * recognized vector is no longer deliverable the core only re-evaluates, and nothing runs.
 */
export function avicDeliverStep(w: World, sink: Sink, x: number): void {
  const v = avicDeliver(w.m, page(w, x), guestIf(w, x));
  if (v >= 0) guestHandlerRuns(w, sink, x, v, 1);
}

/** A guest whose handlers EOI at once runs with a vector in service in its backing page. */
export function avicAutoEoiEnabled(w: World, x: number): boolean {
  return (
    (w.m[w.L.vcpu[x] + VCPU.FLAGS] & VCPU_F_AUTO_EOI) !== 0 &&
    vcpuRunningOn(w, x) >= 0 &&
    !regEmpty(w.m, page(w, x) + AVIC_BACKING.ISR)
  );
}

// ---------------------------------------------------------------------------------------------
// Guest APIC writes
// ---------------------------------------------------------------------------------------------

/**
 * The guest writes EOI. For an edge vector AVIC accelerates it (avicEoi: ISR bit cleared, page
 * re-evaluated). For a level vector (TMR set) the hardware leaves the page alone and takes a
 * trap-like AVIC_NOACCEL exit at offset 0B0H; KVM would then emulate the EOI
 * (avic_unaccel_trap_write) and tell the I/O APIC, which the model, stopping at the exit as it does
 * for every exit, leaves out.
 */
export function avicGuestEoi(w: World, sink: Sink, x: number): void {
  const bp = page(w, x);
  const v = regHighest(w.m, bp + AVIC_BACKING.ISR);
  if (avicEoi(w.m, bp) === AVIC_EXIT.NOACCEL) {
    vmExit(w, sink, x, EXIT_REASON.AVIC_NOACCEL, AVIC_NOACCEL_EOI_OFFSET);
    return;
  }
  sink.ev(EV.EOI, x, Math.max(v, 0), 0, 0);
}

/** The guest writes its TPR: accelerated, and the page is re-evaluated (avicTprWrite). No exit. */
export function avicGuestTpr(w: World, _sink: Sink, x: number, tpr: number): void {
  avicTprWrite(w.m, page(w, x), tpr);
}

/**
 * The guest writes the x2APIC SELF IPI register: the model treats it as an ICR write with
 * shorthand self, fixed and edge, which AVIC completes in the sender's own page.
 */
export function avicGuestSelfIpi(w: World, sink: Sink, x: number, vector: number): void {
  selfIcr.vector = vector;
  avicGuestIcr(w, sink, x, selfIcr);
}

/** The ICR write a SELF IPI stands for (reused: steps do not allocate). */
const selfIcr: IcrWrite = {
  vector: 0,
  deliveryMode: 0,
  logical: false,
  levelTriggered: false,
  shorthand: 1,
  dest: 0,
};

export function vcpuApicId(w: World, x: number): number {
  return w.machine.vcpus[x].apicId;
}

/**
 * The guest writes the ICR, and AVIC sends the IPI from the sending CPU (APM 15.29; hw-semantics.md
 * 5.2; avicIcrWrite). Destinations are resolved here into table indices (guest APIC IDs):
 *   - shorthand self: the sender's own page, no table lookup;
 *   - shorthand all / others: every vCPU's APIC ID (with or without the sender's), as a broadcast,
 *     which skips invalid entries;
 *   - physical, the broadcast ID (0xFF in xAPIC, 0xFFFFFFFF in x2APIC mode): every vCPU, broadcast;
 *   - physical, any other ID inside the table: that entry, which is invalid unless a vCPU has that
 *     APIC ID. An ID beyond the table's last index cannot name an entry: the model takes it as an
 *     invalid target too (AVIC_INCOMPLETE_IPI, INVALID_TARGET).
 * Logical destinations are refused by the loader (the logical APIC ID table is not modelled).
 * Then, in target order, each doorbell the hardware rang reaches its pCPU (avicRingDoorbell), and
 * an incomplete IPI ends in the sender's trap-like AVIC_INCOMPLETE_IPI exit, with the cause as its
 * qualification. The model stops at the exit: KVM's handling (avic_incomplete_ipi_interception,
 * which kicks a not-running target or emulates the IPI) is up to the scenario's next steps.
 */
export function avicGuestIcr(w: World, sink: Sink, x: number, icr: IcrWrite): void {
  if (icr.logical) throw new Error('AVIC: logical ICR destinations are not modelled');
  const a = avicRegion(w);
  const m = w.m;
  const x2apic = w.machine.x2apic;
  const lo =
    ((icr.vector & 0xff) |
      ((icr.deliveryMode & 7) << 8) |
      (icr.levelTriggered ? 1 << 15 : 0) |
      ((icr.shorthand & 3) << 18)) >>>
    0;
  const dest = icr.dest >>> 0;
  const hi = x2apic ? dest : ((dest & 0xff) << 24) >>> 0;
  let n = 0;
  let broadcast = false;
  let outOfTable = false;
  const nv = w.machine.vcpus.length;
  if (icr.shorthand === 2 || icr.shorthand === 3) {
    for (let k = 0; k < nv; k++) if (icr.shorthand === 2 || k !== x) targets[n++] = vcpuApicId(w, k);
  } else if (icr.shorthand === 0) {
    if (dest === (x2apic ? 0xffffffff : 0xff)) {
      broadcast = true;
      for (let k = 0; k < nv; k++) targets[n++] = vcpuApicId(w, k);
    } else if (dest < a.tableSize) {
      targets[n++] = dest;
    } else {
      outOfTable = true;
    }
  }
  let exit = avicIcrWrite(m, a.table, a.pages, page(w, x), lo, hi, targets, n, broadcast, icrOut);
  if (outOfTable && exit === AVIC_EXIT.NONE) {
    exit = AVIC_EXIT.INCOMPLETE_IPI;
    icrOut[AVIC_ICR_OUT.EXIT] = exit;
    icrOut[AVIC_ICR_OUT.CAUSE] = AVIC_IPI_FAILURE.INVALID_TARGET;
    icrOut[AVIC_ICR_OUT.INDEX] = dest;
  }
  const v = icr.vector & 0xff;
  if (icrOut[AVIC_ICR_OUT.SELF] === 1) {
    markPosted(w, x, v);
    sink.ev(EV.SELF_IPI, x, v, 0, 0);
  } else if (icrOut[AVIC_ICR_OUT.IRR_SET] > 0) {
    for (let i = 0; i < n; i++)
      if (avicPhysValid(m, a.table, targets[i]))
        markPosted(w, avicPhysBackingPage(m, a.table, targets[i]), v);
  }
  // The doorbells were rung in target order, one per valid target whose IsRunning was 1.
  const rung = icrOut[AVIC_ICR_OUT.DOORBELLS];
  for (let i = 0, k = 0; i < n && k < rung; i++) {
    const id = targets[i];
    if (!avicPhysValid(m, a.table, id) || !avicPhysIsRunning(m, a.table, id)) continue;
    avicRingDoorbell(w, sink, icrOut[AVIC_ICR_OUT.DOORBELL0 + k], avicPhysBackingPage(m, a.table, id));
    k++;
  }
  if (exit === AVIC_EXIT.INCOMPLETE_IPI)
    vmExit(w, sink, x, EXIT_REASON.AVIC_INCOMPLETE_IPI, icrOut[AVIC_ICR_OUT.CAUSE]);
}

// ---------------------------------------------------------------------------------------------
// Device interrupts through the IOMMU's GA mode, and the GA log
// ---------------------------------------------------------------------------------------------

/**
 * The AMD IOMMU posts a device interrupt through GA-mode IRTE i (iommuGaPost): IRR[vector] in the
 * page at the GA root pointer, then a doorbell to Destination when IsRun = 1, a GA-log entry when
 * GALogIntr = 1, or nothing at all. The IRTE index serves as the device ID of a log entry.
 */
export function avicDevicePost(w: World, sink: Sink, i: number): void {
  const a = avicRegion(w);
  const o = avicIrteOffset(a, i);
  const x = gaIrteRootPtr(w.m, o);
  const v = gaIrteVector(w.m, o);
  const r = iommuGaPost(w.m, o, a.pages, a.log, i);
  if (r !== GA_POST.NOT_GA) markPosted(w, x, v);
  sink.ev(EV.GA_POST, x, v, r, i);
  if (r === GA_POST.DOORBELL) avicRingDoorbell(w, sink, gaIrteDestination(w.m, o), x);
}

/** The IOMMU has raised its GA-log interrupt, or left entries or an overflow to handle. */
export function gaLogInterruptPending(w: World): boolean {
  const a = w.L.avic;
  if (a === undefined) return false;
  const status = w.m[a.log + GA_LOG.STATUS];
  return (status & (GA_LOG_STATUS.INT | GA_LOG_STATUS.OVERFLOW)) !== 0 || gaLogCount(w.m, a.log) > 0;
}

/**
 * The host's handler of the IOMMU interrupt (Linux amd_iommu_int_thread): it acknowledges GAInt,
 * consumes every entry (iommu_poll_ga_log), and for each hands the GATag to KVM
 * (avic_ga_log_notifier), which finds the vCPU and calls kvm_vcpu_wake_up: the model clears the
 * vCPU's halted flag. Getting the woken vCPU back into the guest (avic.load, vm.entry) is up to the
 * scenario. After an overflow it restarts logging (amd_iommu_restart_ga_log). The interrupt is
 * modelled as this one host reaction, not as a vector on some pCPU. With `wake` (the checker,
 * whose KVM threads block in kvm_vcpu_block) the notifier calls it instead of clearing the flag;
 * the event then says whether a sleeping thread was woken.
 */
export function gaLogInterrupt(
  w: World,
  sink: Sink,
  wake?: (w: World, sink: Sink, x: number) => boolean,
): void {
  const a = avicRegion(w);
  const m = w.m;
  gaLogClearInt(m, a.log);
  const nv = w.machine.vcpus.length;
  while (gaLogPop(m, a.log, popped, 0)) {
    const tag = popped[0];
    const x = tag & GATAG_VCPU_MASK;
    if (x >= nv) {
      sink.ev(EV.GA_LOG, -1, tag, popped[1], 0);
      continue;
    }
    if (wake !== undefined) {
      // The checker's KVM: kvm_vcpu_wake_up on the vCPU's thread (src/model/kvm/state.ts).
      sink.ev(EV.GA_LOG, x, tag, popped[1], wake(w, sink, x) ? 1 : 0);
      continue;
    }
    const flags = w.L.vcpu[x] + VCPU.FLAGS;
    const halted = (m[flags] & VCPU_F_HALTED) !== 0 ? 1 : 0;
    m[flags] &= ~VCPU_F_HALTED;
    sink.ev(EV.GA_LOG, x, tag, popped[1], halted);
  }
  if ((m[a.log + GA_LOG.STATUS] & GA_LOG_STATUS.OVERFLOW) !== 0) gaLogRestart(m, a.log);
}
