/**
 * KVM's emulated I/O APIC, whose messages go to vCPUs (arch/x86/kvm/ioapic.c; machine.guestIoapic).
 * The redirection table and Remote IRR are hw/ioapic.ts, in a block of its own (`guestIoapic`), so
 * the host-side I/O APIC of machine.ioapic stays as it was. KVM's part:
 *
 * - routing (ioapic_service -> kvm_irq_delivery_to_apic): the 8-bit destination, physical or
 *   logical, is matched against every vCPU as KVM does (icr.ts kvmApicMatchDest, with each vCPU's
 *   LDR and DFR), lowest priority by vector hashing; each target accepts the message
 *   (__apic_accept_irq): a level message sets the vector's TMR bit, an edge one clears it, then the
 *   vector is posted (vmx_deliver_posted_interrupt); delivery mode NMI queues an NMI;
 * - the EOI-exit bitmap (kvm_ioapic_scan_entry, vcpu_load_eoi_exitmap): with APICv, the vectors of
 *   level-triggered entries routed to a vCPU are set in its bitmap, so that their EOI is an
 *   EOI-induced exit and only theirs; KVM rescans after every redirection-entry write
 *   (KVM_REQ_SCAN_IOAPIC), which the model applies at once;
 * - the EOI-induced exit (handle_apic_eoi_induced -> kvm_apic_set_eoi_accelerated ->
 *   kvm_ioapic_send_eoi -> kvm_ioapic_update_eoi): Remote IRR of the level entries with that vector
 *   is cleared, a line still asserted sends again, and the vCPU re-enters the guest.
 *
 * A script step does each of these whole: nothing else runs between a script's steps. Under
 * `irqlab check` (decision 0240) each is one step too where the kernel holds ioapic->lock
 * (kvm_ioapic_set_irq, ioapic_write_indirect via ioapic_mmio_write, kvm_ioapic_update_eoi), so
 * the device's line, another vCPU's rewrite and the EOI broadcast interleave only between them;
 * the delivery to a vCPU under the lock (vmx_deliver_posted_interrupt) is folded into that step.
 * A vCPU with a thread of its own (World.vcpuThreads) stops at its EOI-induced exit: the vector
 * waits in the `kvm.ioapicEoi` block until the thread's exit handler runs handle_apic_eoi_induced
 * (guestIoapicEoiHandler), and the thread re-enters through vcpu_enter_guest itself.
 */
import { regClear, regSet, regTest } from '../hw/bits.ts';
import {
  DELIVERY_MODE,
  DEST_MODE,
  type DeliveryMode,
  DFR_CLUSTER,
  DFR_FLAT,
  kvmIpiDestinations,
  type LapicInfo,
  SHORTHAND,
} from '../hw/icr.ts';
import {
  decodeIoapicMsg,
  encodeRedirEntry,
  IOAPIC,
  IOAPIC_NO_MSG,
  IOAPIC_PINS,
  ioapicEoi,
  ioapicReadEntry,
  ioapicReadReg,
  ioapicSetLine,
  ioapicSetMasked,
  ioapicWriteRedir,
  ioapicWriteReg,
  type RedirEntryFields,
} from '../hw/ioapic.ts';
import { PID } from '../hw/pid.ts';
import { VAPIC } from '../hw/vapic.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { vcpuNmiArrives, vmEntry, vmExit } from '../platform/hardware.ts';
import type { ExtraBlock } from '../platform/layout.ts';
import type { Machine } from '../platform/machine.ts';
import { vcpuHasThread, vcpuRunningOn, type World } from '../platform/world.ts';
import { deliverPostedInterruptNow } from './deliver.ts';
import { guestApicAccepts } from './guest-apic.ts';
import { NEXT, type ProgramBuilder } from './program.ts';

export const GUEST_IOAPIC_BLOCK = 'guestIoapic';
/**
 * Per vCPU with a thread: the vector of an EOI-induced exit KVM has not handled yet, plus 1 (the
 * exit qualification handle_apic_eoi_induced reads), or 0.
 */
export const IOAPIC_EOI_BLOCK = 'kvm.ioapicEoi';

/** The `kvm.ioapicEoi` block, for machines with a guest I/O APIC and vCPU threads. */
export function ioapicEoiExtra(vcpus: number): ExtraBlock {
  return {
    name: IOAPIC_EOI_BLOCK,
    size: vcpus,
    fields: Array.from({ length: vcpus }, (_, x) => ({
      name: `vcpu${x}.eoiInducedPending`,
      offset: x,
      kind: 'u32' as const,
    })),
  };
}

function base(w: World): number {
  const o = w.L.extra.get(GUEST_IOAPIC_BLOCK);
  if (o === undefined) throw new Error('this machine has no guest I/O APIC (machine.guestIoapic is empty)');
  return o;
}

function apics(machine: Machine): LapicInfo[] {
  const mode = machine.x2apic ? 'x2apic' : 'xapic';
  return machine.vcpus.map((c) => ({
    apicId: c.apicId,
    mode,
    ldr: c.ldr ?? 0,
    dfr: c.dfr === 'cluster' ? DFR_CLUSTER : DFR_FLAT,
  }));
}

