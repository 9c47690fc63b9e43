/**
 * Host posted MSI (CONFIG_X86_POSTED_MSI, arch/x86/kernel/irq.c; Jacob Pan, "Coalesced Interrupt
 * Delivery with posted MSI", merged for 6.10; kvm-semantics.md section 4). Every device MSI aimed
 * at a pCPU is posted by VT-d into that pCPU's own posted-interrupt descriptor
 * (posted_msi_pi_desc: NV = POSTED_MSI_NOTIFICATION_VECTOR, NDST = its own APIC ID, SN clear),
 * with the VT-d rule (one atomic update; a notification only on ON's 0->1). The notification's
 * handler, sysvec_posted_msi_notification, demultiplexes in software, with IRQs off:
 *
 *   up to MAX_POSTED_MSI_COALESCING_LOOP - 1 rounds of handle_pending_pir (knob
 *     `postedMsiCoalescingLoop`, 3 in the kernel) (harvest PIR with
 *     pi_harvest_pir, call the handler of each harvested vector), stopping at an empty round;
 *   pi_clear_on (notifications re-armed);
 *   one final handle_pending_pir: a vector posted while ON was still 1 sent no notification, and
 *     nothing else would look at it until the next MSI (checklist X5, the `postedMsiFinalHarvest`
 *     knob);
 *   apic_eoi, irq_exit, and the return from the interrupt turns IRQs back on.
 *
 * In the model, the pCPU's dispatch of the notification vector (the World's host-handler hook)
 * marks the handler active and turns the pCPU's IRQs off; a host actor of that pCPU, whose first
 * step is enabled only then, runs the handler as steps (harvest.ts, the 64-bit shape, as
 * handle_pending_pir has always harvested on 64-bit kernels), and its last step ends it.
 */
import { regSet } from '../hw/bits.ts';
import { apicIdFromNdst, ndstForApicId, PID, piClearOn, pidInit, piNdst, piNv } from '../hw/pid.ts';
import { vtdPost } from '../hw/vtd.ts';
import { EV, type Sink } from '../platform/events.ts';
import { hostEoi, sendPhysicalInterrupt } from '../platform/hardware.ts';
import { type FieldDesc, PCPU, PID_FIELDS } from '../platform/layout.ts';
import { pcpuApicId, type World } from '../platform/world.ts';
import { emitPirHarvest } from './harvest.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import type { Variant } from './variants.ts';

/** The host's notification vector for posted MSIs (arch/x86/include/asm/irq_vectors.h, 6.10+). */
export const POSTED_MSI_NOTIFICATION_VECTOR = 0xeb;
/**
 * Device vectors a posted MSI can carry: FIRST_EXTERNAL_VECTOR (0x20) up to, not including,
 * FIRST_SYSTEM_VECTOR, which is POSTED_MSI_NOTIFICATION_VECTOR with CONFIG_X86_POSTED_MSI
 * (irq_vectors.h); handle_pending_pir calls handlers for that range only.
 */
export const FIRST_EXTERNAL_VECTOR = 0x20;
export const FIRST_SYSTEM_VECTOR = POSTED_MSI_NOTIFICATION_VECTOR;
/**
 * arch/x86/kernel/irq.c MAX_POSTED_MSI_COALESCING_LOOP: harvest rounds per notification, the final
 * one after pi_clear_on included (the knob `postedMsiCoalescingLoop`; 3 in the kernel).
 */
export function maxPostedMsiCoalescingLoop(v: Variant): number {
  return Number(v.postedMsiCoalescingLoop);
}

/** A pCPU's posted-MSI block in the World: its descriptor, the handler flag and instrumentation. */
export const POSTED_MSI = {
  /** posted_msi_pi_desc (PID layout, pid.ts). */
  PID: 0,
  /** posted_msi_handler_active: the notification handler runs (IRQs are off on this pCPU). */
  ACTIVE: PID.SIZE,
  /** Instrumentation: vectors whose device handler ran (call_irq_handler). */
  HANDLED: PID.SIZE + 1,
  /** Instrumentation: vectors posted into the descriptor (for no-lost-msi). */
  POSTED: PID.SIZE + 9,
  SIZE: PID.SIZE + 17,
} as const;

/** Name of pCPU p's posted-MSI block among the World's extra blocks. */
export function postedMsiBlockName(p: number): string {
  return `postedmsi.pcpu${p}`;
}

export const POSTED_MSI_FIELDS: readonly FieldDesc[] = [
  ...PID_FIELDS.map((f) => ({ ...f, name: `msi.${f.name}` })),
  { name: 'msi.handlerActive', offset: POSTED_MSI.ACTIVE, kind: 'u32' },
  { name: 'msi.handled', offset: POSTED_MSI.HANDLED, kind: 'reg256' },
  { name: 'msi.posted', offset: POSTED_MSI.POSTED, kind: 'reg256' },
];

