/**
 * The guest's APIC registers as KVM keeps them (struct kvm_lapic: apic_base, SPIV, the APIC ID),
 * for machines with `apicRegisters`: one LAPIC block (hw/lapic.ts layout) per vCPU, plus the low 32
 * bits of IA32_APIC_BASE and a count of the #GPs the guest took. The transitions are
 * hw/apic-state.ts's (SDM Vol. 3A 11.4.3, 11.4.6, 11.4.7.2, 11.12.5); KVM's part is the interception
 * and the #GP injection (kvm_set_apic_base, kvm_lapic_reg_write, kvm_x2apic_msr_write ->
 * kvm_inject_gp), and __apic_accept_irq dropping fixed and lowest-priority interrupts while the
 * APIC is software- or globally disabled (`guestApicAccepts`).
 *
 * What a transition changes beyond the mode, the ID and the #GPs: a script's ICR writes
 * (guest.icr, guest.icrRaw) take the format and interface of the vCPU's mode now (script.ts
 * emitIcrInOwnMode; decision 0237), and without APICv so do the EOI's and the SELF IPI's exits
 * (hardware.ts inX2apicMode). The machine's `x2apic` still decides TPR writes (virtualized the
 * same way in both modes) and an actor's ICR writes.
 */

import { apicAccess } from '../hw/apic-access.ts';
import {
  APIC_DEFAULT_BASE,
  apicBaseApply,
  apicBaseWriteFault,
  apicIdWrite,
  type IcrRaw,
  kvmSetLapicId,
  LAPIC_MODE_DISABLED,
  LVT_MASKED,
  lapicAcceptsDeliveryMode,
  svrWrite,
  x2apicIcrRegisterWrite,
  xapicIcrRegisterWrite,
  xapicMmioAvailable,
} from '../hw/apic-state.ts';
import { processorPriority, regHighest } from '../hw/bits.ts';
import {
  DELIVERY_MODE,
  DEST_MODE,
  DFR_CLUSTER,
  DFR_FLAT,
  decodeX2apicIcr,
  decodeXapicIcr,
  type Icr,
  kvmApicMatchDest,
  kvmLowestPriorityTarget,
  type LapicInfo,
} from '../hw/icr.ts';
import { LAPIC, LAPIC_MODE_X2APIC } from '../hw/lapic.ts';
import { TIMER } from '../hw/timer.ts';
import { VAPIC } from '../hw/vapic.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { GUEST_APIC, GUEST_MAXPHYADDR, guestApicBlockName } from '../platform/guest-apic-block.ts';
import { guestEoi, guestWriteTpr, vmEntry, vmExit } from '../platform/hardware.ts';
import { timerBlockName } from '../platform/timer-block.ts';
import { vcpuHasThread, vcpuRunningOn, type World } from '../platform/world.ts';
import {
  apicvInhibited,
  kvmApicBaseModified,
  kvmEmulatedEoi,
  kvmRecalculateApicMap,
  kvmReenter,
} from './apicv-inhibit.ts';
import { KVM_REQ_EVENT, KVM_VCPU } from './state.ts';

function block(w: World, x: number): number {
  const o = w.L.extra.get(guestApicBlockName(x));
  if (o === undefined)
    throw new Error('this machine has no guest APIC registers (machine.apicRegisters is false)');
  return o;
}

/**
 * Whether vCPU x's APIC accepts a message with this delivery mode now (__apic_accept_irq with
 * kvm_apic_sw_enabled, kvm_apic_present): always, on a machine without `apicRegisters`.
 * Allocation-free (the checker's delivery steps call it).
 */
export function guestApicAccepts(w: World, x: number, deliveryMode: number): boolean {
  const ga = w.L.guestApic;
  return ga === undefined || lapicAcceptsDeliveryMode(w.m, ga[x], deliveryMode);
}

/**
 * Whether vCPU t is a destination of an ICR message from vCPU x with the APIC IDs and modes the
 * guests have now (kvm_apic_match_dest; a globally disabled APIC is no destination,
 * kvm_apic_present): two vCPUs that wrote the same xAPIC ID both match (kvm-unit-tests apic.c
 * test_aliased_xapic_physical_ipi). Lowest priority picks among the candidates by vector hashing.
 * Shorthands never reach here (they go by vCPU). The sender's mode sets the destination's width.
 */