/** The vCPUs a message with these fields reaches (an I/O APIC destination is 8 bits). */
function targets(
  machine: Machine,
  deliveryMode: number,
  logical: boolean,
  dest: number,
  vector: number,
): number[] {
  return kvmIpiDestinations(
    {
      deliveryMode: deliveryMode as DeliveryMode,
      vector,
      destMode: logical ? DEST_MODE.LOGICAL : DEST_MODE.PHYSICAL,
      shorthand: SHORTHAND.NONE,
      dest,
    },
    'xapic',
    -1,
    apics(machine),
    machine.vcpus.map(() => true),
    { vectorHashing: true },
  );
}

/** Delivers one packed I/O APIC message to the vCPUs it reaches. */
function route(w: World, sink: Sink, msg: number): void {
  if (msg === IOAPIC_NO_MSG) return;
  const d = decodeIoapicMsg(msg);
  for (const x of targets(w.machine, d.deliveryMode, d.destMode === 1, d.dest, d.vector)) {
    if (d.deliveryMode === DELIVERY_MODE.NMI) {
      if (guestApicAccepts(w, x, DELIVERY_MODE.NMI)) vcpuNmiArrives(w, x);
      continue;
    }
    const tmr = w.L.vapic[x] + VAPIC.VTMR;
    if (d.triggerMode === 1) regSet(w.m, tmr, d.vector);
    else regClear(w.m, tmr, d.vector);
    deliverPostedInterruptNow(w, sink, x, d.vector);
  }
}

/**
 * kvm_ioapic_scan_entry for every vCPU: the EOI-exit bitmap holds exactly the vectors of the
 * level-triggered entries whose destination includes the vCPU (the machine's own `eoiExit`
 * vectors stay set: they stand for KVM's other users of the bitmap).
 */
export function guestIoapicScan(w: World): void {
  const o = base(w);
  const level = new Set<number>();
  for (const c of w.machine.guestIoapic ?? []) level.add(c.pin);
  w.machine.vcpus.forEach((c, x) => {
    const bm = w.L.vapic[x] + VAPIC.EOI_EXIT;
    w.m.fill(0, bm, bm + 8);
    for (const v of c.eoiExit) regSet(w.m, bm, v);
  });
  for (let pin = 0; pin < IOAPIC_PINS; pin++) {
    if (!level.has(pin)) continue;
    const e = ioapicReadEntry(w.m, o, pin);
    if (e.triggerMode !== 1) continue;
    for (const x of targets(w.machine, e.deliveryMode, e.destMode === 1, e.dest, e.vector))
      regSet(w.m, w.L.vapic[x] + VAPIC.EOI_EXIT, e.vector);
    // kvm_apic_pending_eoi: a vCPU that still has the vector pending or in service keeps it in its
    // bitmap even when the entry no longer targets it, so that its EOI still reaches the I/O APIC
    // and clears Remote IRR (KVM's fix for an entry reconfigured before the EOI; kvm-unit-tests
    // ioapic.c test_ioapic_self_reconfigure). vcpu_scan_ioapic syncs PIR into vIRR first
    // (sync_pir_to_irr while APICv is active), so a vector still in PIR counts as pending too:
    // without that, a rewrite between the posting and its harvest drops the bit, the EOI does not
    // exit and Remote IRR stays set (found by irqlab check on guest-ioapic-level-eoi-race).
    for (let x = 0; x < w.machine.vcpus.length; x++) {
      const v = w.L.vapic[x];
      if (
        regTest(w.m, v + VAPIC.VISR, e.vector) ||
        regTest(w.m, v + VAPIC.VIRR, e.vector) ||
        regTest(w.m, w.L.pid[x] + PID.PIR, e.vector)
      )
        regSet(w.m, v + VAPIC.EOI_EXIT, e.vector);
    }
  }
}

/** kvm_ioapic_set_irq: the input line of `pin` goes to `level`; a message it sends is routed. */
export function guestIoapicLine(w: World, sink: Sink, pin: number, level: boolean): void {
  route(w, sink, ioapicSetLine(w.m, base(w), pin, level ? 1 : 0));
}

/** The fields of a redirection entry a guest write changes (absent: kept). */
export type GuestIoapicWrite = Partial<Omit<RedirEntryFields, 'polarity'>>;

/**
 * vCPU x's guest writes a redirection entry (an MMIO write to the I/O APIC window: an EPT
 * misconfiguration exit, which KVM emulates, ioapic_write_indirect). Remote IRR is kept for a level
 * entry, cleared for an edge one (hw/ioapic.ts); a level entry whose line is asserted and Remote IRR
 * clear sends at once. KVM then rescans the EOI-exit bitmaps, and the vCPU re-enters (a vCPU with
 * a thread re-enters through its exit handler instead, after this step).
 */
