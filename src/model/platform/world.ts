/**
 * Building the initial World of a machine, and the few accessors every driver needs.
 */

import {
  AVIC_BACKING,
  avicBackingInit,
  avicPhysWrite,
  avicSetIrr,
  avicVmrun,
  gaIrteWrite,
  gaLogInit,
} from '../hw/avic.ts';
import { regSet } from '../hw/bits.ts';
import { encodeRedirEntry, IOAPIC, ioapicReset, ioapicWriteRedir } from '../hw/ioapic.ts';
import { lapicInit } from '../hw/lapic.ts';
import { ndstForApicId, pidInit, piSetOn } from '../hw/pid.ts';
import {
  selfIpiVirtualization,
  tprVirtualization,
  VAPIC,
  vapicInit,
  vmEntryVirtualInterrupts,
} from '../hw/vapic.ts';
import type { Sink } from './events.ts';
import { guestApicExtras, guestApicInit } from './guest-apic-block.ts';
import {
  type AvicRegion,
  avicBlocks,
  avicIrteOffset,
  avicPageOffset,
  avicRegion,
  avicTableSize,
  type ExtraBlock,
  ioapicFields,
  type Layout,
  makeLayout,
  PCPU,
  PCPU_MODE_GUEST,
  PID_FIELDS,
  VAPIC_FIELDS,
  VCPU,
  VCPU_F_AUTO_EOI,
  VCPU_F_HALTED,
  VCPU_F_IF,
} from './layout.ts';
import type { Machine } from './machine.ts';
import { timerBlocksInit, timerExtras } from './timer-block.ts';

export interface World {
  machine: Machine;
  L: Layout;
  m: Uint32Array;
  /**
   * The host software's handler for a vector the host takes in root mode, after the APIC
   * acknowledged it (KVM installs pi_wakeup_handler for the wake-up vector). Without one, host
   * handlers have no effect on the World: the runner's scenarios have no KVM.
   */
  hostHandler?: (w: World, sink: Sink, p: number, vector: number) => void;
  /**
   * KVM's handling of vCPU x's EOI-induced exit for `vector` (it ran on pCPU p), when the machine
   * has a guest I/O APIC (kvm/guest-ioapic.ts kvmHandleEoiInduced); without one the model stops at
   * the exit.
   */
  eoiInducedHandler?: (w: World, sink: Sink, x: number, p: number, vector: number) => void;
  /**
   * KVM's handling of vCPU x's interrupt-window exit (it ran on pCPU p): kvm/apicv-inhibit.ts
   * kvmHandleInterruptWindow, which injects and re-enters. Set on Intel machines only.
   */
  irqWindowHandler?: (w: World, sink: Sink, x: number, p: number) => void;
  /**
   * Bit x: vCPU x has a thread of its own (an actor of `irqlab check` with an exit handler), which
   * serves the VM exits KVM handles and enters the guest again itself. KVM's paths that a script
   * folds into one step (an exit, its handling and the re-entry; kvm/apicv-inhibit.ts) stop at the
   * exit for such a vCPU. 0 when nothing runs but the script.
   */
  vcpuThreads?: number;
}

/** Whether vCPU x has a thread of its own that handles its exits and re-enters (World.vcpuThreads). */
export function vcpuHasThread(w: World, x: number): boolean {
  return (((w.vcpuThreads ?? 0) >>> x) & 1) !== 0;
}

/** pCPU p has APIC ID p (the model's convention; vCPU APIC IDs come from the scenario). */
export function pcpuApicId(p: number): number {
  return p;
}

