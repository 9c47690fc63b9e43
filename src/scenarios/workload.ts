/**
 * The workload of a simulation (docs/sim.md, "Workloads"): what the environment does to the machine
 * of a scenario, over simulated time. Device interrupt sources, guest IPI patterns, guest halts and
 * idle polling, host overcommit (time slices, preemption, migration, exits to userspace), the PIT
 * with PIT_REINJ and its ExtINT windows, the simulated duration and the warm-up.
 *
 * Times are strings with a unit ("250us", "10ms", "1.5s", "800ns") and rates are events per second
 * ("20kHz", "1.5MHz", "5000/s", or a plain number per second); the schema turns both into numbers
 * (nanoseconds, events per second). The simulator turns them into cycles with the cost table's
 * clock. A scenario's `workload` field (schema.ts); the loader (loader.ts) checks its indices against
 * the scenario's machine, and `parseWorkload` there reads a workload on its own.
 */
import { z } from 'zod';
import { vector } from './values.ts';

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };
const TIME_RE = /^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(ns|us|µs|ms|s)$/;
const TIME_MSG = 'expected a time with a unit: ns, us, ms or s (e.g. "250us")';

/** A time with a unit, in nanoseconds. */
export const time = z
  .string({ error: TIME_MSG })
  .regex(TIME_RE, TIME_MSG)
  .transform((s) => {
    const m = TIME_RE.exec(s)!;
    return Number(m[1]) * TIME_UNITS[m[2]];
  });

const RATE_RE = /^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(Hz|kHz|MHz|\/s)$/;
const RATE_MSG = 'expected a rate: a number per second, or with Hz, kHz, MHz or /s (e.g. "20kHz")';
const RATE_UNITS: Record<string, number> = { Hz: 1, '/s': 1, kHz: 1e3, MHz: 1e6 };

/** Events per second. */
export const rate = z
  .union([
    z.number({ error: RATE_MSG }),
    z
      .string({ error: RATE_MSG })
      .regex(RATE_RE, RATE_MSG)
      .transform((s) => {
        const m = RATE_RE.exec(s)!;
        return Number(m[1]) * RATE_UNITS[m[2]];
      }),
  ])
  .pipe(z.number().positive('a rate must be positive').finite());

const index = z.number().int().min(0);

/**
 * When a source's events happen (src/sim/random.ts): `poisson` (exponential gaps, the default),
 * `periodic` (a grid of period 1/rate, each event moved by up to ±jitter), `bursty` (on/off: Poisson
 * at `rate` during on periods of mean `on`, silent during off periods of mean `off`).
 */
const arrivalFields = {
  rate,
  arrivals: z.enum(['poisson', 'periodic', 'bursty']).default('poisson'),
  jitter: time.optional().describe('periodic only: each event moves by up to this much either way'),
  on: time.optional().describe('bursty only: mean length of a burst'),
  off: time.optional().describe('bursty only: mean silence between bursts'),
};

export const deviceSource = z
  .object({
    name: z.string().optional(),
    ...arrivalFields,
    vector,
    delivery: z
      .enum(['vtd', 'posted-msi'])
      .default('vtd')
      .describe('vtd: VT-d posting into a vCPU’s descriptor; posted-msi: host posted MSI on a pCPU'),
    vcpu: index.optional().describe('the target vCPU (delivery vtd)'),
    pcpu: index.optional().describe('the pCPU whose posted-MSI descriptor receives it (delivery posted-msi)'),
    irte: index
      .optional()
      .describe('the IRTE of machine.irtes it goes through (default: by vcpu and vector)'),
    handler: time
      .default(0)
      .describe(
        "delivery posted-msi: how long the device driver's handler runs per interrupt (call_irq_handler in handle_pending_pir)",
      ),
  })
  .strict();

export const ipiPattern = z
  .object({
    name: z.string().optional(),
    ...arrivalFields,
    vector,
    from: z
      .union([index, z.literal('any')])
      .default('any')
      .describe('the sending vCPU, or any (uniform)'),
    pattern: z
      .enum(['single', 'broadcast', 'self'])
      .default('single')
      .describe('single: one target; broadcast: all but self (shorthand); self: the sender'),
    to: index.optional().describe('single only: the target (default: a uniformly chosen other vCPU)'),
  })
  .strict();

export const haltPattern = z
  .object({
    vcpu: z.union([index, z.literal('all')]).default('all'),
    busy: time.describe('mean guest work between idle periods (exponential)'),
    idle: time
      .optional()
      .describe(
        "mean idle period (exponential): the guest's timer ends it, unless an interrupt came first (default: only an interrupt ends it)",
      ),
    guestPoll: time
      .default(0)
      .describe(
        'guest idle polling (cpuidle-haltpoll) before HLT: an interrupt inside it ends the idle period with no exit',
      ),
    hostPoll: time
      .default(0)
      .describe(
        'KVM halt polling (halt_poll_ns) after the HLT exit: an interrupt inside it wakes the vCPU without a schedule-out',
      ),
  })
  .strict();