export function guestIoapicWrite(w: World, sink: Sink, x: number, pin: number, wr: GuestIoapicWrite): void {
  const o = base(w);
  const p = vcpuRunningOn(w, x);
  vmExit(w, sink, x, EXIT_REASON.EPT_MISCONFIG, 0);
  const old = ioapicReadEntry(w.m, o, pin);
  const e = encodeRedirEntry({ ...old, ...wr, polarity: old.polarity });
  const msg = ioapicWriteRedir(w.m, o, pin, e.lo, e.hi);
  guestIoapicScan(w);
  // A vCPU with a thread re-enters through its exit handler (vcpu_enter_guest), after this step.
  if (p >= 0 && !vcpuHasThread(w, x)) vmEntry(w, sink, x, p);
  route(w, sink, msg);
}

/**
 * vCPU x's guest reads (`write` undefined) or writes register `index` of KVM's emulated I/O APIC
 * through IOREGSEL/IOWIN: an MMIO exit KVM emulates (ioapic_read_indirect, ioapic_write_indirect,
 * with hw/ioapic.ts's rules: the ID's bits 27:24 writable, version and arbitration read-only), then
 * the re-entry. A read's value goes to the block's `read` word.
 */
export function guestIoapicReg(w: World, sink: Sink, x: number, index: number, write?: number): void {
  const o = base(w);
  const p = vcpuRunningOn(w, x);
  vmExit(w, sink, x, EXIT_REASON.EPT_MISCONFIG, 0);
  let msg = IOAPIC_NO_MSG;
  if (write === undefined) w.m[o + IOAPIC.SIZE] = ioapicReadReg(w.m, o, index);
  else {
    msg = ioapicWriteReg(w.m, o, index, write >>> 0);
    if (index >= 0x10) guestIoapicScan(w);
  }
  if (p >= 0 && !vcpuHasThread(w, x)) vmEntry(w, sink, x, p);
  route(w, sink, msg);
}

/** The host masks or unmasks an entry of the guest I/O APIC (as ioapic.mask does for the host's). */
export function guestIoapicMask(w: World, sink: Sink, pin: number, masked: boolean): void {
  route(w, sink, ioapicSetMasked(w.m, base(w), pin, masked));
  guestIoapicScan(w);
}

const resent = new Uint32Array(IOAPIC_PINS);

/**
 * After vCPU x's EOI-induced exit for `vector` (it was running on pCPU p): KVM's
 * kvm_ioapic_update_eoi for a level-triggered vector (its TMR bit set) clears Remote IRR and
 * re-sends for lines still asserted, then the vCPU re-enters the guest.
 */
export function kvmHandleEoiInduced(w: World, sink: Sink, x: number, p: number, vector: number): void {
  if (vcpuHasThread(w, x)) {
    // The thread handles the exit itself (guestIoapicEoiHandler), after its way back to the host.
    w.m[w.L.extra.get(IOAPIC_EOI_BLOCK)! + x] = vector + 1;
    return;
  }
  const n = ioapicUpdateEoi(w, x, vector);
  if (p >= 0) vmEntry(w, sink, x, p);
  for (let i = 0; i < n; i++) route(w, sink, resent[i]);
}

/**
 * kvm_ioapic_send_eoi: only a vector whose TMR bit is set (level) reaches kvm_ioapic_update_eoi,
 * which clears Remote IRR of the level entries with that vector and services the lines still
 * asserted; the messages are left in `resent`, their count returned.
 */
function ioapicUpdateEoi(w: World, x: number, vector: number): number {
  const tmr = w.L.vapic[x] + VAPIC.VTMR;
  if (((w.m[tmr + (vector >>> 5)] >>> (vector & 31)) & 1) === 0) return 0;
  return ioapicEoi(w.m, base(w), vector, resent);
}

/**
 * vCPU x's thread, back in the host after an EOI-induced exit (vmx_handle_exit ->
 * handle_apic_eoi_induced -> kvm_apic_set_eoi_accelerated -> kvm_ioapic_send_eoi): the EOI
 * broadcast to the I/O APIC, one step under ioapic->lock (__kvm_ioapic_update_eoi), the re-sent
 * messages delivered in it. Nothing when the exit was another one.
 */
export function guestIoapicEoiHandler(w: World, sink: Sink, x: number): void {
  const k = w.L.extra.get(IOAPIC_EOI_BLOCK)! + x;
  const pending = w.m[k];
  if (pending === 0) return;
  w.m[k] = 0;
  const n = ioapicUpdateEoi(w, x, pending - 1);
  for (let i = 0; i < n; i++) route(w, sink, resent[i]);
}

/** The step of a vCPU thread's exit handler that runs guestIoapicEoiHandler (enter-guest.ts). */
export function emitIoapicEoiHandler(b: ProgramBuilder, x: number): void {
  b.step('handle_apic_eoi_induced', 'kvm_ioapic_update_eoi', (w, _a, sink) => {
    guestIoapicEoiHandler(w, sink, x);
    return NEXT;
  });
}
