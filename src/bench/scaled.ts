/**
 * Seed 004 scaled up, the scenario of `irqlab bench check`'s scaled rows and of the comparison
 * with Spin (bench/spin/scaled.pml follows it). Apart from the benchmark, so that a search
 * process of the comparison (spin-run.ts) loads no more than the scenario and the checker.
 */
import { parseScenarioText } from '../scenarios/loader.ts';
import type { Scenario } from '../scenarios/schema.ts';

/** Seed 004 scaled to n vCPUs on n pCPUs, n device vectors and one software posting. */
export function scaledScenario(n: number): Scenario {
  const doc = scaledDoc(n);
  return parseScenarioText(JSON.stringify(doc), `${doc.name}.json`);
}

/**
 * The scenario file of seed 004 scaled to n vCPUs, as `irqlab bench check --scenario n` prints it
 * for `irqlab check`.
 */
export function scaledDoc(n: number) {
  return {
    name: `bench-scaled-${n}vcpu`,
    description: `${n} preempted vCPUs scheduled back in while a device posts ${n} vectors and a sender posts one more`,
    source: 'src/bench/scaled.ts (generated); seed 004 scaled up',
    machine: {
      pcpus: n,
      vcpus: Array.from({ length: n }, (_, i) => ({
        pcpu: i,
        running: false,
        autoEoi: true,
        pid: { sn: true },
      })),
    },
    actors: [
      ...Array.from({ length: n }, (_, i) => ({
        name: `vcpu${i}`,
        vcpu: i,
        steps: [{ do: 'kvm.load', pcpu: i }, { do: 'kvm.enter' }],
      })),
      {
        name: 'iommu',
        steps: Array.from({ length: n }, (_, i) => ({ do: 'device.post', vcpu: i, vector: 0x41 + i })),
      },
      { name: 'sender', steps: [{ do: 'kvm.deliver', vcpu: 0, vector: 0x51 }] },
    ],
  };
}
