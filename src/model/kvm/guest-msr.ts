/**
 * A guest RDMSR or WRMSR of an x2APIC register by MSR number (machine.apicRegisters, Intel): the
 * hardware rule of hw/x2apic-msr.ts with KVM's controls and MSR bitmap for the vCPU now
 * (kvmX2apicMsrAccess: x2APIC mode from the vCPU's IA32_APIC_BASE.EXTD, APICv active or inhibited,
 * IPIv) decides between a virtualized access, #GP and an MSR exit, and KVM's emulation is behind
 * the exit (kvm_x2apic_msr_read / kvm_x2apic_msr_write -> kvm_lapic_msr_read / kvm_lapic_msr_write).
 *
 * KVM's emulation, as the model keeps it:
 * - not in x2APIC mode: every x2APIC MSR is #GP (kvm_x2apic_msr_read/write return 1 when
 *   !apic_x2apic_mode; SDM Vol. 3A 11.12.1.2);
 * - RDMSR of a register outside kvm_lapic_readable_reg_mask (EOI, SELF IPI, unallocated): #GP;
 * - WRMSR of a read-only register (ID, version, PPR, LDR, ISR, IRR): #GP (kvm_lapic_reg_write
 *   returns 1 for them in x2APIC mode; SDM Vol. 3A 11.12.1.2, table "Local APIC Register Address
 *   Map Supported by x2APIC", RO registers);
 * - WRMSR of the SVR: KVM's SVR write (guest-apic.ts); of the EOI while APICv is inhibited: the
 *   emulated EOI (apicv-inhibit.ts).
 * The registers a read returns: ID, version, TPR, PPR, LDR (derived from the x2APIC ID, SDM 11.12.10.2),
 * SVR, ISR and IRR words, the ICR; the loader refuses the other MSRs, whose contents the model does
 * not keep (TMR, ESR, the LVTs, the timer registers). The value goes to `apic.read` (the low 32
 * bits; the ICR's high half is `apic.icrHi`), and `apic.readHit` says whether the read returned.
 */

import { processorPriority, regHighest } from '../hw/bits.ts';
import { LAPIC, LAPIC_MODE_X2APIC } from '../hw/lapic.ts';
import { VAPIC } from '../hw/vapic.ts';
import { kvmX2apicMsrAccess, X2APIC_MSR, type X2apicMsrOutcome } from '../hw/x2apic-msr.ts';
import { EXIT_REASON, type Sink } from '../platform/events.ts';
import { GUEST_APIC, guestApicBlockName } from '../platform/guest-apic-block.ts';
import { guestEoi, guestSelfIpi, guestWriteTpr, vmEntry, vmExit } from '../platform/hardware.ts';
import { vcpuHasThread, vcpuRunningOn, type World } from '../platform/world.ts';
import { apicvInhibited, kvmEmulatedEoi } from './apicv-inhibit.ts';
import { guestApicWrite, KVM_APIC_LVR } from './guest-apic.ts';

/**
 * Whether a `guest.msr` step may name this MSR: for a read, the registers the model keeps and the
 * write-only EOI and SELF IPI (whose reads are #GP); for a write, the TPR, EOI, SVR and the
 * read-only registers (#GP). ICR and SELF IPI writes are guest.icr and guest.selfIpi.
 */
export function guestMsrSupported(msr: number, write: boolean): boolean {
  if (write)
    return msr === X2APIC_MSR.TPR || msr === X2APIC_MSR.EOI || msr === X2APIC_MSR.SVR || readOnly(msr);
  if (msr === X2APIC_MSR.EOI || msr === X2APIC_MSR.SELF_IPI || msr === X2APIC_MSR.ICR) return true;
  if (msr >= X2APIC_MSR.ISR0 && msr < X2APIC_MSR.ISR0 + 8) return true;
  if (msr >= X2APIC_MSR.IRR0 && msr < X2APIC_MSR.IRR0 + 8) return true;
  return [
    X2APIC_MSR.ID,
    X2APIC_MSR.VERSION,
    X2APIC_MSR.TPR,
    X2APIC_MSR.PPR,
    X2APIC_MSR.LDR,
    X2APIC_MSR.SVR,
  ].includes(msr as 0x802);
}

/** Registers whose WRMSR KVM refuses with #GP in x2APIC mode (read-only). */
function readOnly(msr: number): boolean {
  return (
    msr === X2APIC_MSR.ID ||
    msr === X2APIC_MSR.VERSION ||
    msr === X2APIC_MSR.PPR ||
    msr === X2APIC_MSR.LDR ||
    (msr >= X2APIC_MSR.ISR0 && msr < X2APIC_MSR.ISR0 + 8) ||
    (msr >= X2APIC_MSR.IRR0 && msr < X2APIC_MSR.IRR0 + 8)
  );
}

