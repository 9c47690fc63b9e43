/**
 * Intel IPI virtualization (IPIv): a guest ICR write that is physical-destination, fixed,
 * edge-triggered, unicast and without shorthand is posted by the sending CPU itself, through the
 * VM's PID-pointer table indexed by the destination APIC ID, with the same rule as VT-d posting
 * minus URG (it honours SN, NV and NDST). Everything else is a trap-like APIC-write VM exit with
 * qualification 300H. Sources: Intel ISE reference / SDM "IPI Virtualization"; KVM IPIv series
 * (Zeng Guang, Chao Gao, 2021-22: "sets the bit in PIR and may send a notification ... similar to
 * what IOMMU engine does"). Whether the PIR set and the ON/SN update are one RMW is not confirmed
 * (hw-semantics.md §8); the model takes them as one atomic step, as for VT-d.
 */
import { vtdPost } from './vtd.ts';

/** PID-pointer table entry: the descriptor's physical address with bit 0 = valid (KVM PID_TABLE_ENTRY_VALID). */
export const PID_TABLE_ENTRY_VALID = 1n;

export function pidTableEntry(pidAddress: bigint): bigint {
  return (pidAddress & ~0x3fn) | PID_TABLE_ENTRY_VALID;
}

/** Why an IPI was not virtualized (and so caused an APIC-write VM exit), or 'posted'. */
export type IpivOutcome = 'posted' | 'not-unicast-fixed-physical' | 'index-beyond-last' | 'entry-invalid';

/**
 * Checks whether an ICR write qualifies for IPIv (fixed delivery, physical destination, edge,
 * no shorthand) and whether the table has a valid entry for the destination APIC ID.
 */
export function ipivQualifies(
  icr: { deliveryMode: number; logical: boolean; levelTriggered: boolean; shorthand: number },
  destApicId: number,
  lastPidIndex: number,
  entryValid: boolean,
): IpivOutcome {
  if (icr.deliveryMode !== 0 || icr.logical || icr.levelTriggered || icr.shorthand !== 0) {
    return 'not-unicast-fixed-physical';
  }
  if (destApicId > lastPidIndex) return 'index-beyond-last';
  if (!entryValid) return 'entry-invalid';
  return 'posted';
}

/**
 * The posting done by the sending CPU for a qualifying IPI: PIR[v] = 1; if ON == 0 and SN == 0 then
 * ON = 1 and a notification (NV to NDST) must be sent. Returns whether to notify.
 */
export function ipivPost(m: Uint32Array, pid: number, v: number): boolean {
  return vtdPost(m, pid, v, false);
}
