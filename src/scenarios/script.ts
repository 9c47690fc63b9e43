/**
 * A scenario's `steps` as a program: the script actor, whose steps fire in order (ARCHITECTURE.md:
 * `run` is the same model with a chooser that follows a script). Each script step is emitted once,
 * here, as instructions of the same kind as an actor's: hardware operations (a guest register
 * write, a VM entry or exit, a physical interrupt, an I/O APIC line) are one step each; the AMD
 * AVIC operations are KVM's own stepped paths (kvm/avic.ts), the same the checker runs.
 *
 * A step that the state at that point makes impossible (a VM exit of a vCPU that is not in guest
 * mode, a VM entry on a pCPU that already runs a vCPU) is not enabled there, and says why
 * (Instr.why): `irqlab run` then stops with that reason, and the checker never takes it.
 */

import { LVT_MASKED, xapicMmioAvailable } from '../model/hw/apic-state.ts';
import { hex } from '../model/hw/bits.ts';
import { LAPIC, LAPIC_MODE_X2APIC, LAPIC_MODE_XAPIC } from '../model/hw/lapic.ts';
import {
  ndstForApicId,
  PID,
  piClearSn,
  piControlLo,
  piSetOn,
  piSetSn,
  piTestOn,
  piTestSn,
} from '../model/hw/pid.ts';
import { vapicVid } from '../model/hw/vapic.ts';
import { apicvInhibited, kvmEmulatedEoi } from '../model/kvm/apicv-inhibit.ts';
import {
  emitAvicBlocking,
  emitAvicDevicePost,
  emitAvicLoad,
  emitAvicPut,
  emitSvmDeliverInterrupt,
} from '../model/kvm/avic.ts';
import { emitIcrExit, kvmIcrTargets } from '../model/kvm/fastpath.ts';
import {
  guestApicIsTarget,
  guestApicMmioWrite,
  guestApicRead,
  guestApicWrite,
  guestIcrFault,
  guestIcrRawWrite,
  guestIcrStore,
  hostSetApicRegisters,
} from '../model/kvm/guest-apic.ts';
import {
  type GuestIoapicWrite,
  guestIoapicLine,
  guestIoapicMask,
  guestIoapicReg,
  guestIoapicWrite,
} from '../model/kvm/guest-ioapic.ts';
import { guestX2apicMsr } from '../model/kvm/guest-msr.ts';
import { kvmTimeAdvance, kvmTimerWrite, type TimerWrite } from '../model/kvm/lapic-timer.ts';
import { kvmGuestIret } from '../model/kvm/nmi-window.ts';
import { type Instr, NEXT, type ProgramBuilder } from '../model/kvm/program.ts';
import { KVM_VCPU, MODE_IN_GUEST, MODE_OUTSIDE_GUEST } from '../model/kvm/state.ts';
import type { Variant } from '../model/kvm/variants.ts';
import { avicGuestEoi, avicGuestIcr, avicGuestSelfIpi, avicGuestTpr } from '../model/platform/avic-steps.ts';
import { EXIT_REASON } from '../model/platform/events.ts';
import { GUEST_APIC, guestApicBlockName } from '../model/platform/guest-apic-block.ts';
import {
  guestEndStiShadow,
  guestEoi,
  guestHlt,
  guestSelfIpi,
  guestSetIf,
  guestWriteIcr,
  guestWriteTpr,
  hostEoi,
  hostSetIf,
  hostSetLapic,
  type IcrWrite,
  icrWritePath,
  sendPhysicalInterrupt,
  vmEntry,
  vmExit,
  vtdPostTo,
} from '../model/platform/hardware.ts';
import { ioapicLineStep, ioapicMaskStep } from '../model/platform/ioapic-steps.ts';
import { PCPU, VCPU } from '../model/platform/layout.ts';
import type { Machine } from '../model/platform/machine.ts';
import { pcpuApicId, runningVcpu, vcpuRunningOn, type World } from '../model/platform/world.ts';
import type { Step } from './schema.ts';

const DELIVERY_MODE = { fixed: 0, lowest: 1, smi: 2, nmi: 4, init: 5, sipi: 6 } as const;
const SHORTHAND = { none: 0, self: 1, all: 2, others: 3 } as const;

/** The kernel-function slot of a one-instruction script step: its label says what it does. */
export const SCRIPT_FN = 'script';

