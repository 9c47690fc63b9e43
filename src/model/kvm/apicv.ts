/**
 * APICv/AVIC activation (kvm-semantics.md section 5): the VM-wide inhibit reasons, the
 * rw_semaphore apicv_update_lock that guards them, the write-locked setter
 * __kvm_set_or_clear_apicv_inhibit that asks every vCPU to update (KVM_REQ_APICV_UPDATE), and the
 * vCPU side, __kvm_vcpu_update_apicv, which recomputes apicv_active under the read lock before VM
 * entry (arch/x86/kvm/x86.c).
 *
 * The lock is two words, readers and writer: taking it is a step enabled only while it is free for
 * that mode, so a waiter is a thread with no enabled step (Linux's rwsem hand-off and writer
 * preference are not modelled: a reader may overtake a waiting writer).
 */
import { sendPhysicalInterrupt } from '../platform/hardware.ts';
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import { RESCHEDULE_VECTOR } from '../platform/machine.ts';
import { pcpuApicId, vcpuRunningOn, type World } from '../platform/world.ts';
import { emitAvicSetPiIrteMode } from './avic-irte.ts';
import { emitRefreshApicvExecCtrl } from './avic-vmcb.ts';
import { ACTOR, NEXT, type ProgramBuilder } from './program.ts';
import { KVM_REQ_APICV_UPDATE, KVM_VCPU, MODE_EXITING_GUEST, MODE_IN_GUEST } from './state.ts';

/** Bit numbers of enum kvm_apicv_inhibit (arch/x86/include/asm/kvm_host.h, 2025). */
export const APICV_INHIBIT_NAMES = [
  'DISABLED',
  'HYPERV',
  'ABSENT',
  'BLOCKIRQ',
  'PHYSICAL_ID_ALIASED',
  'APIC_ID_MODIFIED',
  'APIC_BASE_MODIFIED',
  'NESTED',
  'IRQWIN',
  'PIT_REINJ',
  'SEV',
  'LOGICAL_ID_ALIASED',
  'PHYSICAL_ID_TOO_BIG',
] as const;
export type ApicvInhibit = (typeof APICV_INHIBIT_NAMES)[number];

export function inhibitBit(name: ApicvInhibit): number {
  return 1 << APICV_INHIBIT_NAMES.indexOf(name);
}

/** APICV_INHIBIT_REASON_DISABLED: set at VM creation when enable_apicv is off (kvm_apicv_init). */
export const INHIBIT_DISABLED = inhibitBit('DISABLED');
/** APICV_INHIBIT_REASON_IRQWIN: an SVM vCPU waits for an IRQ window, which needs V_IRQ. */
export const INHIBIT_IRQWIN = inhibitBit('IRQWIN');

/** The VM-wide block `kvm.apicv` (struct kvm_arch), plus instrumentation. */
export const KVM_APICV = {
  /** kvm->arch.apicv_inhibit_reasons, one bit per enum kvm_apicv_inhibit value. */
  INHIBITS: 0,
  /** apicv_update_lock: how many readers hold it. */
  READERS: 1,
  /** apicv_update_lock: 1 while a writer holds it. */
  WRITER: 2,
  /** kvm->arch.apicv_nr_irq_window_req (the `counter` variant). */
  NR_IRQ_WINDOW_REQ: 3,
  /** Instrumentation: write-lock acquisitions made to open or close IRQ windows. */
  IRQWIN_WRITE_LOCKS: 4,
  /** Instrumentation: IRQ windows opened (svm_set_vintr). */
  WINDOWS: 5,
  SIZE: 6,
} as const;

export const KVM_APICV_BLOCK = 'kvm.apicv';

export const KVM_APICV_FIELDS: readonly FieldDesc[] = [
  { name: 'inhibits', offset: KVM_APICV.INHIBITS, kind: 'flags', bits: APICV_INHIBIT_NAMES },
  { name: 'lockReaders', offset: KVM_APICV.READERS, kind: 'u32' },
  { name: 'lockWriter', offset: KVM_APICV.WRITER, kind: 'u32' },
  { name: 'nrIrqWindowReq', offset: KVM_APICV.NR_IRQ_WINDOW_REQ, kind: 'u32' },
  { name: 'irqwinWriteLocks', offset: KVM_APICV.IRQWIN_WRITE_LOCKS, kind: 'u32' },
  { name: 'windows', offset: KVM_APICV.WINDOWS, kind: 'u32' },
];