export function guestApicIsTarget(
  w: World,
  x: number,
  t: number,
  msg: { deliveryMode: number; logical: boolean; dest: number; vector: number },
): boolean {
  const ga = w.L.guestApic;
  if (ga === undefined) return false;
  const info = (i: number): LapicInfo => {
    const c = w.machine.vcpus[i];
    return {
      apicId: w.m[ga[i] + LAPIC.ID],
      mode: w.m[ga[i] + LAPIC.MODE] === LAPIC_MODE_X2APIC ? 'x2apic' : 'xapic',
      ldr: c.ldr ?? 0,
      dfr: c.dfr === 'cluster' ? DFR_CLUSTER : DFR_FLAT,
    };
  };
  const format = w.m[ga[x] + LAPIC.MODE] === LAPIC_MODE_X2APIC ? 'x2apic' : 'xapic';
  const matches = (i: number) =>
    w.m[ga[i] + LAPIC.MODE] !== LAPIC_MODE_DISABLED &&
    kvmApicMatchDest(info(i), msg.logical ? DEST_MODE.LOGICAL : DEST_MODE.PHYSICAL, msg.dest, format);
  if (msg.deliveryMode !== DELIVERY_MODE.LOWEST_PRIORITY) return matches(t);
  const candidates = w.machine.vcpus.map((_, i) => i).filter(matches);
  return (
    kvmLowestPriorityTarget(
      candidates,
      msg.vector,
      w.machine.vcpus.map(() => true),
      { vectorHashing: true },
    ) === t
  );
}

/**
 * Userspace writes vCPU x's APIC registers outside guest mode: IA32_APIC_BASE through KVM_SET_MSRS
 * (host-initiated: kvm_set_apic_base skips the two transition rules, so x2APIC to xAPIC is allowed;
 * a reserved bit or the invalid state fails the ioctl and changes nothing), then the ID through
 * KVM_SET_LAPIC (kvmSetLapicId: honoured in xAPIC mode, ignored in x2APIC mode; selftests
 * xapic_state_test.c test_apic_id, test_x2apic_id).
 */
export function hostSetApicRegisters(w: World, x: number, wr: { apicBase?: number; id?: number }): void {
  const o = block(w, x);
  const initial = w.machine.vcpus[x].apicId;
  if (wr.apicBase !== undefined) {
    const old = BigInt(w.m[o + GUEST_APIC.BASE]);
    const next = BigInt(wr.apicBase >>> 0);
    const opts = { x2apicSupported: true, maxPhyAddr: GUEST_MAXPHYADDR, hostInitiated: true };
    if (apicBaseWriteFault(old, next, opts) === null) {
      apicBaseApply(w.m, o, old, next, initial);
      w.m[o + GUEST_APIC.BASE] = wr.apicBase >>> 0;
      kvmUpdateCpuidApic(w.m, o);
    }
  }
  if (wr.id !== undefined) kvmSetLapicId(w.m, o, wr.id, initial);
  kvmRecalculateApicMap(w);
}

/**
 * What a raw ICR write by the guest does, decided from the value and the machine's APIC mode: the
 * register value it leaves (hw/apic-state.ts: xAPIC keeps ICR2[31:24] and drops the busy bit;
 * x2APIC keeps all 64 bits), or null for the #GP of a reserved x2APIC bit (bit 12 ignored, as on
 * Intel); and the message it sends, or null when its delivery mode is reserved (stored, not sent).
 */
export function guestIcrRawWrite(
  x2apic: boolean,
  lo: number,
  hi: number,
): { reg: IcrRaw | null; msg: Icr | null } {
  if (x2apic) {
    const reg = x2apicIcrRegisterWrite(lo, hi, 'ignore');
    if (reg === null) return { reg, msg: null };
    const d = decodeX2apicIcr(reg.lo, reg.hi, { busy: 'ignore' });
    return { reg, msg: d.ok ? d.icr : null };
  }
  const reg = xapicIcrRegisterWrite(lo, hi);
  const d = decodeXapicIcr(reg.lo, reg.hi);
  return { reg, msg: d.ok ? d.icr : null };
}

/** Stores the ICR value a guest write left (KVM_GET_LAPIC reads it back). */
export function guestIcrStore(w: World, x: number, reg: IcrRaw): void {
  const o = block(w, x);
  w.m[o + GUEST_APIC.ICR_LO] = reg.lo >>> 0;
  w.m[o + GUEST_APIC.ICR_HI] = reg.hi >>> 0;
}

/** A WRMSR 830H with a reserved bit set: the exit, and KVM injects #GP (kvm_x2apic_icr_write). */
export function guestIcrFault(w: World, sink: Sink, x: number): void {
  const o = block(w, x);
  const p = vcpuRunningOn(w, x);
  vmExit(w, sink, x, EXIT_REASON.MSR_WRITE, 0x830);
  gp(w, o);
  if (p >= 0) vmEntry(w, sink, x, p);
}