export function initWorld(machine: Machine, more: readonly ExtraBlock[] = []): World {
  const extras: ExtraBlock[] = machine.ioapic.length
    ? [{ name: 'ioapic', size: IOAPIC.SIZE, fields: ioapicFields(machine.ioapic.map((p) => p.pin)) }]
    : [];
  const avic = machine.features.avic;
  const tableSize = avicTableSize(machine.x2apic);
  if (avic) {
    const size = avicRegion(0, machine.vcpus.length, machine.irtes.length, tableSize).size;
    extras.push({ name: 'avic', size, fields: [] });
  }
  if (machine.guestIoapic?.length)
    extras.push({
      name: 'guestIoapic',
      // One word more: the value the guest's last register read returned (guestIoapic.reg).
      size: IOAPIC.SIZE + 1,
      fields: [
        ...ioapicFields(machine.guestIoapic.map((p) => p.pin)),
        { name: 'read', offset: IOAPIC.SIZE, kind: 'u32' },
      ],
    });
  if (machine.lapicTimer) extras.push(...timerExtras(machine.vcpus.length));
  if (machine.apicRegisters) extras.push(...guestApicExtras(machine.vcpus.length));
  extras.push(...more);
  const L = makeLayout(machine.pcpus, machine.vcpus.length, extras);
  if (avic) {
    const a = avicRegion(L.extra.get('avic')!, machine.vcpus.length, machine.irtes.length, tableSize);
    L.avic = a;
    // AVIC replaces the virtual-APIC page and the descriptor: their words stay in the World (the
    // Intel steps index them) but they are not named, so traces and expectations see only the
    // backing pages, the table, the IRTEs and the GA log.
    L.blocks = L.blocks.filter((b) => b.fields !== VAPIC_FIELDS && b.fields !== PID_FIELDS);
    const at = L.blocks.findIndex((b) => b.prefix === 'avic');
    L.blocks.splice(
      at + 1,
      0,
      ...avicBlocks(
        a,
        machine.vcpus.map((c) => c.apicId),
        machine.irtes.length,
      ),
    );
  }
  const m = new Uint32Array(L.size);
  const io = L.extra.get('ioapic');
  if (io !== undefined) {
    ioapicReset(m, io);
    for (const p of machine.ioapic) {
      const e = encodeRedirEntry({
        vector: p.vector,
        deliveryMode: p.deliveryMode === 4 ? 4 : 0,
        destMode: 0,
        polarity: 0,
        triggerMode: p.level ? 1 : 0,
        mask: p.masked ? 1 : 0,
        dest: p.dest,
      });
      ioapicWriteRedir(m, io, p.pin, e.lo, e.hi);
    }
  }
  const gio = L.extra.get('guestIoapic');
  if (gio !== undefined) {
    ioapicReset(m, gio);
    for (const p of machine.guestIoapic ?? []) {
      const e = encodeRedirEntry({
        vector: p.vector,
        deliveryMode: p.deliveryMode,
        destMode: p.logical ? 1 : 0,
        polarity: 0,
        triggerMode: p.level ? 1 : 0,
        mask: p.masked ? 1 : 0,
        dest: p.dest,
      });
      ioapicWriteRedir(m, gio, p.pin, e.lo, e.hi);
    }
  }
  for (let p = 0; p < machine.pcpus; p++) {
    lapicInit(m, L.lapic[p], pcpuApicId(p), machine.x2apic);
    m[L.pcpu[p] + PCPU.HOST_IF] = machine.hostIF ? 1 : 0;
  }
  // The pCPUs on which some vCPU starts in guest mode: that vCPU's VMCS is the current one there,
  // whatever the order of the list. Among vCPUs that are only loaded on a pCPU, the last listed is
  // current (each load is a VMPTRLD, and the last one wins).
  const hasRunning = new Set(machine.vcpus.filter((c) => c.running && c.pcpu >= 0).map((c) => c.pcpu));
  if (L.avic !== undefined) initAvic(machine, L.avic, m);
  machine.vcpus.forEach((c, x) => {
    const v = L.vapic[x];
    // On an AVIC machine the virtual-APIC page and the descriptor stay zero (initAvic put TPR and
    // the pending vectors in the backing page).
    if (L.avic === undefined) {
      vapicInit(m, v, machine.features.apicv);
      for (const e of c.eoiExit) regSet(m, v + VAPIC.EOI_EXIT, e);
      tprVirtualization(m, v, c.tpr);
      for (const e of c.virr) selfIpiVirtualization(m, v, e);
      const ndst = ndstForApicId(pcpuApicId(Math.max(0, c.pcpu)), machine.x2apic);
      pidInit(m, L.pid[x], c.pid.nv, ndst, c.pid.sn);
      if (c.pid.on) piSetOn(m, L.pid[x]);
      for (const e of c.pid.pir) regSet(m, L.pid[x], e);
    }
    m[L.vcpu[x] + VCPU.FLAGS] =
      (c.if ? VCPU_F_IF : 0) | (c.halted ? VCPU_F_HALTED : 0) | (c.autoEoi ? VCPU_F_AUTO_EOI : 0);
    if (c.pcpu >= 0) {
      m[L.vcpu[x] + VCPU.PCPU] = c.pcpu + 1;
      if (c.running || !hasRunning.has(c.pcpu)) m[L.pcpu[c.pcpu] + PCPU.VMCS] = x + 1;
      if (c.running) {
        m[L.pcpu[c.pcpu] + PCPU.MODE] = PCPU_MODE_GUEST;
        // The start counts as a VM entry (VMRUN on an AVIC machine, which evaluates the page).
        if (L.avic === undefined) vmEntryVirtualInterrupts(m, v);
        else avicVmrun(m, avicPageOffset(L.avic, x));
      }
    }
  });
  const w: World = { machine, L, m };
  timerBlocksInit(w);
  guestApicInit(w);
  return w;
}