/** A precondition: null when the step can run, else why not. */
type Pre = (w: World) => string | null;

/**
 * Makes the instructions from `start` on wait for `pre` at their first step, which then says why
 * it cannot run.
 */
function guard(b: ProgramBuilder, start: number, pre: Pre): void {
  const first: Instr = b.code[start];
  const inner = first.enabled;
  first.enabled = (w, a) => pre(w) === null && (inner === undefined || inner(w, a));
  first.why = (w) => pre(w) ?? 'it waits for another actor';
}

function notInGuest(x: number, step?: string): Pre {
  return (w) => {
    const on = vcpuRunningOn(w, x);
    if (on < 0) return null;
    return step === undefined
      ? `vcpu${x} already runs in guest mode on pcpu${on}`
      : `vcpu${x} runs in guest mode on pcpu${on}: ${step} needs it in root mode`;
  };
}

function pcpuFree(p: number): Pre {
  return (w) => {
    const other = runningVcpu(w, p);
    return other >= 0 ? `pcpu${p} already runs vcpu${other} in guest mode` : null;
  };
}

function both(a: Pre, b: Pre): Pre {
  return (w) => a(w) ?? b(w);
}

/**
 * A guest ICR write of `icr` by vCPU x (icrWritePath says how the CPU takes it): one guest step
 * when it is virtualized (or on AVIC); else the exit, KVM's emulation for every target KVM finds
 * and the re-entry (fastpath.ts emitIcrExit), the same steps as a vCPU thread's ICR write in
 * `irqlab check`. With run-time APIC IDs (machine.apicRegisters) every vCPU is a candidate,
 * matched when KVM sends (guestApicIsTarget).
 */
