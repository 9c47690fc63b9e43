/**
 * VT-d: who owns a device IRTE's mode when the host posts its own MSIs (case 6 of issue 14).
 *
 * With posted MSIs (CONFIG_X86_POSTED_MSI, ed1e48ea4370 "iommu/vt-d: Enable posted mode for
 * device MSIs", 6.10) a host device IRQ's IRTE is in posted format, posting to the pCPU's own
 * descriptor. When KVM posts the IRQ to a vCPU (vmx_pi_update_irte -> irq_set_vcpu_affinity ->
 * intel_ir_set_vcpu_affinity) the IRTE posts to the vCPU's descriptor instead, and the IRQ's
 * irq_2_iommu records posted_vcpu; when KVM stops (irq_set_vcpu_affinity with no vCPU data) the
 * IRTE goes back to the host. Two fixes in 6.15 (Sean Christopherson, Cc stable):
 *
 *   688124cc541f "iommu/vt-d: Don't clobber posted vCPU IRTE when host IRQ affinity changes":
 *     intel_ir_set_affinity (a host affinity change, e.g. irqbalance) rewrote the IRTE in host
 *     posted-MSI format even while it posted to a vCPU; now it leaves a vCPU-posted IRTE alone
 *     (knob vtdAffinityChange).
 *   2454823e97a6 "iommu/vt-d: Put IRTE back into posted MSI mode if vCPU posting is disabled":
 *     undoing vCPU posting wrote the plain remapped entry, which turned posted MSI off for the IRQ;
 *     now it reconfigures the IRTE for the host, in posted-MSI mode (knob vtdVcpuPostingOff).
 *
 * The model keeps per IRTE its mode and what its latest owner asked for: KVM's latest request
 * (post to the vCPU, or give it back to the host, which wants posted MSI). Each rewrite is one step
 * (both paths run under the IRQ descriptor's lock, so they do not interleave inside). Device
 * interrupts through these IRTEs are not modelled: the property is about the mode.
 */
import type { ExtraBlock, FieldDesc } from '../platform/layout.ts';
import type { World } from '../platform/world.ts';
import { NEXT, type ProgramBuilder } from './program.ts';
import type { Variant } from './variants.ts';

export const VTD_IRTE_BLOCK = 'vtd.irte_mode';

/** Per IRTE: MODE and WANTED, two words. */
export const VTD_IRTE = { MODE: 0, WANTED: 1, SIZE: 2 } as const;

/** IRTE modes: remapped (IM = 0), posted to the pCPU's descriptor (posted MSI), posted to a vCPU. */
export const IRTE_MODE = { REMAPPED: 0, POSTED_MSI: 1, POSTED_VCPU: 2 } as const;
const MODE_NAMES = ['remapped', 'posted-msi', 'posted-vcpu'];

export function vtdIrteExtra(irtes: number): ExtraBlock & { init: (w: World, base: number) => void } {
  const fields: FieldDesc[] = [];
  for (let i = 0; i < irtes; i++) {
    fields.push({
      name: `irte${i}.mode`,
      offset: i * VTD_IRTE.SIZE + VTD_IRTE.MODE,
      kind: 'enum',
      names: MODE_NAMES,
    });
    fields.push({
      name: `irte${i}.wanted`,
      offset: i * VTD_IRTE.SIZE + VTD_IRTE.WANTED,
      kind: 'enum',
      names: MODE_NAMES,
    });
  }
  return {
    name: VTD_IRTE_BLOCK,
    prefix: 'vtd',
    size: Math.max(1, irtes * VTD_IRTE.SIZE),
    fields,
    // Host IRQs with posted MSI enabled: every IRTE starts posting to its pCPU, as the host wants.
    init: (w, base) => {
      for (let i = 0; i < irtes; i++) {
        w.m[base + i * VTD_IRTE.SIZE + VTD_IRTE.MODE] = IRTE_MODE.POSTED_MSI;
        w.m[base + i * VTD_IRTE.SIZE + VTD_IRTE.WANTED] = IRTE_MODE.POSTED_MSI;
      }
    },
  };
}

function irte(w: World, i: number): number {
  return w.L.extra.get(VTD_IRTE_BLOCK)! + i * VTD_IRTE.SIZE;
}

/**
 * intel_ir_set_vcpu_affinity for IRTE i from KVM (vmx_pi_update_irte): `post` puts the IRTE in
 * posted format for the vCPU; otherwise the IRTE goes back to the host: remapped format
 * (`vtdVcpuPostingOff: remapped`, before 2454823e97a6) or posted-MSI format (after).
 */
export function emitVtdSetVcpuAffinity(b: ProgramBuilder, v: Variant, i: number, post: boolean): void {
  const off = v.vtdVcpuPostingOff === 'posted-msi' ? IRTE_MODE.POSTED_MSI : IRTE_MODE.REMAPPED;
  b.step(
    'intel_ir_set_vcpu_affinity',
    post ? `irte${i} posted to vCPU` : `irte${i} back to the host`,
    (w) => {
      const o = irte(w, i);
      w.m[o + VTD_IRTE.MODE] = post ? IRTE_MODE.POSTED_VCPU : off;
      w.m[o + VTD_IRTE.WANTED] = post ? IRTE_MODE.POSTED_VCPU : IRTE_MODE.POSTED_MSI;
      return NEXT;
    },
  );
}

/**
 * intel_ir_set_affinity for IRTE i (a host affinity change): intel_ir_reconfigure_irte rewrites the
 * IRTE in posted-MSI format for the new pCPU; with `vtdAffinityChange: keeps-vcpu-irte`
 * (688124cc541f) not while the IRQ is posted to a vCPU.
 */
export function emitVtdSetAffinity(b: ProgramBuilder, v: Variant, i: number): void {
  const keep = v.vtdAffinityChange === 'keeps-vcpu-irte';
  b.step('intel_ir_set_affinity', `intel_ir_reconfigure_irte(irte${i})`, (w) => {
    const o = irte(w, i);
    if (keep && w.m[o + VTD_IRTE.WANTED] === IRTE_MODE.POSTED_VCPU) return NEXT;
    w.m[o + VTD_IRTE.MODE] = IRTE_MODE.POSTED_MSI;
    return NEXT;
  });
}

/** Property irte-owner: every IRTE is in the mode its latest owner asked for. */
export function vtdIrteOwnerHolds(w: World): boolean {
  const o = w.L.extra.get(VTD_IRTE_BLOCK);
  if (o === undefined) return true;
  for (let i = 0; i < w.machine.irtes.length; i++) {
    const e = o + i * VTD_IRTE.SIZE;
    if (w.m[e + VTD_IRTE.MODE] !== w.m[e + VTD_IRTE.WANTED]) return false;
  }
  return true;
}