/**
 * The AVIC structures at the start (APM 15.29; KVM avic_init_backing_page, avic_vcpu_load,
 * avic_pi_update_irte): vCPU x's backing page is slot x, with TPR and the pending `virr` vectors
 * (edge: TMR clear); its physical APIC ID table entry, at its guest APIC ID, is Valid and points at
 * that page, with IsRunning set only for a vCPU that starts running, and the host APIC ID of the
 * pCPU it is loaded on (pCPU 0's for none). Each IRTE of machine.irtes is in GA mode, with the
 * vCPU's guest vector, its page as GA root pointer, IsRun and Destination as the table entry,
 * GALogIntr clear, and as GATag the vCPU index (KVM packs a VM ID and the vCPU index into GATag;
 * the model has one VM, with ID 0). The GA log is empty and logging.
 */
function initAvic(machine: Machine, a: AvicRegion, m: Uint32Array): void {
  machine.vcpus.forEach((c, x) => {
    const bp = avicPageOffset(a, x);
    avicBackingInit(m, bp);
    m[bp + AVIC_BACKING.TPR] = c.tpr;
    for (const v of c.virr) avicSetIrr(m, bp, v, false);
    avicPhysWrite(m, a.table, c.apicId, {
      hostApicId: pcpuApicId(Math.max(0, c.pcpu)),
      backingPage: x,
      isRunning: c.running,
      valid: true,
    });
  });
  machine.irtes.forEach((e, i) => {
    const c = machine.vcpus[e.vcpu];
    gaIrteWrite(m, avicIrteOffset(a, i), {
      remapEn: true,
      supIopf: false,
      gaLogIntr: false,
      gaPpiDisable: false,
      isRun: c.running,
      guestMode: true,
      destination: pcpuApicId(Math.max(0, c.pcpu)),
      gaTag: e.vcpu,
      vector: e.vector,
      gaRootPtr: e.vcpu,
    });
  });
  gaLogInit(m, a.log);
}

/** vCPU x's AVIC backing page (an AVIC machine only). */
export function avicPage(w: World, x: number): number {
  return avicPageOffset(w.L.avic!, x);
}

/** The vCPU running in guest mode on pCPU p, or -1. */
export function runningVcpu(w: World, p: number): number {
  const base = w.L.pcpu[p];
  return w.m[base + PCPU.MODE] === PCPU_MODE_GUEST ? w.m[base + PCPU.VMCS] - 1 : -1;
}

/** The pCPU on which vCPU x runs in guest mode, or -1. */
export function vcpuRunningOn(w: World, x: number): number {
  const p = w.m[w.L.vcpu[x] + VCPU.PCPU] - 1;
  return p >= 0 && runningVcpu(w, p) === x ? p : -1;
}

/** The pCPU with a given APIC ID, or -1. */
export function pcpuByApicId(w: World, apicId: number): number {
  return apicId >= 0 && apicId < w.machine.pcpus ? apicId : -1;
}