/** The descriptor at boot (posted MSI setup): NV the notification vector, NDST this pCPU, SN clear. */
export function postedMsiInit(m: Uint32Array, o: number, p: number, x2apic: boolean): void {
  m.fill(0, o, o + POSTED_MSI.SIZE);
  pidInit(m, o + POSTED_MSI.PID, POSTED_MSI_NOTIFICATION_VECTOR, ndstForApicId(pcpuApicId(p), x2apic), false);
}

/**
 * VT-d posts a device MSI into the descriptor at `o` (VT-d 5.2.3): one atomic update, then the
 * notification if ON went from 0 to 1. Event VTD_POST with a = -1 - p (a pCPU's descriptor).
 */
export function vtdPostMsi(w: World, sink: Sink, o: number, p: number, vector: number): void {
  const pid = o + POSTED_MSI.PID;
  const notified = vtdPost(w.m, pid, vector, false);
  regSet(w.m, o + POSTED_MSI.POSTED, vector);
  sink.ev(EV.VTD_POST, -1 - p, vector, notified ? 1 : 0, 0);
  if (notified)
    sendPhysicalInterrupt(w, sink, apicIdFromNdst(piNdst(w.m, pid), w.machine.x2apic), piNv(w.m, pid), -1);
}

/**
 * The pCPU took the notification vector (the host-handler hook, after the APIC acknowledged it):
 * the interrupt gate cleared IF, and the handler's steps may run.
 */
export function postedMsiNotification(w: World, p: number, o: number): void {
  w.m[o + POSTED_MSI.ACTIVE] = 1;
  w.m[w.L.pcpu[p] + PCPU.HOST_IF] = 0;
}

/** A vector posted into the descriptor at `o` whose handler never ran. */
export function postedMsiLost(m: Uint32Array, o: number): boolean {
  for (let i = 0; i < 8; i++)
    if ((m[o + POSTED_MSI.POSTED + i] & ~m[o + POSTED_MSI.HANDLED + i]) !== 0) return true;
  return false;
}

/**
 * sysvec_posted_msi_notification on pCPU p as a host actor's program, looping: it waits until the
 * pCPU takes the notification, runs the handler and waits again.
 *
 * The device handlers run at each exchange here, where handle_pending_pir calls them after the
 * last exchange of its round: what they do in the model is record the vector as handled, which
 * nothing reads before the handler ends.
 */
export function emitPostedMsiHandler(b: ProgramBuilder, v: Variant, p: number): void {
  const fn = 'sysvec_posted_msi_notification';
  const name = postedMsiBlockName(p);
  const at = (w: World) => w.L.extra.get(name)!;
  const top = b.fresh('msi_top');
  const tTop = b.target(top);
  const clearOn = b.fresh('msi_clear_on');
  const tClearOn = b.target(clearOn);
  const harvest = (empty?: { pc: number }) =>
    emitPirHarvest(b, {
      fn: 'handle_pending_pir',
      shape: 'u64-loads-then-xchg',
      pir: (w) => at(w) + POSTED_MSI.PID + PID.PIR,
      take: (w, _a, i, val) => {
        w.m[at(w) + POSTED_MSI.HANDLED + i] |= val;
      },
      empty,
    });
  b.mark(top);
  b.step(
    fn,
    'irq_enter',
    () => NEXT,
    (w) => w.m[at(w) + POSTED_MSI.ACTIVE] === 1,
  );
  // `while (++i < MAX_POSTED_MSI_COALESCING_LOOP)`: up to MAX - 1 rounds, leaving at an empty one.
  for (let round = 1; round < maxPostedMsiCoalescingLoop(v); round++) harvest(tClearOn);
  b.mark(clearOn);
  b.step(fn, 'pi_clear_on', (w) => {
    piClearOn(w.m, at(w) + POSTED_MSI.PID);
    return NEXT;
  }).barriers(1);
  if (v.postedMsiFinalHarvest === 'present') harvest();
  b.step(fn, 'apic_eoi, irq_exit', (w, _a, sink) => {
    // With the machine's host auto-EOI the dispatch wrote EOI already (a modelling convenience).
    if (!w.machine.hostAutoEoi) hostEoi(w, sink, p);
    w.m[at(w) + POSTED_MSI.ACTIVE] = 0;
    w.m[w.L.pcpu[p] + PCPU.HOST_IF] = 1;
    return tTop.pc;
  });
}