/** The low 32 bits of a readable register of vCPU x (KVM's register page is the virtual-APIC page). */
function registerLow(w: World, x: number, o: number, msr: number): number {
  const v = w.L.vapic[x];
  const id = w.m[o + LAPIC.ID];
  if (msr >= X2APIC_MSR.ISR0 && msr < X2APIC_MSR.ISR0 + 8) return w.m[v + VAPIC.VISR + msr - X2APIC_MSR.ISR0];
  if (msr >= X2APIC_MSR.IRR0 && msr < X2APIC_MSR.IRR0 + 8) return w.m[v + VAPIC.VIRR + msr - X2APIC_MSR.IRR0];
  switch (msr) {
    case X2APIC_MSR.ID:
      return id >>> 0;
    case X2APIC_MSR.VERSION:
      return KVM_APIC_LVR;
    case X2APIC_MSR.TPR:
      return w.m[v + VAPIC.VTPR];
    case X2APIC_MSR.PPR:
      // apic_update_ppr (SDM 11.8.3.1); with APICv the CPU keeps the same value in VPPR.
      return processorPriority(w.m[v + VAPIC.VTPR], Math.max(0, regHighest(w.m, v + VAPIC.VISR)));
    case X2APIC_MSR.LDR:
      // SDM Vol. 3A 11.12.10.2: cluster ID (x2APIC ID[19:4]) in bits 31:16, 1 << ID[3:0] below.
      return (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
    case X2APIC_MSR.SVR:
      return w.m[o + LAPIC.SVR];
    default:
      return w.m[o + GUEST_APIC.ICR_LO];
  }
}

/**
 * vCPU x executes RDMSR (`write` undefined) or WRMSR of `msr` with EDX:EAX = hi:lo. Returns the
 * outcome of the hardware rule (for traces and tests).
 */
export function guestX2apicMsr(
  w: World,
  sink: Sink,
  x: number,
  msr: number,
  write: boolean,
  lo = 0,
  hi = 0,
): X2apicMsrOutcome {
  const o = w.L.extra.get(guestApicBlockName(x))!;
  const x2apic = w.m[o + LAPIC.MODE] === LAPIC_MODE_X2APIC;
  const active = w.machine.features.apicv && !apicvInhibited(w, x);
  const mode = { x2apic, apicv: active, ipiv: active && w.machine.features.ipiv };
  const r = kvmX2apicMsrAccess(mode, msr, write, lo, hi);
  w.m[o + GUEST_APIC.READ_HIT] = 0;
  const gp = () => {
    w.m[o + GUEST_APIC.GP]++;
  };
  const p = vcpuRunningOn(w, x);
  const reenter = () => {
    if (p >= 0 && !vcpuHasThread(w, x)) vmEntry(w, sink, x, p);
  };
  switch (r) {
    case 'read-virtual-apic':
      w.m[o + GUEST_APIC.READ] = registerLow(w, x, o, msr);
      w.m[o + GUEST_APIC.READ_HIT] = 1;
      return r;
    case 'gp':
      gp();
      return r;
    case 'tpr-virtualization':
      guestWriteTpr(w, sink, x, lo & 0xff);
      return r;
    case 'eoi-virtualization':
      guestEoi(w, sink, x);
      return r;
    case 'self-ipi-virtualization':
    case 'apic-write-exit':
      // SELF IPI (an APIC-write exit only for a vector below 16, which guestSelfIpi takes).
      guestSelfIpi(w, sink, x, lo & 0xff);
      return r;
    case 'msr-read-exit':
      vmExit(w, sink, x, EXIT_REASON.MSR_READ, msr);
      if (!x2apic || msr === X2APIC_MSR.EOI || msr === X2APIC_MSR.SELF_IPI) gp();
      else {
        w.m[o + GUEST_APIC.READ] = registerLow(w, x, o, msr);
        w.m[o + GUEST_APIC.READ_HIT] = 1;
      }
      reenter();
      return r;
    case 'msr-write-exit':
      // kvm_lapic_msr_write: bits 63:32 are reserved outside the ICR; an EOI is apic_set_eoi.
      if (x2apic && msr === X2APIC_MSR.EOI && hi === 0) {
        kvmEmulatedEoi(w, sink, x);
        return r;
      }
      if (x2apic && msr === X2APIC_MSR.SVR && hi === 0) {
        guestApicWrite(w, sink, x, 'SVR', lo);
        return r;
      }
      // Not in x2APIC mode, a read-only register, or a set bit in 63:32: KVM's #GP.
      vmExit(w, sink, x, EXIT_REASON.MSR_WRITE, msr);
      gp();
      reenter();
      return r;
    default:
      return r;
  }
}