/**
 * kvm_update_cpuid_runtime after an IA32_APIC_BASE write: CPUID.01H:EDX.APIC[bit 9] follows the
 * global enable (cpuid_entry_change with MSR_IA32_APICBASE_ENABLE).
 */
function kvmUpdateCpuidApic(m: Uint32Array, o: number): void {
  m[o + GUEST_APIC.CPUID_APIC] = (m[o + GUEST_APIC.BASE] >>> 11) & 1;
}

/** KVM injects #GP (kvm_inject_gp): counted in the block; the trace shows the count change. */
function gp(w: World, o: number): void {
  w.m[o + GUEST_APIC.GP]++;
}

/**
 * The APIC version register as KVM sets it (kvm_apic_set_version): version 14H of an integrated
 * APIC, and the maximum LVT entry, 5 (six LVT entries: KVM adds CMCI only for a guest with
 * MCG_CMCI_P, which the model's guests do not have). Directed EOI is not offered with KVM's I/O APIC.
 */
export const KVM_APIC_LVR = 0x14 | (5 << 16);

/** The xAPIC page offsets whose contents the model keeps (readable by guest.apicRead, guest.mmio). */
export function xapicOffsetKept(offset: number): boolean {
  const reg = offset & 0xff0;
  if ((offset & 0xf) !== 0) return false;
  if ((reg >= 0x100 && reg <= 0x170) || (reg >= 0x200 && reg <= 0x270)) return true;
  return [0x20, 0x30, 0x80, 0xa0, 0xd0, 0xe0, 0xf0, 0x300, 0x310].includes(reg);
}

/**
 * The xAPIC page offsets a `guest.mmio` may write: the TPR, EOI, ID, SVR and ICR high word, and the
 * read-only version, PPR, ISR and IRR (whose writes KVM drops). The ICR low word is guest.icr.
 */
export function xapicOffsetWritable(offset: number): boolean {
  const reg = offset & 0xff0;
  if ((offset & 0xf) !== 0) return false;
  if ((reg >= 0x100 && reg <= 0x170) || (reg >= 0x200 && reg <= 0x270)) return true;
  return [0x20, 0x30, 0x80, 0xa0, 0xb0, 0xf0, 0x310].includes(reg);
}

/**
 * The register at `offset` of vCPU x's xAPIC page as KVM keeps it (apic->regs, which is the
 * virtual-APIC page): ID (020H), version (030H), TPR (080H), PPR (0A0H, apic_update_ppr), LDR
 * (0D0H, the machine's LDR), DFR (0E0H: flat 0FFFFFFFFH, cluster 0FFFFFFFH),
 * SVR (0F0H), ISR and IRR (100H-170H, 200H-270H), ICR (300H, 310H).
 */
function xapicRegister(w: World, x: number, o: number, offset: number): number {
  const v = w.L.vapic[x];
  if (offset >= 0x100 && offset <= 0x170) return w.m[v + VAPIC.VISR + ((offset - 0x100) >>> 4)];
  if (offset >= 0x200 && offset <= 0x270) return w.m[v + VAPIC.VIRR + ((offset - 0x200) >>> 4)];
  const c = w.machine.vcpus[x];
  switch (offset) {
    case 0xa0:
      return processorPriority(w.m[v + VAPIC.VTPR], Math.max(0, regHighest(w.m, v + VAPIC.VISR)));
    case 0xd0:
      return (c.ldr ?? 0) >>> 0;
    case 0xe0:
      return c.dfr === 'cluster' ? 0x0fffffff : 0xffffffff;
    case 0x300:
      return w.m[o + GUEST_APIC.ICR_LO];
    case 0x310:
      return w.m[o + GUEST_APIC.ICR_HI];
    case 0x20:
      return (w.m[o + LAPIC.ID] << 24) >>> 0;
    case 0x30:
      return KVM_APIC_LVR;
    case 0x80:
      // The virtual-APIC page is KVM's register page: its VTPR is the TPR.
      return w.m[w.L.vapic[x] + VAPIC.VTPR];
    default:
      return w.m[o + LAPIC.SVR];
  }
}

