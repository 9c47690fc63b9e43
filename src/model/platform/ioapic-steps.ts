/**
 * The I/O APIC inside a machine: a line change or an unmask may send a message to a pCPU's local
 * APIC, and a level-triggered EOI broadcast from a local APIC clears remote IRR and may re-send
 * (82093AA datasheet, "I/O Redirection Table Registers"; KVM ioapic.c kvm_ioapic_set_irq and
 * __kvm_ioapic_update_eoi follow the same rules). Destinations are physical APIC IDs.
 */
import {
  IOAPIC_DELIVERY_MODE,
  IOAPIC_NO_MSG,
  IOAPIC_PINS,
  ioapicEoi,
  ioapicMsgDeliveryMode,
  ioapicMsgDest,
  ioapicMsgIsLevel,
  ioapicMsgVector,
  ioapicSetLine,
  ioapicSetMasked,
} from '../hw/ioapic.ts';
import { lapicEoiBroadcasts } from '../hw/lapic.ts';
import type { Sink } from './events.ts';
import { sendPhysicalInterrupt, sendPhysicalNmi } from './hardware.ts';
import type { World } from './world.ts';

function ioapicBase(w: World): number {
  const o = w.L.extra.get('ioapic');
  if (o === undefined) throw new Error('this machine has no I/O APIC (machine.ioapic is empty)');
  return o;
}

function send(w: World, sink: Sink, msg: number): void {
  if (msg === IOAPIC_NO_MSG) return;
  if (ioapicMsgDeliveryMode(msg) === IOAPIC_DELIVERY_MODE.NMI) {
    sendPhysicalNmi(w, sink, ioapicMsgDest(msg));
    return;
  }
  sendPhysicalInterrupt(w, sink, ioapicMsgDest(msg), ioapicMsgVector(msg), -1, ioapicMsgIsLevel(msg));
}

export function ioapicLineStep(w: World, sink: Sink, pin: number, level: boolean): void {
  send(w, sink, ioapicSetLine(w.m, ioapicBase(w), pin, level ? 1 : 0));
}

export function ioapicMaskStep(w: World, sink: Sink, pin: number, masked: boolean): void {
  send(w, sink, ioapicSetMasked(w.m, ioapicBase(w), pin, masked));
}

const resent = new Uint32Array(IOAPIC_PINS);

/** After a local APIC EOI of vector v on pCPU p: broadcast to the I/O APIC if v was level-triggered. */
export function eoiBroadcast(w: World, sink: Sink, p: number, v: number): void {
  const io = w.L.extra.get('ioapic');
  if (io === undefined || v < 0 || !lapicEoiBroadcasts(w.m, w.L.lapic[p], v)) return;
  const n = ioapicEoi(w.m, io, v, resent);
  for (let i = 0; i < n; i++) send(w, sink, resent[i]);
}