export const KVM_APICV_EXTRA: ExtraBlock = {
  name: KVM_APICV_BLOCK,
  prefix: 'kvm',
  size: KVM_APICV.SIZE,
  fields: KVM_APICV_FIELDS,
};

export function apicvBase(w: World): number {
  return w.L.extra.get(KVM_APICV_BLOCK)!;
}

// The rw_semaphore, on the words at `base` (pure, for the steps and the tests).

export function downReadOk(m: Uint32Array, base: number): boolean {
  return m[base + KVM_APICV.WRITER] === 0;
}

export function downWriteOk(m: Uint32Array, base: number): boolean {
  return m[base + KVM_APICV.WRITER] === 0 && m[base + KVM_APICV.READERS] === 0;
}

/**
 * The mask __kvm_set_or_clear_apicv_inhibit stores for (reason, set). With `recompute` (the
 * `counter` variant) IRQWIN is never taken from the caller: it is set iff the window count is
 * non-zero, whatever reason changes, so a count changed lazily under the read lock is caught up
 * at the next change of any inhibit (6563ddadd169). Without it the caller's bit is applied as is.
 */
export function inhibitsAfter(
  old: number,
  reason: number,
  set: boolean,
  count: number,
  recompute: boolean,
): number {
  let n = old;
  if (!recompute || reason !== INHIBIT_IRQWIN) n = set ? n | reason : n & ~reason;
  if (recompute) n = count !== 0 ? n | INHIBIT_IRQWIN : n & ~INHIBIT_IRQWIN;
  return n >>> 0;
}

/**
 * The seed's invariant at a point where no writer holds the lock (kvm-semantics.md section 5):
 * the VM is activated (no inhibit) iff no inhibit other than IRQWIN is set and the window count is
 * 0. With another inhibit set, IRQWIN may lag the count (it is caught up lazily) and activation is
 * off either way.
 */
export function activationMatchesCount(inhibits: number, count: number): boolean {
  return (inhibits === 0) === ((inhibits & ~INHIBIT_IRQWIN) === 0 && count === 0);
}

/** down_write(&kvm->arch.apicv_update_lock), as a step that waits while the lock is taken. */
export function emitDownWrite(b: ProgramBuilder, fn: string, irqWindow: boolean): void {
  b.step(
    fn,
    'down_write',
    (w) => {
      const k = apicvBase(w);
      w.m[k + KVM_APICV.WRITER] = 1;
      if (irqWindow) w.m[k + KVM_APICV.IRQWIN_WRITE_LOCKS]++;
      return NEXT;
    },
    (w) => downWriteOk(w.m, apicvBase(w)),
  ).barriers(1);
}

export function emitUpWrite(b: ProgramBuilder, fn: string): void {
  b.step(fn, 'up_write', (w) => {
    w.m[apicvBase(w) + KVM_APICV.WRITER] = 0;
    return NEXT;
  }).barriers(1);
}

export function emitDownRead(b: ProgramBuilder, fn: string): void {
  b.step(
    fn,
    'down_read',
    (w) => {
      w.m[apicvBase(w) + KVM_APICV.READERS]++;
      return NEXT;
    },
    (w) => downReadOk(w.m, apicvBase(w)),
  ).barriers(1);
}

/** up_read, then on to `then` (default: the next step). */
export function emitUpRead(b: ProgramBuilder, fn: string, then?: { pc: number }): void {
  b.step(fn, 'up_read', (w) => {
    w.m[apicvBase(w) + KVM_APICV.READERS]--;
    return then === undefined ? NEXT : then.pc;
  }).barriers(1);
}

/** No vCPU that still has KVM_REQ_APICV_UPDATE pending runs in guest mode. */
function everyVcpuOutOfGuest(w: World): boolean {
  for (let x = 0; x < w.L.kvmVcpu.length; x++) {
    if ((w.m[w.L.kvmVcpu[x] + KVM_VCPU.REQUESTS] & KVM_REQ_APICV_UPDATE) === 0) continue;
    if (vcpuRunningOn(w, x) >= 0) return false;
  }
  return true;
}

/**
 * __kvm_set_or_clear_apicv_inhibit with the write lock held (the caller's down_write/up_write).
 * When activation changes (no inhibit before vs after), kvm_make_all_cpus_request sets
 * KVM_REQ_APICV_UPDATE on every vCPU and kicks those in guest mode (the reschedule IPI after
 * IN_GUEST_MODE -> EXITING_GUEST_MODE), waits until they are out of the guest (KVM_REQUEST_WAIT),
 * and only then stores the new mask, so that a vCPU can neither re-enter nor serve the request
 * with the old one: it needs the read lock. The APIC-access page zap is not modelled. `set` is the
 * direction; `setFromL1` takes it from the thread's L1 instead (the window count's 0<->1 toggle).
 * Uses L0 for the new mask.
 */
