/**
 * KVM's optimized APIC map and the APICv inhibits it decides (arch/x86/kvm/lapic.c
 * kvm_recalculate_apic_map, kvm_recalculate_phys_map, kvm_recalculate_logical_map, Sean
 * Christopherson's 2023 series "KVM: x86: APIC fixes"): the map is KVM's own accelerated
 * delivery, and the aliasing that disables it disables APICv too.
 *
 * - Physical: every present APIC takes the slot of its physical ID (the x2APIC ID in x2APIC mode,
 *   the 8-bit xAPIC ID otherwise). A slot already taken (two vCPUs with one ID) makes KVM drop the
 *   map: APICV_INHIBIT_REASON_PHYSICAL_ID_ALIASED. Architecturally every APIC whose ID matches
 *   takes the message (SDM Vol. 3A 11.6.2.1), which the slow path then does (icr.ts
 *   kvmApicMatchDest). The model's VMs do not enable KVM_X2APIC_API_USE_32BIT_IDS, so KVM's x2APIC
 *   hotplug hack (x2apic_format) is not applied.
 * - Logical: every software-enabled APIC with a non-zero LDR must use the same logical mode (xAPIC
 *   flat, xAPIC cluster, or x2APIC), and in xAPIC modes its logical ID must be one bit (a power of
 *   two) in a slot of its cluster nobody else took; else the logical map is disabled:
 *   APICV_INHIBIT_REASON_LOGICAL_ID_ALIASED (also set when the physical map failed).
 * - APIC_ID_MODIFIED: some vCPU in xAPIC mode has an ID other than its vCPU ID truncated to 8 bits.
 *
 * Which of these a vendor honours is its required_apicv_inhibits: VMX_REQUIRED_APICV_INHIBITS has
 * PHYSICAL_ID_ALIASED, APIC_ID_MODIFIED and APIC_BASE_MODIFIED but not LOGICAL_ID_ALIASED (VMX's
 * APICv does not accelerate logical IPIs without IPIv's physical-only table); AMD's
 * AVIC_REQUIRED_APICV_INHIBITS has all four (AVIC's logical APIC ID table). kvm_set_or_clear_apicv_inhibit
 * ignores a reason outside the set. Pure functions: the checker's step calls them without allocating.
 */

import { inhibitBit } from './apicv.ts';

/** APICV_INHIBIT_REASON_PHYSICAL_ID_ALIASED. */
export const INHIBIT_PHYSICAL_ID_ALIASED = inhibitBit('PHYSICAL_ID_ALIASED');
/** APICV_INHIBIT_REASON_LOGICAL_ID_ALIASED. */
export const INHIBIT_LOGICAL_ID_ALIASED = inhibitBit('LOGICAL_ID_ALIASED');
/** APICV_INHIBIT_REASON_APIC_ID_MODIFIED. */
export const INHIBIT_APIC_ID_MODIFIED = inhibitBit('APIC_ID_MODIFIED');
/** APICV_INHIBIT_REASON_APIC_BASE_MODIFIED. */
export const INHIBIT_APIC_BASE_MODIFIED = inhibitBit('APIC_BASE_MODIFIED');

/** The inhibits of kvm_recalculate_apic_map that VMX honours (vmx/main.c VMX_REQUIRED_APICV_INHIBITS). */
export const VMX_MAP_INHIBITS = INHIBIT_PHYSICAL_ID_ALIASED | INHIBIT_APIC_ID_MODIFIED;
/** The inhibits of kvm_recalculate_apic_map that AVIC honours (svm.h AVIC_REQUIRED_APICV_INHIBITS). */
export const AVIC_MAP_INHIBITS = VMX_MAP_INHIBITS | INHIBIT_LOGICAL_ID_ALIASED;

/** One vCPU's APIC as kvm_recalculate_apic_map reads it. */
export interface MapApic {
  /** kvm_apic_present: the APIC is globally enabled (IA32_APIC_BASE.EN). */
  present: boolean;
  x2apic: boolean;
  /** The APIC ID: 8 bits in xAPIC mode (APIC_ID[31:24]), the x2APIC ID in x2APIC mode. */
  id: number;
  /** The vCPU ID (the initial APIC ID). */
  vcpuId: number;
  /** kvm_apic_sw_enabled: SVR bit 8. */
  swEnabled: boolean;
  /** xAPIC: the logical APIC ID, LDR[31:24] (x2APIC derives its LDR from the ID). */
  ldr: number;
  /** xAPIC: the DFR model. */
  cluster: boolean;
}

const MODE_NONE = 0;
const MODE_FLAT = 1;
const MODE_CLUSTER = 2;
const MODE_X2APIC = 3;
const MODE_DISABLED = 4;

/**
 * The map inhibits (of the three above) kvm_recalculate_apic_map sets for these APICs; the caller
 * masks them with its vendor's required set. `slots` is scratch of at least 256 + 64 words (the
 * physical xAPIC slots and the 16 × 4 cluster slots), so that the checker's steps allocate nothing.
 */
export function apicMapInhibits(apics: readonly MapApic[], slots: Int32Array): number {
  slots.fill(-1, 0, 320);
  let mismatch = false;
  let physicalAliased = false;
  let logical = MODE_NONE;
  for (let i = 0; i < apics.length; i++) {
    const a = apics[i];
    if (!a.present) continue;
    if (!a.x2apic && (a.id & 0xff) !== (a.vcpuId & 0xff)) mismatch = true;
    // x2APIC IDs are the vCPU IDs (read-only): distinct, and above 255 outside the xAPIC slots.
    const phys = a.x2apic ? a.id : a.id & 0xff;
    if (phys < 256) {
      if (slots[phys] >= 0) {
        physicalAliased = true;
        break;
      }
      slots[phys] = i;
    }
    if (logical === MODE_DISABLED || !a.swEnabled) continue;
    if (!a.x2apic && (a.ldr & 0xff) === 0) continue;
    const mode = a.x2apic ? MODE_X2APIC : a.cluster ? MODE_CLUSTER : MODE_FLAT;
    if (logical === MODE_NONE) logical = mode;
    else if (logical !== mode) {
      logical = MODE_DISABLED;
      continue;
    }
    if (a.x2apic) continue;
    // kvm_apic_map_get_logical_dest: flat, one cluster of 8; cluster, cluster ID in bits 7:4 and
    // a 4-bit mask.
    const mask = mode === MODE_FLAT ? a.ldr & 0xff : a.ldr & 0xf;
    if (mask === 0) continue;
    const base = 256 + (mode === MODE_FLAT ? 0 : ((a.ldr >>> 4) & 0xf) * 4);
    const bit = 31 - Math.clz32(mask & -mask);
    if ((mask & (mask - 1)) !== 0 || slots[base + bit] >= 0) logical = MODE_DISABLED;
    else slots[base + bit] = i;
  }
  let r = 0;
  if (physicalAliased) r |= INHIBIT_PHYSICAL_ID_ALIASED | INHIBIT_LOGICAL_ID_ALIASED;
  else if (logical === MODE_DISABLED) r |= INHIBIT_LOGICAL_ID_ALIASED;
  if (mismatch) r |= INHIBIT_APIC_ID_MODIFIED;
  return r;
}
