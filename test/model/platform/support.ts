/** What the platform tests share: a vCPU's configuration with the defaults the loader gives. */
import type { VcpuConfig } from '../../../src/model/platform/machine.ts';

/** vCPU with APIC ID `apicId`: placed nowhere, IF set, nothing pending, unless `c` says otherwise. */
export function vcpu(c: Partial<VcpuConfig>, apicId: number): VcpuConfig {
  return {
    apicId,
    pcpu: -1,
    running: false,
    if: true,
    halted: false,
    tpr: 0,
    autoEoi: false,
    eoiExit: [],
    pid: { on: false, sn: false, nv: 0xf2, pir: [] },
    virr: [],
    ...c,
  };
}
