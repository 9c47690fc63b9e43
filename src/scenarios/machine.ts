/**
 * The static machine (model/platform/machine.ts) a validated scenario describes. Apart from the
 * loader, so that building a model from a scenario parsed elsewhere (a helper thread of the
 * parallel search, the CLI's search thread: the scenario crosses to them validated) loads neither
 * the schema's validators nor the YAML parser.
 */
import { inhibitBit } from '../model/kvm/apicv.ts';
import type { Machine } from '../model/platform/machine.ts';
import type { Scenario } from './schema.ts';

/** What the I/O APIC's and KVM's emulated I/O APIC's pins share of a redirection entry. */
function redirection(p: { pin: number; vector: number; trigger: string; masked: boolean; dest: number }) {
  return { pin: p.pin, vector: p.vector, level: p.trigger === 'level', masked: p.masked, dest: p.dest };
}

/** The static machine a scenario describes. */
export function machineOf(s: Scenario): Machine {
  const m = s.machine;
  return {
    pcpus: m.pcpus,
    x2apic: m.x2apic,
    features: m.features,
    hostIF: m.hostIF,
    hostAutoEoi: m.hostAutoEoi,
    irtes: m.irtes,
    lapicTimer: m.lapicTimer,
    apicRegisters: m.apicRegisters,
    guestIoapic: m.guestIoapic.map((p) => ({
      ...redirection(p),
      logical: p.destMode === 'logical',
      deliveryMode: ({ fixed: 0, lowest: 1, nmi: 4 } as const)[p.deliveryMode],
    })),
    apicvInhibits: m.apicvInhibits.reduce((mask, r) => mask | inhibitBit(r), 0),
    ioapic: m.ioapic.map((p) => ({
      ...redirection(p),
      deliveryMode: p.deliveryMode === 'nmi' ? 4 : 0,
    })),
    vcpus: m.vcpus.map((c, i) => ({
      apicId: c.apicId ?? i,
      ldr: c.ldr << 24,
      dfr: c.dfr,
      notificationVector: c.notificationVector,
      pcpu: c.pcpu,
      running: c.running,
      if: c.if,
      halted: c.halted,
      tpr: c.tpr,
      autoEoi: c.autoEoi,
      eoiExit: c.eoiExit,
      pid: c.pid,
      virr: c.virr,
    })),
  };
}