function emitGuestIcr(
  b: ProgramBuilder,
  v: Variant,
  machine: Machine,
  x: number,
  icr: IcrWrite,
  label: string,
): void {
  const start = b.code.length;
  const end = b.fresh('icr_end');
  const tEnd = b.target(end);
  const path = b.avic ? 'avic' : icrWritePath(machine, icr);
  // A self IPI the CPU virtualizes while APICv is active exits once APICv is inhibited
  // (kvm/apicv-inhibit.ts): the step tests VID when it runs and falls through to KVM's emulation.
  const selfMayExit = path === 'self' && b.apicvInhibitable;
  if (path !== 'exit' && !selfMayExit) {
    b.step(SCRIPT_FN, label, (w, _a, sink) => {
      if (b.avic) avicGuestIcr(w, sink, x, icr);
      else guestWriteIcr(w, sink, x, icr, machine);
      return NEXT;
    });
    b.code[start].actor = `vcpu${x}`;
    b.code[start].vcpu = x;
    b.mark(end);
    mmioIgnoredInX2apicMode(b, machine, start, x, tEnd);
    return;
  }
  if (selfMayExit)
    b.step(SCRIPT_FN, label, (w, _a, sink) => {
      if (!vapicVid(w.m, w.L.vapic[x])) return NEXT;
      guestWriteIcr(w, sink, x, icr, machine);
      return tEnd.pc;
    });
  const exitAt = b.code.length;
  const dynamic =
    machine.apicRegisters === true && icr.shorthand === 0 && [0, 1, 4].includes(icr.deliveryMode);
  emitIcrExit(
    b,
    v,
    x,
    selfMayExit ? [x] : dynamic ? machine.vcpus.map((_, i) => i) : kvmIcrTargets(machine, x, icr),
    icr.vector,
    // Under IPI virtualization KVM leaves WRMSR 830H unintercepted, so a write IPIv does not
    // virtualize (a shorthand, logical, non-fixed) is a trap-like APIC-write exit at 300H, which
    // the fastpath does not take (SDM Vol. 3C "IPI Virtualization"; x2apic-msr.ts icrWriteEmulation).
    machine.x2apic && !machine.features.ipiv,
    icr.deliveryMode === 4,
    dynamic
      ? (w, t) =>
          guestApicIsTarget(w, x, t, {
            deliveryMode: icr.deliveryMode,
            logical: icr.logical,
            dest: icr.dest,
            vector: icr.vector,
          })
      : undefined,
  );
  for (let pc = start; pc < b.code.length; pc++) {
    b.code[pc].actor = 'host';
    b.code[pc].vcpu = x;
  }
  b.code[start].actor = `vcpu${x}`;
  b.code[exitAt].actor = `vcpu${x}`;
  b.code[exitAt].fn = SCRIPT_FN;
  b.code[exitAt].label = `${label} (exits)`;
  b.mark(end);
  guard(b, start, (w) =>
    vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot write the ICR` : null,
  );
  mmioIgnoredInX2apicMode(b, machine, start, x, tEnd);
}

/**
 * An xAPIC-format ICR write (the MMIO page) by a vCPU whose APIC is in x2APIC mode now: the
 * memory-mapped interface is not available in x2APIC mode (SDM Vol. 3A 11.12.1.2; hw/apic-state.ts
 * xapicMmioAvailable), and KVM, which turns "virtualize APIC accesses" off for such a vCPU
 * (vmx_set_virtual_apic_mode), lets the write land in the page as memory: nothing is sent (KVM
 * selftest vmx_apicv_updates_test.c: the "bad" IPI must not arrive). Machines with apicRegisters only.
 */
function mmioIgnoredInX2apicMode(
  b: ProgramBuilder,
  machine: Machine,
  start: number,
  x: number,
  tEnd: { pc: number },
): void {
  if (!machine.apicRegisters || machine.x2apic || b.avic) return;
  const first = b.code[start];
  const inner = first.exec;
  first.exec = (w, a, sink) => {
    const ga = w.L.guestApic;
    if (ga !== undefined && !xapicMmioAvailable(w.m[ga[x] + LAPIC.MODE])) return tEnd.pc;
    return inner(w, a, sink);
  };
}

/**
 * A guest ICR write in the format of the vCPU's own APIC mode (machine.apicRegisters): `emitFor`
 * emits the step for a machine in one mode; it is emitted for the machine's mode and, after it, for
 * the other one. The first instruction tests the vCPU's mode when it runs (IA32_APIC_BASE.EXTD, SDM
 * Vol. 3A 11.12.1): in the machine's mode it goes on as before; in the other it does the other
 * path's first instruction in its place and continues there. In x2APIC mode the ICR is MSR 830H, one
 * 64-bit write with a 32-bit destination (11.12.9), which exits without IPI virtualization (SDM Vol.
 * 3C 29.5; x2apic-msr.ts kvmX2apicMsrAccess) and which KVM emulates (kvm_x2apic_icr_write); in xAPIC
 * mode it is the MMIO page at 300H/310H (an APIC-write exit, KVM's kvm_lapic_reg_write). A disabled
 * APIC keeps the machine's path (the page is not the APIC then: mmioIgnoredInX2apicMode).
 */
function emitIcrInOwnMode(
  b: ProgramBuilder,
  machine: Machine,
  x: number,
  emitFor: (m: Machine) => void,
): void {
  const start = b.code.length;
  emitFor(machine);
  if (!machine.apicRegisters || b.avic) return;
  const mainEnd = b.code.length;
  const altStart = b.code.length;
  emitFor({ ...machine, x2apic: !machine.x2apic });
  const end = b.fresh('icr_mode_end');
  const tEnd = b.target(end);
  b.mark(end);
  // The machine-mode path ends where the other begins: its fall-through and its jumps to its end go
  // to the end of both.
  for (let pc = start; pc < mainEnd; pc++) {
    const ins = b.code[pc];
    const inner = ins.exec;
    const last = pc === mainEnd - 1;
    ins.exec = (w, a, sink) => {
      const r = inner(w, a, sink);
      if (r === NEXT) return last ? tEnd.pc : NEXT;
      return r === mainEnd ? tEnd.pc : r;
    };
  }
  const first = b.code[start];
  const own = first.exec;
  const alt = b.code[altStart];
  const otherMode = machine.x2apic ? LAPIC_MODE_XAPIC : LAPIC_MODE_X2APIC;
  first.exec = (w, a, sink) => {
    if (w.m[w.L.guestApic![x] + LAPIC.MODE] !== otherMode) return own(w, a, sink);
    const r = alt.exec(w, a, sink);
    return r === NEXT ? altStart + 1 : r;
  };
}

/**
 * A raw ICR write of `lo`/`hi` by vCPU x in the format of `machine`'s mode (guestIcrRawWrite): a
 * reserved x2APIC bit is #GP; else the register keeps the value and the IPI goes as for guest.icr.
 */
function emitIcrRaw(
  b: ProgramBuilder,
  v: Variant,
  machine: Machine,
  x: number,
  lo: number,
  hi: number,
): void {
  const start = b.code.length;
  const { reg, msg } = guestIcrRawWrite(machine.x2apic, lo, hi);
  const label = `guest writes ICR ${hex(hi)}:${hex(lo)}`;
  if (reg === null) {
    // A reserved x2APIC bit: #GP, nothing stored, nothing sent.
    b.step(SCRIPT_FN, `${label} (#GP)`, (w, _a, sink) => {
      guestIcrFault(w, sink, x);
      return NEXT;
    });
    b.code[start].actor = `vcpu${x}`;
    b.code[start].vcpu = x;
    guard(b, start, (w) =>
      vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot write the ICR` : null,
    );
    return;
  }
  // A reserved delivery mode (3 or 7) is stored and sent to no one: it exits like any
  // non-virtualized write, and KVM finds no target for it.
  const icr: IcrWrite = {
    vector: msg?.vector ?? reg.lo & 0xff,
    deliveryMode: msg?.deliveryMode ?? (reg.lo >>> 8) & 7,
    logical: msg?.destMode === 1,
    levelTriggered: msg?.triggerMode === 1,
    shorthand: msg?.shorthand ?? 0,
    dest: msg?.dest ?? 0,
  };
  emitGuestIcr(b, v, machine, x, icr, label);
  // The register holds the value before anything is sent (KVM writes it, then sends).
  const first = b.code[start];
  const inner = first.exec;
  first.exec = (w, a, sink) => {
    guestIcrStore(w, x, reg);
    return inner(w, a, sink);
  };
}

/** One script step as instructions appended to `b` (the script actor's program). */
/** The redirection-entry fields a `guestIoapic.write` step (script or actor) changes, and a label. */
export function guestIoapicWriteFields(st: {
  vector?: number;
  trigger?: 'edge' | 'level';
  masked?: boolean;
  dest?: number;
  destMode?: 'physical' | 'logical';
  deliveryMode?: 'fixed' | 'lowest' | 'nmi';
}): { wr: GuestIoapicWrite; what: string } {
  const wr: GuestIoapicWrite = {
    ...(st.vector !== undefined ? { vector: st.vector } : {}),
    ...(st.trigger !== undefined ? { triggerMode: st.trigger === 'level' ? 1 : 0 } : {}),
    ...(st.masked !== undefined ? { mask: st.masked ? 1 : 0 } : {}),
    ...(st.dest !== undefined ? { dest: st.dest } : {}),
    ...(st.destMode !== undefined ? { destMode: st.destMode === 'logical' ? 1 : 0 } : {}),
    ...(st.deliveryMode !== undefined
      ? { deliveryMode: ({ fixed: 0, lowest: 1, nmi: 4 } as const)[st.deliveryMode] }
      : {}),
  };
  const what = Object.entries(wr)
    .map(([k, val]) => `${k}=${k === 'vector' || k === 'dest' ? hex(val as number) : val}`)
    .join(' ');
  return { wr, what };
}

export function emitScriptStep(b: ProgramBuilder, v: Variant, machine: Machine, st: Step): void {
  const avic = b.avic;
  const start = b.code.length;
  // A script step is one instruction done by `actor` (a guest, the IOMMU, the host, a CPU).
  const one = (actor: string, label: string, exec: Instr['exec']) => {
    b.step(SCRIPT_FN, label, exec);
    const ins = b.code[b.code.length - 1];
    ins.actor = actor;
    if ('vcpu' in st && st.vcpu !== undefined) ins.vcpu = st.vcpu;
  };
  /** The instructions emitted from `start` on (a KVM path) are done by `actor` on `vcpu`. */
  const by = (actor: string, vcpu: number) => {
    for (let pc = start; pc < b.code.length; pc++) {
      b.code[pc].actor = actor;
      b.code[pc].vcpu = vcpu;
    }
  };
  switch (st.do) {
    case 'device.post': {
      const i = st.irte;
      const e =
        i !== undefined ? machine.irtes[i] : { vcpu: st.vcpu!, vector: st.vector!, urg: st.urg ?? false };
      if (avic) {
        // The loader lets only the IRTE form through on an AVIC machine. The IOMMU posts, and the
        // host's GA-log handler runs as the next step (the same steps as a device actor's).
        emitAvicDevicePost(b, i!);
        b.code[start].actor = 'iommu';
        b.code[start].fn = SCRIPT_FN;
        b.code[start].label = `post ${hex(e.vector)} to vcpu${e.vcpu} via GA IRTE ${i}`;
        b.code[start + 1].actor = 'host';
        return;
      }
      const via = i !== undefined ? ` via IRTE ${i}` : '';
      one('iommu', `post ${hex(e.vector)} to vcpu${e.vcpu}${via}${e.urg ? ' (URG)' : ''}`, (w, _a, sink) => {
        vtdPostTo(w, sink, e.vcpu, e.vector, e.urg);
        return NEXT;
      });
      return;
    }
    case 'guest.tpr':
      one(`vcpu${st.vcpu}`, `guest writes TPR ${hex(st.value)}`, (w, _a, sink) => {
        if (avic) avicGuestTpr(w, sink, st.vcpu, st.value);
        else guestWriteTpr(w, sink, st.vcpu, st.value);
        return NEXT;
      });
      return;
    case 'guest.eoi':
      one(`vcpu${st.vcpu}`, 'guest writes EOI', (w, _a, sink) => {
        if (avic) avicGuestEoi(w, sink, st.vcpu);
        // Not virtualized while APICv is inhibited: the exit and KVM's emulation.
        else if (b.apicvInhibitable && apicvInhibited(w, st.vcpu)) kvmEmulatedEoi(w, sink, st.vcpu);
        else guestEoi(w, sink, st.vcpu);
        return NEXT;
      });
      return;
    case 'guest.selfIpi':
      one(`vcpu${st.vcpu}`, `guest writes SELF_IPI ${hex(st.vector)}`, (w, _a, sink) => {
        if (avic) avicGuestSelfIpi(w, sink, st.vcpu, st.vector);
        else guestSelfIpi(w, sink, st.vcpu, st.vector);
        return NEXT;
      });
      return;
    case 'guest.icr': {
      const icr: IcrWrite = {
        vector: st.vector ?? 0,
        deliveryMode: DELIVERY_MODE[st.deliveryMode],
        logical: st.destMode === 'logical',
        levelTriggered: st.trigger === 'level',
        shorthand: SHORTHAND[st.shorthand],
        dest: st.dest ?? 0,
      };
      const to = st.shorthand === 'none' ? `dest ${st.dest}` : `shorthand ${st.shorthand}`;
      const label = `guest writes ICR: ${st.deliveryMode} ${hex(st.vector ?? 0)} ${to}`;
      // `via: "mmio"` is a write to the xAPIC page whatever the mode (ignored in x2APIC mode).
      if (st.via === 'mmio') emitGuestIcr(b, v, machine, st.vcpu, icr, label);
      else emitIcrInOwnMode(b, machine, st.vcpu, (m) => emitGuestIcr(b, v, m, st.vcpu, icr, label));
      return;
    }
    case 'guest.icrRaw': {
      const x = st.vcpu;
      emitIcrInOwnMode(b, machine, x, (m) => emitIcrRaw(b, v, m, x, st.lo, st.hi));
      return;
    }
    case 'guest.nop':
      // Any instruction that touches no interrupt state: it ends an STI shadow (SDM Vol. 3A 6.8.3).
      one(`vcpu${st.vcpu}`, 'guest executes an instruction', (w) => {
        guestEndStiShadow(w, st.vcpu);
        return NEXT;
      });
      return;
    case 'guest.sti':
    case 'guest.cli':
      one(`vcpu${st.vcpu}`, st.do === 'guest.sti' ? 'guest STI' : 'guest CLI', (w) => {
        guestSetIf(w, st.vcpu, st.do === 'guest.sti');
        return NEXT;
      });
      return;
    case 'host.setLapic': {
      const x = st.vcpu;
      const parts = [
        st.tpr !== undefined ? `TPR=${hex(st.tpr)}` : '',
        st.irr !== undefined ? `IRR={${st.irr.map(hex).join(',')}}` : '',
        st.isr !== undefined ? `ISR={${st.isr.map(hex).join(',')}}` : '',
        st.rvi !== undefined ? `RVI=${hex(st.rvi)}` : '',
        st.svi !== undefined ? `SVI=${hex(st.svi)}` : '',
        st.irqWindowExiting !== undefined ? `interrupt-window exiting=${st.irqWindowExiting ? 1 : 0}` : '',
        st.apicBase !== undefined ? `APIC_BASE=${hex(st.apicBase)}` : '',
        st.id !== undefined ? `ID=${hex(st.id)}` : '',
      ].filter(Boolean);
      one('host', `host writes vcpu${x} APIC state ${parts.join(' ')}`, (w) => {
        hostSetLapic(w, x, st);
        if (st.apicBase !== undefined || st.id !== undefined)
          hostSetApicRegisters(w, x, { apicBase: st.apicBase, id: st.id });
        return NEXT;
      });
      guard(b, start, notInGuest(x, 'host.setLapic'));
      return;
    }
    case 'guest.timer': {
      const x = st.vcpu;
      const code = { 'one-shot': 0, periodic: 1, 'tsc-deadline': 2 }[st.mode];
      // Divide configuration bits 3, 1:0 (SDM figure "Divide Configuration Register"): divide by
      // 2^(code+1), code 111b divides by 1.
      const divCode = st.divide === undefined ? 0 : st.divide === 1 ? 7 : Math.log2(st.divide) - 1;
      const wr: TimerWrite = {
        lvt: st.vector === undefined ? undefined : st.vector | (st.masked ? LVT_MASKED : 0) | (code << 17),
        divide: st.divide === undefined ? undefined : ((divCode & 4) << 1) | (divCode & 3),
        initialCount: st.initialCount,
        deadline: st.deadline,
      };
      const parts = [
        st.vector !== undefined ? `LVT ${st.mode} ${hex(st.vector)}${st.masked ? ' masked' : ''}` : '',
        st.divide !== undefined ? `divide by ${st.divide}` : '',
        st.initialCount !== undefined ? `initial count ${st.initialCount}` : '',
        st.deadline !== undefined ? `TSC deadline ${st.deadline}` : '',
      ].filter(Boolean);
      one(`vcpu${x}`, `guest programs its timer: ${parts.join(', ')}`, (w, _a, sink) => {
        kvmTimerWrite(w, sink, x, wr);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot write its timer` : null,
      );
      return;
    }
    case 'guest.apicRead': {
      const x = st.vcpu;
      one(`vcpu${x}`, `guest reads ${hex(st.address)}`, (w, _a, sink) => {
        guestApicRead(w, sink, x, st.address);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot read its APIC` : null,
      );
      return;
    }
    case 'guest.apicWrite': {
      const x = st.vcpu;
      const hi = st.hi ?? 0;
      one(
        `vcpu${x}`,
        `guest writes ${st.reg} ${hi !== 0 ? `${hex(hi)}:` : ''}${hex(st.value)}`,
        (w, _a, sink) => {
          guestApicWrite(w, sink, x, st.reg, st.value, hi);
          return NEXT;
        },
      );
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot write its APIC` : null,
      );
      return;
    }
    case 'guest.mmio': {
      const x = st.vcpu;
      const what =
        st.write === undefined ? `reads ${hex(st.offset)}` : `writes ${hex(st.write)} to ${hex(st.offset)}`;
      one(`vcpu${x}`, `guest ${what} of its xAPIC page`, (w, _a, sink) => {
        if (st.write === undefined) {
          const base = w.m[w.L.extra.get(guestApicBlockName(x))! + GUEST_APIC.BASE] & 0xfffff000;
          guestApicRead(w, sink, x, (base | st.offset) >>> 0);
        } else guestApicMmioWrite(w, sink, x, st.offset, st.write);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode: it cannot reach its APIC` : null,
      );
      return;
    }
    case 'guest.msr': {
      const x = st.vcpu;
      const what =
        st.write === undefined
          ? `RDMSR ${hex(st.msr)}`
          : `WRMSR ${hex(st.msr)} ${st.hi !== 0 ? `${hex(st.hi)}:` : ''}${hex(st.write)}`;
      one(`vcpu${x}`, `guest ${what}`, (w, _a, sink) => {
        guestX2apicMsr(w, sink, x, st.msr, st.write !== undefined, st.write ?? 0, st.hi);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0
          ? `vcpu${x} is not running in guest mode: it cannot execute RDMSR/WRMSR`
          : null,
      );
      return;
    }
    case 'time.advance':
      one('time', `${st.ticks} timer ticks pass`, (w, _a, sink) => {
        kvmTimeAdvance(w, sink, st.ticks);
        return NEXT;
      });
      return;
    case 'guestIoapic.line':
      one(
        'ioapic',
        `guest I/O APIC line ${st.pin} ${st.level ? 'asserted' : 'deasserted'}`,
        (w, _a, sink) => {
          guestIoapicLine(w, sink, st.pin, st.level);
          return NEXT;
        },
      );
      return;
    case 'guestIoapic.mask':
      one('host', `${st.masked ? 'masks' : 'unmasks'} guest I/O APIC pin ${st.pin}`, (w, _a, sink) => {
        guestIoapicMask(w, sink, st.pin, st.masked);
        return NEXT;
      });
      return;
    case 'guestIoapic.write': {
      const x = st.vcpu;
      const { wr, what } = guestIoapicWriteFields(st);
      one(`vcpu${x}`, `guest writes guest I/O APIC pin ${st.pin}: ${what}`, (w, _a, sink) => {
        guestIoapicWrite(w, sink, x, st.pin, wr);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0
          ? `vcpu${x} is not running in guest mode: it cannot write the I/O APIC`
          : null,
      );
      return;
    }
    case 'guestIoapic.reg': {
      const x = st.vcpu;
      const what =
        st.write === undefined
          ? `reads register ${hex(st.index)}`
          : `writes ${hex(st.write)} to register ${hex(st.index)}`;
      one(`vcpu${x}`, `guest ${what} of the guest I/O APIC`, (w, _a, sink) => {
        guestIoapicReg(w, sink, x, st.index, st.write);
        return NEXT;
      });
      guard(b, start, (w) =>
        vcpuRunningOn(w, x) < 0
          ? `vcpu${x} is not running in guest mode: it cannot reach the I/O APIC`
          : null,
      );
      return;
    }
    case 'guest.iret':
      one(`vcpu${st.vcpu}`, 'guest IRET', (w, _a, sink) => {
        kvmGuestIret(w, sink, st.vcpu);
        return NEXT;
      });
      return;
    case 'guest.hlt':
      // With HLT exiting, HLT is a VM exit with basic reason HLT (SDM Vol. 3C, "Instructions That
      // Cause VM Exits Conditionally"); without, the activity state becomes HLT. A script has no
      // KVM thread to handle the exit: the step ends there, as a guest step's other exits do.
      if (st.exiting) {
        one(`vcpu${st.vcpu}`, 'guest HLT: HLT exit', (w, _a, sink) => {
          vmExit(w, sink, st.vcpu, EXIT_REASON.HLT, 0);
          return NEXT;
        });
        return;
      }
      one(`vcpu${st.vcpu}`, 'guest HLT', (w) => {
        guestHlt(w, st.vcpu);
        return NEXT;
      });
      return;
    case 'vm.entry': {
      const x = st.vcpu;
      const p = st.pcpu;
      one(`vcpu${x}`, `VM entry on pcpu${p}`, (w, _a, sink) => {
        // A VMCS is current on one pCPU at a time: before loading it on another pCPU, KVM VMCLEARs
        // it on the old one (vmx_vcpu_load_vmcs, loaded_vmcs_clear).
        const was = w.m[w.L.vcpu[x] + VCPU.PCPU] - 1;
        if (was >= 0 && was !== p && w.m[w.L.pcpu[was] + PCPU.VMCS] === x + 1)
          w.m[w.L.pcpu[was] + PCPU.VMCS] = 0;
        vmEntry(w, sink, x, p);
        // KVM's own view of the entry (vcpu_enter_guest): the vCPU is loaded there and in guest
        // mode, so that KVM's paths run by later steps (AVIC delivery, load, put) read it.
        const k = w.L.kvmVcpu[x];
        w.m[k + KVM_VCPU.MODE] = MODE_IN_GUEST;
        w.m[k + KVM_VCPU.LOADED] = p + 1;
        w.m[k + KVM_VCPU.CPU] = p + 1;
        return NEXT;
      });
      guard(b, start, both(notInGuest(x), pcpuFree(p)));
      return;
    }
    case 'vm.exit': {
      const x = st.vcpu;
      one(`vcpu${x}`, `VM exit ${st.reason}`, (w, _a, sink) => {
        vmExit(w, sink, x, EXIT_REASON[st.reason], 0);
        w.m[w.L.kvmVcpu[x] + KVM_VCPU.MODE] = MODE_OUTSIDE_GUEST;
        return NEXT;
      });
      guard(b, start, (w) => (vcpuRunningOn(w, x) < 0 ? `vcpu${x} is not running in guest mode` : null));
      return;
    }
    case 'pid.set': {
      const parts = [
        st.on !== undefined ? `ON=${st.on ? 1 : 0}` : '',
        st.sn !== undefined ? `SN=${st.sn ? 1 : 0}` : '',
        st.nv !== undefined ? `NV=${hex(st.nv)}` : '',
        st.ndst !== undefined ? `NDST=pcpu${st.ndst}` : '',
      ].filter(Boolean);
      one('host', `software sets vcpu${st.vcpu} PID ${parts.join(' ')}`, (w) => {
        const pid = w.L.pid[st.vcpu];
        if (st.on === true) piSetOn(w.m, pid);
        if (st.on === false) w.m[pid + PID.CONTROL] &= ~1;
        if (st.sn === true) piSetSn(w.m, pid);
        if (st.sn === false) piClearSn(w.m, pid);
        if (st.nv !== undefined)
          w.m[pid + PID.CONTROL] = piControlLo(piTestOn(w.m, pid), piTestSn(w.m, pid), st.nv);
        if (st.ndst !== undefined) w.m[pid + PID.NDST] = ndstForApicId(pcpuApicId(st.ndst), w.machine.x2apic);
        return NEXT;
      });
      return;
    }
    case 'cpu.interrupt':
      one(`pcpu${st.pcpu}`, `physical interrupt ${hex(st.vector)} arrives`, (w, _a, sink) => {
        sendPhysicalInterrupt(w, sink, pcpuApicId(st.pcpu), st.vector, -1);
        return NEXT;
      });
      return;
    case 'ioapic.line':
      one('ioapic', `line ${st.pin} ${st.level ? 'asserted' : 'deasserted'}`, (w, _a, sink) => {
        ioapicLineStep(w, sink, st.pin, st.level);
        return NEXT;
      });
      return;
    case 'ioapic.mask':
      one('host', `${st.masked ? 'masks' : 'unmasks'} I/O APIC pin ${st.pin}`, (w, _a, sink) => {
        ioapicMaskStep(w, sink, st.pin, st.masked);
        return NEXT;
      });
      return;
    case 'host.sti':
    case 'host.cli':
      one(`pcpu${st.pcpu}`, st.do === 'host.sti' ? 'host enables IRQs' : 'host disables IRQs', (w) => {
        hostSetIf(w, st.pcpu, st.do === 'host.sti');
        return NEXT;
      });
      return;
    case 'host.eoi':
      one(`pcpu${st.pcpu}`, 'host writes EOI', (w, _a, sink) => {
        hostEoi(w, sink, st.pcpu);
        return NEXT;
      });
      return;
    case 'avic.load':
      emitAvicLoad(b, st.vcpu, st.pcpu);
      by('host', st.vcpu);
      guard(b, start, both(notInGuest(st.vcpu, 'avic.load'), pcpuFree(st.pcpu)));
      return;
    case 'avic.put': {
      const x = st.vcpu;
      // A blocking put is avic_vcpu_blocking (GALogIntr set), which leaves the vCPU loaded while it
      // sleeps in kvm_vcpu_block; any other is kvm_sched_out's avic_vcpu_put and the task switch.
      if (st.blocking) {
        emitAvicBlocking(b, v, x);
      } else emitAvicPut(b, v, x, true);
      by('host', x);
      guard(
        b,
        start,
        (w) =>
          notInGuest(x, 'avic.put')(w) ??
          (w.m[w.L.kvmVcpu[x] + KVM_VCPU.LOADED] === 0 ? `vcpu${x} is not loaded on a pCPU` : null),
      );
      return;
    }
    case 'avic.deliver':
      emitSvmDeliverInterrupt(b, v, st.vcpu, st.vector, -1, st.trigger === 'level');
      by('host', st.vcpu);
      return;
  }
}