/**
 * vCPU x's guest reads 32 bits at guest-physical `address` through the xAPIC's memory-mapped
 * interface. It reaches the APIC only in xAPIC mode and inside the 4-KByte page at the base
 * IA32_APIC_BASE names (SDM Vol. 3A 11.4.1, 11.4.4; in x2APIC or disabled mode the page is not the
 * APIC, 11.12.1.2, 11.4.3: the read returns memory, `apic.readHit` 0). At the default base with
 * APICv active the access is to the APIC-access page: APIC-register virtualization reads the
 * virtual-APIC page without an exit, or an APIC-access exit for an offset it does not virtualize
 * (hw/apic-access.ts apicAccess); a relocated base, or APICv inhibited, has no APIC-access page
 * there, so the read faults into KVM's MMIO emulation (EPT violation; apic_mmio_read, which
 * follows apic->base_address). The value goes to `apic.read`.
 */
export function guestApicRead(w: World, sink: Sink, x: number, address: number): void {
  const o = block(w, x);
  const base = w.m[o + GUEST_APIC.BASE] & 0xfffff000;
  const hit = xapicMmioAvailable(w.m[o + LAPIC.MODE]) && (address & 0xfffff000) === base;
  w.m[o + GUEST_APIC.READ_HIT] = hit ? 1 : 0;
  if (!hit) return;
  const offset = address & 0xfff;
  w.m[o + GUEST_APIC.READ] = xapicRegister(w, x, o, offset);
  const onAccessPage =
    BigInt(base >>> 0) === APIC_DEFAULT_BASE && !apicvInhibited(w, x) && w.machine.features.apicv;
  if (onAccessPage) {
    const ctl = {
      useTprShadow: true,
      virtualizeX2apicMode: false,
      apicRegisterVirtualization: true,
      virtualInterruptDelivery: true,
      ipiVirtualization: w.machine.features.ipiv,
    };
    if (apicAccess(ctl, offset, 4, false) === 'read-virtual-apic') return;
  }
  const p = vcpuRunningOn(w, x);
  vmExit(w, sink, x, onAccessPage ? EXIT_REASON.APIC_ACCESS : EXIT_REASON.EPT_VIOLATION, offset);
  if (p >= 0) kvmReenter(w, sink, x, p);
}

/** The guest register a `guest.apicWrite` writes. */
export type GuestApicReg = 'APIC_BASE' | 'SVR' | 'ID';

/**
 * The exit of an intercepted write, by the vCPU's APIC mode now: WRMSR for IA32_APIC_BASE and every
 * x2APIC register, else an APIC write (SDM Vol. 3C 29.4.3.2 and 29.5).
 */
function exitFor(w: World, x: number, o: number, reg: GuestApicReg): [number, number] {
  if (reg === 'APIC_BASE') return [EXIT_REASON.MSR_WRITE, 0x1b];
  const off = reg === 'SVR' ? 0xf0 : 0x20;
  if (w.m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC) return [EXIT_REASON.MSR_WRITE, 0x800 + (off >>> 4)];
  // While APICv is inhibited the APIC-access page is unmapped: an EPT violation (apicv-inhibit.ts).
  return apicvInhibited(w, x) ? [EXIT_REASON.EPT_VIOLATION, off] : [EXIT_REASON.APIC_WRITE, off];
}

/**
 * vCPU x's guest writes `reg`; the write exits, KVM emulates it or injects #GP, and the vCPU
 * re-enters. IA32_APIC_BASE follows apicBaseWriteFault / apicBaseApply (the initial APIC ID is the
 * machine's); SVR follows svrWrite (software disable keeps IRR and ISR and masks the LVT entries);
 * the APIC ID is writable in xAPIC mode and read-only (#GP) in x2APIC mode (apicIdWrite).
 */
export function guestApicWrite(
  w: World,
  sink: Sink,
  x: number,
  reg: GuestApicReg,
  value: number,
  hi = 0,
): void {
  const o = block(w, x);
  const p = vcpuRunningOn(w, x);
  const [reason, qualification] = exitFor(w, x, o, reg);
  vmExit(w, sink, x, reason, qualification);
  if (reg === 'APIC_BASE') {
    const old = BigInt(w.m[o + GUEST_APIC.BASE]);
    // Bits 63:32 are all at or above the model's MAXPHYADDR: any set one is reserved.
    const next = BigInt(value >>> 0) | (BigInt(hi >>> 0) << 32n);
    if (apicBaseWriteFault(old, next, { x2apicSupported: true, maxPhyAddr: GUEST_MAXPHYADDR }) !== null)
      gp(w, o);
    else {
      apicBaseApply(w.m, o, old, next, w.machine.vcpus[x].apicId);
      w.m[o + GUEST_APIC.BASE] = value >>> 0;
      kvmUpdateCpuidApic(w.m, o);
      kvmApicBaseModified(w, value >>> 0, sink);
    }
  } else if (reg === 'SVR') {
    // Software disable masks every LVT entry (SDM 11.4.7.2); the model's only guest LVT entry is
    // the timer's (machine.lapicTimer).
    const t = w.L.extra.get(timerBlockName(x));
    if (svrWrite(w.m, o, value) && t !== undefined) w.m[t + TIMER.LVT] |= LVT_MASKED;
  } else if (!apicIdWrite(w.m, o, value)) gp(w, o);
  // kvm_recalculate_apic_map: an xAPIC ID that is no longer the vCPU ID inhibits APICv, and the
  // last one restored (or the move to x2APIC, whose ID is the vCPU ID) reactivates it.
  kvmRecalculateApicMap(w, sink);
  // A vCPU with a thread of its own re-enters through its exit handler (decision 0235).
  if (p >= 0 && !vcpuHasThread(w, x)) kvmReenter(w, sink, x, p);
}