export const overcommit = z
  .object({
    vcpusPerPcpu: z.number().min(1).describe('runnable vCPU threads per pCPU (1: no overcommit)'),
    timeSlice: time.describe('how long a vCPU thread runs before the host scheduler may switch'),
    preemption: z
      .boolean()
      .default(true)
      .describe(
        'a running vCPU is preempted at the end of its slice (kvm_sched_out with preempted); false: it runs until it halts or exits to userspace',
      ),
    migration: rate
      .optional()
      .describe(
        "per vCPU (Poisson): how often the host scheduler moves its thread to another pCPU's run queue; its next sched-in is there",
      ),
    userspaceExits: rate.optional().describe('per vCPU: exits to the VMM in userspace (MMIO, port I/O)'),
  })
  .strict();

export const pit = z
  .object({
    rate: rate.describe('PIT interrupts per second (the guest’s programmed frequency)'),
    reinject: z
      .boolean()
      .default(true)
      .describe('the in-kernel PIT in re-inject mode: APICV_INHIBIT_REASON_PIT_REINJ set for the VM’s life'),
    vcpu: z
      .union([index, z.literal('all')])
      .default(0)
      .describe(
        'the vCPU that takes the ExtINT (the BSP), or all: each vCPU has an interrupt needing an IRQ window at this rate',
      ),
    window: time.describe('mean time the vCPU runs with IF=0 before its IRQ window opens (exponential)'),
  })
  .strict();

/**
 * A guest's LAPIC timer as a source (machine.lapicTimer): the guest has programmed it before the
 * simulation starts, and the host's hrtimer fires it at each expiry through the model's own timer
 * (kvm/lapic-timer.ts). KVM's timer input runs at 1 GHz, so a period is that many input ticks at
 * divide-by-1.
 */
export const timerSource = z
  .object({
    name: z.string().optional(),
    vcpu: index.describe('the vCPU whose LAPIC timer it is'),
    mode: z
      .enum(['periodic', 'one-shot', 'tsc-deadline'])
      .default('periodic')
      .describe(
        "the LVT timer mode; one-shot and tsc-deadline are re-armed by the guest's handler (an exit per tick)",
      ),
    period: time.describe('time between expirations (the initial count at divide-by-1, 1 ns a tick)'),
    vector,
  })
  .strict();

export const workload = z
  .object({
    duration: time.describe('simulated time measured, after the warm-up'),
    warmup: time.default(0).describe('simulated time run first and not measured'),
    stranded: time
      .default(1e6)
      .describe('a vector posted and not delivered for longer than this is stranded (default 1ms)'),
    devices: z.array(deviceSource).default([]),
    ipis: z.array(ipiPattern).default([]),
    halts: z.array(haltPattern).default([]),
    overcommit: overcommit.optional(),
    pit: pit.optional(),
    timers: z.array(timerSource).default([]),
  })
  .strict()
  .superRefine((w, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (!(w.duration > 0)) issue(['duration'], 'duration must be positive');
    const arrivals = (where: string, i: number, a: z.output<z.ZodObject<typeof arrivalFields>>) => {
      const at = [where, i];
      if (a.arrivals !== 'periodic' && a.jitter !== undefined)
        issue([...at, 'jitter'], 'jitter is for periodic arrivals');
      if (a.arrivals === 'periodic' && a.jitter !== undefined && a.jitter > 1e9 / a.rate / 2)
        issue([...at, 'jitter'], 'jitter must be at most half the period (1 / rate)');
      if (a.arrivals === 'bursty' && (a.on === undefined || a.off === undefined))
        issue(at, 'bursty arrivals need on and off (mean burst and silence lengths)');
      if (a.arrivals !== 'bursty' && (a.on !== undefined || a.off !== undefined))
        issue(at, 'on and off are for bursty arrivals');
    };
    w.devices.forEach((d, i) => {
      arrivals('devices', i, d);
      if (d.delivery === 'vtd' && d.vcpu === undefined)
        issue(['devices', i], 'delivery vtd needs vcpu (the target)');
      if (d.delivery === 'vtd' && d.pcpu !== undefined)
        issue(['devices', i, 'pcpu'], 'pcpu is for delivery posted-msi (VT-d posting targets a vcpu)');
      if (d.delivery === 'posted-msi' && d.pcpu === undefined)
        issue(['devices', i], 'delivery posted-msi needs pcpu (host posted MSI targets a pCPU)');
      if (d.delivery === 'posted-msi' && d.vcpu !== undefined)
        issue(['devices', i, 'vcpu'], 'vcpu is for delivery vtd (host posted MSI targets a pcpu)');
      if (d.delivery === 'vtd' && d.handler > 0)
        issue(['devices', i, 'handler'], "handler is for delivery posted-msi (the host driver's handler)");
    });
    w.timers.forEach((t, i) => {
      if (!(Number.isInteger(t.period) && t.period >= 1 && t.period <= 0xffffffff))
        issue(
          ['timers', i, 'period'],
          'period must be a whole number of nanoseconds, 1ns to 4.29s (a 32-bit count)',
        );
    });
    w.ipis.forEach((p, i) => {
      arrivals('ipis', i, p);
      if (p.pattern !== 'single' && p.to !== undefined)
        issue(['ipis', i, 'to'], `to is for pattern single, not ${p.pattern}`);
    });
  });

export type Workload = z.output<typeof workload>;
export type WorkloadInput = z.input<typeof workload>;