export function emitSetOrClearInhibit(
  b: ProgramBuilder,
  reason: number,
  set: boolean | 'L1',
  recompute: boolean,
): void {
  const fn = '__kvm_set_or_clear_apicv_inhibit';
  const done = b.fresh('inhibit_done');
  const tDone = b.target(done);
  b.step(fn, 'compute', (w, a) => {
    const k = apicvBase(w);
    const old = w.m[k + KVM_APICV.INHIBITS];
    const dir = set === 'L1' ? w.m[a + ACTOR.L1] !== 0 : set;
    const n = inhibitsAfter(old, reason, dir, w.m[k + KVM_APICV.NR_IRQ_WINDOW_REQ], recompute);
    if ((old === 0) === (n === 0)) {
      w.m[k + KVM_APICV.INHIBITS] = n;
      return tDone.pc;
    }
    w.m[a + ACTOR.L0] = n;
    return NEXT;
  });
  b.step('kvm_make_all_cpus_request', 'KVM_REQ_APICV_UPDATE', (w, _a, sink) => {
    for (let x = 0; x < w.L.kvmVcpu.length; x++) {
      const kv = w.L.kvmVcpu[x];
      w.m[kv + KVM_VCPU.REQUESTS] |= KVM_REQ_APICV_UPDATE;
      if (w.m[kv + KVM_VCPU.MODE] !== MODE_IN_GUEST) continue;
      w.m[kv + KVM_VCPU.MODE] = MODE_EXITING_GUEST;
      sendPhysicalInterrupt(w, sink, pcpuApicId(w.m[kv + KVM_VCPU.CPU] - 1), RESCHEDULE_VECTOR, -1);
    }
    return NEXT;
  }).barriers(1);
  b.step('kvm_make_all_cpus_request', 'wait_for_ack', () => NEXT, everyVcpuOutOfGuest);
  b.step(fn, 'store_inhibits', (w, a) => {
    w.m[apicvBase(w) + KVM_APICV.INHIBITS] = w.m[a + ACTOR.L0];
    w.m[a + ACTOR.L0] = 0;
    return NEXT;
  });
  b.mark(done);
}

/**
 * kvm_set_or_clear_apicv_inhibit from a VM ioctl (e.g. the PIT switching re-inject mode,
 * kvm_pit_set_reinject): the setter under the write lock. Every change takes the write side.
 */
export function emitInhibitIoctl(b: ProgramBuilder, reason: number, set: boolean, recompute: boolean): void {
  const fn = 'kvm_set_or_clear_apicv_inhibit';
  emitDownWrite(b, fn, false);
  emitSetOrClearInhibit(b, reason, set, recompute);
  emitUpWrite(b, fn);
}

/**
 * The KVM_REQ_APICV_UPDATE part of vcpu_enter_guest: kvm_check_request, then
 * __kvm_vcpu_update_apicv under the read lock: active iff the VM has no inhibit (per-vCPU inhibits,
 * the vendor refresh of the VMCB and the KVM_REQ_EVENT made on deactivation are not modelled).
 */
export function emitVcpuUpdateApicv(b: ProgramBuilder, x: number): void {
  const fn = '__kvm_vcpu_update_apicv';
  const skip = b.fresh('no_apicv_update');
  const tSkip = b.target(skip);
  b.step('vcpu_enter_guest', 'kvm_check_request(KVM_REQ_APICV_UPDATE)', (w) => {
    const kv = w.L.kvmVcpu[x];
    if ((w.m[kv + KVM_VCPU.REQUESTS] & KVM_REQ_APICV_UPDATE) === 0) return tSkip.pc;
    w.m[kv + KVM_VCPU.REQUESTS] &= ~KVM_REQ_APICV_UPDATE;
    return NEXT;
  });
  emitDownRead(b, fn);
  if (b.avicVmcb) emitRefreshApicvExecCtrl(b, x);
  b.step(fn, 'apicv_active', (w) => {
    const active = w.m[apicvBase(w) + KVM_APICV.INHIBITS] === 0;
    w.m[w.L.kvmVcpu[x] + KVM_VCPU.APICV_ACTIVE] = active ? 1 : 0;
    return NEXT;
  });
  if (b.avicIrList) emitAvicSetPiIrteMode(b, x);
  emitUpRead(b, fn);
  b.mark(skip);
}