/** The controls KVM sets for a vCPU in xAPIC mode with APICv active (vmx_secondary_exec_control). */
function xapicAccessControls(w: World) {
  return {
    useTprShadow: true,
    virtualizeX2apicMode: false,
    apicRegisterVirtualization: true,
    virtualInterruptDelivery: true,
    ipiVirtualization: w.machine.features.ipiv,
  };
}

/**
 * vCPU x's guest writes 32 bits at page offset `offset` of its xAPIC page (the base IA32_APIC_BASE
 * names). Not the APIC (x2APIC or disabled mode): memory, nothing happens (`apic.readHit` 0). At
 * the APIC-access page (default base, APICv active) hw/apic-access.ts apicAccess decides: TPR
 * virtualization, EOI virtualization, the ICR high word stored by APIC-write emulation (bytes 2:0
 * cleared), an APIC-write exit for the ID and SVR (KVM's kvm_apic_write_nodecode ->
 * kvm_lapic_reg_write), or an APIC-access exit for a read-only register, whose write KVM's
 * apic_mmio_write drops. Elsewhere (APICv inhibited, base relocated) every write is an EPT
 * violation into KVM's MMIO emulation, with the same effects (apic_set_tpr, apic_set_eoi).
 */
export function guestApicMmioWrite(w: World, sink: Sink, x: number, offset: number, value: number): void {
  const o = block(w, x);
  const base = w.m[o + GUEST_APIC.BASE] & 0xfffff000;
  const hit = xapicMmioAvailable(w.m[o + LAPIC.MODE]);
  w.m[o + GUEST_APIC.READ_HIT] = hit ? 1 : 0;
  if (!hit) return;
  const reg = offset & 0xff0;
  const onAccessPage =
    BigInt(base >>> 0) === APIC_DEFAULT_BASE && !apicvInhibited(w, x) && w.machine.features.apicv;
  const p = vcpuRunningOn(w, x);
  const reenter = () => {
    if (p >= 0 && !vcpuHasThread(w, x)) kvmReenter(w, sink, x, p);
  };
  if (onAccessPage) {
    switch (apicAccess(xapicAccessControls(w), offset, 4, true, value)) {
      case 'tpr-virtualization':
        guestWriteTpr(w, sink, x, value & 0xff);
        return;
      case 'eoi-virtualization':
        guestEoi(w, sink, x);
        return;
      case 'write-virtual-apic':
        w.m[o + GUEST_APIC.ICR_HI] = (value & 0xff000000) >>> 0;
        return;
      case 'apic-write-exit':
        if (reg === 0x20 || reg === 0xf0) guestApicWrite(w, sink, x, reg === 0x20 ? 'ID' : 'SVR', value);
        return;
      default:
        vmExit(w, sink, x, EXIT_REASON.APIC_ACCESS, offset);
        reenter();
        return;
    }
  }
  switch (reg) {
    case 0x20:
    case 0xf0:
      guestApicWrite(w, sink, x, reg === 0x20 ? 'ID' : 'SVR', value);
      return;
    case 0xb0:
      kvmEmulatedEoi(w, sink, x);
      return;
  }
  vmExit(w, sink, x, EXIT_REASON.EPT_VIOLATION, offset);
  if (reg === 0x80) {
    // apic_set_tpr: the TPR, then apic_update_ppr and KVM_REQ_EVENT (the re-entry injects).
    w.m[w.L.vapic[x] + VAPIC.VTPR] = value & 0xff;
    w.m[w.L.kvmVcpu[x] + KVM_VCPU.REQUESTS] |= KVM_REQ_EVENT;
  } else if (reg === 0x310) w.m[o + GUEST_APIC.ICR_HI] = (value & 0xff000000) >>> 0;
  reenter();
}
