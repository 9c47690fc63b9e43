/*
 * Promela port of irqlab's scaled seed-004 scenario (src/bench/check.ts scaledScenario(N)),
 * current kernel variant (load=clear-sn-recompute-on, put=sn-unless-blocking, harvest=u64-loads-then-xchg,
 * syncGate=on-only, syncOrder=clear-on-then-harvest, mbAfterMode=present), memory model sc.
 *
 *   N preempted vCPUs (SN=1, not running, autoEoi, IF=1, TPR=0), vCPU x loaded on pCPU x;
 *   actor vcpuX:  kvm.load pcpu X; kvm.enter          (vmx_vcpu_pi_load, vcpu_enter_guest)
 *   actor iommu:  device.post 0x41+x to vcpuX, x=0..N-1 (VT-d posting, one atomic step each)
 *   actor sender: kvm.deliver 0x51 to vcpu0           (vmx_deliver_posted_interrupt, 3 steps)
 *   hardware:     per pCPU the LAPIC dispatch (posted-interrupt processing in guest mode,
 *                 host handler in root mode with IRQs on); per vCPU virtual-interrupt delivery
 *                 or the guest's auto-EOI.
 *
 * Granularity: one d_step per irqlab instruction (src/model/kvm/*.ts emit* steps) and per hardware
 * action (SystemModel.enabled/step), so one Spin transition = one irqlab action. The vCPU threads
 * keep irqlab's explicit program counter (pc, same numbering as the emitted program) and its
 * locals L0 (harvest mask) and L2 (pi_is_pir_empty result, never cleared, as in posted-intr.ts).
 *
 * State: only the World words that change on some reachable path are kept, each in a byte or a bit;
 * 256-bit registers become bitmasks over the N+1 vectors the scenario uses
 * (bit x = vector 0x41+x, bit N = 0x51; LAPIC IRR only ever holds 0xf2, so it is one bit).
 * Words that are constant on every reachable state (VMCS = x+1, vcpu.PCPU = x+1, vcpu->cpu = x+1,
 * NV = 0xf2, NDST = x, VTPR = 0, IF/autoEoi flags, LAPIC ISR (ack and EOI happen in one step),
 * preempted = 0, requests = 0, inject = 0) are left out, as are branches no reachable state takes
 * (the slow path of vmx_vcpu_pi_load, the cancelled VM entry, the asynchronous-exit handler:
 * no VM exit can happen here because the only vector ever sent is the notification vector 0xf2).
 *
 * Properties checked (all of irqlab's that can fire here): no-stuck-pir (invariant, after every
 * step), rvi-at-entry and no-wrong-vcpu (step monitors), no-lost-interrupt at end states.
 * The APICv-activation / IRQ-window / wake-up-list properties read words that never change here.
 *
 * Kept equal to irqlab: `irqlab bench check --spin` (src/bench/spin.ts, npm run bench:spin) runs both and fails when the
 * distinct or generated state counts differ. A change to scaledScenario or to the steps it
 * exercises must change this model too.
 *
 * Build: spin -a -DN=2 scaled.pml   (or -DN=3 or -DN=4; add -DBEFORE for the load=clear-sn variant, seed 004's bug;
 *        -DPAD=k adds k constant words to the state vector; -DMERGE folds the loads of PIR words that
 *        nobody writes into their neighbours, to estimate what a finer-grained reduction could save)
 */
#ifndef N
#define N 2
#endif

#define GUEST 1
#define ROOT  0
#define IN_GUEST_MODE 1

/* vector bitmask helpers: bit x = 65+x (x < N), bit N = 81 */
#define B51 (1 << N)
#define VBIT(v) ((v) == 81 -> B51 : (1 << ((v) - 65)))
#if N == 2
#define HIGHEST(m) (((m) & 4) -> 81 : (((m) & 2) -> 66 : (((m) & 1) -> 65 : 0)))
#elif N == 3
#define HIGHEST(m) (((m) & 8) -> 81 : (((m) & 4) -> 67 : (((m) & 2) -> 66 : (((m) & 1) -> 65 : 0))))
#else
#define HIGHEST(m) (((m) & 16) -> 81 : (((m) & 8) -> 68 : (((m) & 4) -> 67 : (((m) & 2) -> 66 : (((m) & 1) -> 65 : 0)))))
#endif
/* Spin has no hex literals: 65 = 0x41, 66 = 0x42, 67 = 0x43, 81 = 0x51, 240 = 0xf0 */
#define CLASS(v) ((v) >> 4)
/* processorPriority(TPR = 0, isrv) */
#define PPR0(isrv) ((CLASS(isrv) > 0) -> ((isrv) & 240) : 0)

/* pCPU p: LAPIC IRR[0xf2], mode, host IF, notification-for bitmask (PCPU.PI_FOR) */
bit  lirr[N];
bit  pmode[N];
bit  hostif[N] = 1;   /* hostIF: host IRQs on at the start */
byte pifor[N];
/* vCPU x: guest instrumentation, virtual-APIC page, descriptor, KVM state */
byte delivered[N];
byte posted[N];
byte virr[N];
byte visr[N];
byte vppr[N];
byte rvi[N];
byte svi[N];
bit  recog[N];
byte pir[N];
bit  on[N];
bit  sn[N] = 1;       /* preempted vCPUs start with SN set */
byte kmode[N];
byte posting[N];
byte loaded[N];

#ifdef PAD
/* control: PAD constant 32-bit words, never read or written, to give the Spin state vector the
   size of irqlab's packed World (298 words for N=2, 433 for N=3) without changing the state space */
int pad[PAD];
#endif

#define RUNNING(x)     (pmode[x] == GUEST)
#define PCPU_READY(p)  (lirr[p] && (pmode[p] == GUEST || hostif[p]))
#define VCPU_READY(x)  (RUNNING(x) && (recog[x] || svi[x] != 0))
/* a vCPU thread makes no progress while its pCPU or its guest has an interrupt to take */
#define GATE(x)        (!PCPU_READY(x) && !VCPU_READY(x))

/* no-stuck-pir: a vCPU in guest mode with PIR bits, no sender mid-post, no notification pending */
#define STUCK(x) (RUNNING(x) && pir[x] != 0 && posting[x] == 0 && !lirr[x])
#if N == 2
#define INV assert(!STUCK(0) && !STUCK(1))
#elif N == 3
#define INV assert(!STUCK(0) && !STUCK(1) && !STUCK(2))
#else
#define INV assert(!STUCK(0) && !STUCK(1) && !STUCK(2) && !STUCK(3))
#endif
/* no-lost-interrupt at an end state: every vector here is above TPR class 0 */
#define LOSTX(x) (RUNNING(x) && (posted[x] & ~delivered[x]) != 0)
#if N == 2
#define LOST (LOSTX(0) || LOSTX(1))
#elif N == 3
#define LOST (LOSTX(0) || LOSTX(1) || LOSTX(2))
#else
#define LOST (LOSTX(0) || LOSTX(1) || LOSTX(2) || LOSTX(3))
#endif

/* sendPhysicalInterrupt(apic id p, POSTED_INTR_VECTOR, for vCPU x) */
#define NOTIFY(p, x) lirr[p] = 1; pifor[p] = pifor[p] | (1 << (x))

active [N] proctype vcpu()
{
  byte x = _pid;     /* vCPU x on pCPU x */
  byte pc = 0;
  byte L0 = 0;
  byte L2 = 0;
end:
  do
  /* 0 vmx_vcpu_pi_load/check_fast_path (cpu = x; waits while another vCPU is loaded on pCPU x) */
  :: d_step { pc == 0 && GATE(x) ->
       loaded[x] = x + 1;     /* sameCpu, NV != wake-up: fall through */
       pc = 1; INV }
  /* 1 pi_test_and_clear_sn; SN was set and recompute is on: go to pi_is_pir_empty */
  :: d_step { pc == 1 && GATE(x) ->
#ifndef BEFORE
       if :: sn[x] -> sn[x] = 0; pc = 5 :: else -> pc = 8 fi; INV }
#else
       /* load=clear-sn (before c112b5f50232): no recompute of ON */
       sn[x] = 0; pc = 8; INV }
#endif
  /* 5 pi_is_pir_empty (L2 keeps the result) */
  :: d_step { pc == 5 && GATE(x) ->
       L2 = (pir[x] != 0);
       if :: L2 -> pc = 6 :: else -> pc = 8 fi; INV }
  /* 6 pi_set_on */
  :: d_step { pc == 6 && GATE(x) -> on[x] = 1; pc = 8; INV }
  /* 8 vcpu_enter_guest/local_irq_disable */
  :: d_step { pc == 8 && GATE(x) -> hostif[x] = 0; pc = 9; INV }
  /* 9 store_mode_in_guest (smp_mb after it: no step under sc) */
  :: d_step { pc == 9 && GATE(x) -> kmode[x] = IN_GUEST_MODE; pc = 10; INV }
  /* 10 vmx_sync_pir_to_irr/pi_test_on */
  :: d_step { pc == 10 && GATE(x) ->
       if :: on[x] -> pc = 11 :: else -> pc = 20 fi; INV }
  /* 11 pi_clear_on */
#ifndef MERGE
  :: d_step { pc == 11 && GATE(x) -> on[x] = 0; pc = 12; INV }
#else
  /* -DMERGE: the loads of PIR words nobody writes here (64-bit words 0, 2, 3) and the branch on the
     thread-local mask are folded into their neighbours, which is what a reduction with per-word
     footprints could do (they commute with every other step); an estimate, not irqlab's model */
  :: d_step { pc == 11 && GATE(x) -> on[x] = 0; pc = 13; INV }
#endif
  /* 12..15 pi_harvest_pir READ_ONCE(pir[j]); every vector here is in 64-bit word 1 */
  :: d_step { pc == 12 && GATE(x) -> pc = 13; INV }
#ifndef MERGE
  :: d_step { pc == 13 && GATE(x) ->
       if :: pir[x] != 0 -> L0 = L0 | 2 :: else fi; pc = 14; INV }
#else
  :: d_step { pc == 13 && GATE(x) ->
       if :: pir[x] != 0 -> L0 = L0 | 2 :: else fi;
       if :: L0 == 0 -> pc = 20 :: else -> pc = 17 fi; INV }
#endif
  :: d_step { pc == 14 && GATE(x) -> pc = 15; INV }
  :: d_step { pc == 15 && GATE(x) ->
       if :: L0 == 0 -> pc = 20 :: else -> pc = 17 fi; INV }
  /* 17 arch_xchg(pir[1]): take the word into vIRR; no later word was non-zero */
  :: d_step { pc == 17 && GATE(x) ->
       virr[x] = virr[x] | pir[x]; pir[x] = 0; L0 = 0; pc = 20; INV }
  /* 20 vmx_set_rvi/write_rvi */
  :: d_step { pc == 20 && GATE(x) -> rvi[x] = HIGHEST(virr[x]); pc = 21; INV }
  /* 21 vmx_vcpu_run/vmentry (no exit request can be pending here): PPR virtualization,
        evaluation of pending virtual interrupts; monitor rvi-at-entry */
  :: d_step { pc == 21 && GATE(x) ->
       assert(rvi[x] == HIGHEST(virr[x]));
       pmode[x] = GUEST;
       vppr[x] = PPR0(svi[x]);
       recog[x] = (CLASS(rvi[x]) > CLASS(vppr[x]));
       pc = 22; INV }
  /* 22 thread/done: never enabled */
  od
}

active proctype iommu()
{
  byte pc = 0;
end:
  do
  /* VT-d 5.2.3 posting of 65+pc to vcpu pc (URG = 0): PIR, then ON if clear and SN clear */
  :: d_step { pc < N ->
       pir[pc] = pir[pc] | (1 << pc);
       posted[pc] = posted[pc] | (1 << pc);
       if
       :: !on[pc] && !sn[pc] -> on[pc] = 1; NOTIFY(pc, pc)
       :: else
       fi;
       pc = pc + 1; INV }
  od
}

active proctype sender()
{
  byte pc = 0;
end:
  do
  /* 0 pi_test_and_set_pir(81, vcpu0) */
  :: d_step { pc == 0 ->
       posted[0] = posted[0] | B51;
       if
       :: pir[0] & B51 -> pc = 3
       :: else -> pir[0] = pir[0] | B51; posting[0] = posting[0] + 1; pc = 1
       fi; INV }
  /* 1 pi_test_and_set_on */
  :: d_step { pc == 1 ->
       if
       :: !on[0] -> on[0] = 1; pc = 2
       :: else -> posting[0] = posting[0] - 1; pc = 3
       fi; INV }
  /* 2 kvm_vcpu_trigger_posted_interrupt/read_mode: IPI to vcpu->cpu, or kvm_vcpu_wake_up (no-op: not blocking) */
  :: d_step { pc == 2 ->
       posting[0] = posting[0] - 1;
       if
       :: kmode[0] == IN_GUEST_MODE -> NOTIFY(0, 0)
       :: else
       fi;
       pc = 3; INV }
  od
}

/* pCPU p's APIC dispatches 242 when the core takes interrupts (guest mode, or host IF) */
active [N] proctype pcpu()
{
  byte p = _pid - N - 2;
end:
  do
  :: d_step { PCPU_READY(p) ->
       lirr[p] = 0;       /* ack: IRR -> ISR; EOI below clears ISR */
       if
       :: pmode[p] == GUEST ->
            /* posted-interrupt processing on the current VMCS's descriptor (vCPU p) */
            assert((pifor[p] & ~(1 << p)) == 0);   /* no-wrong-vcpu */
            pifor[p] = 0;
            on[p] = 0;
            if
            :: pir[p] != 0 ->
                 virr[p] = virr[p] | pir[p];
                 if :: HIGHEST(pir[p]) > rvi[p] -> rvi[p] = HIGHEST(pir[p]) :: else fi;
                 pir[p] = 0
            :: else
            fi;
            recog[p] = (CLASS(rvi[p]) > CLASS(vppr[p]))
       :: else ->
            /* host handler for 242: kvm_posted_intr_ipi does nothing; auto-EOI */
            pifor[p] = 0
       fi;
       INV }
  od
}

/* vCPU x in guest mode: virtual-interrupt delivery of RVI, else the handler's auto-EOI */
active [N] proctype vhw()
{
  byte x = _pid - 2 * N - 2;
end:
  do
  :: d_step { VCPU_READY(x) ->
       if
       :: recog[x] ->
            visr[x] = visr[x] | VBIT(rvi[x]);
            svi[x] = rvi[x];
            vppr[x] = rvi[x] & 240;
            virr[x] = virr[x] & ~VBIT(rvi[x]);
            delivered[x] = delivered[x] | VBIT(rvi[x]);
            rvi[x] = HIGHEST(virr[x]);
            recog[x] = 0
       :: else ->
            visr[x] = visr[x] & ~VBIT(svi[x]);
            svi[x] = HIGHEST(visr[x]);
            vppr[x] = PPR0(svi[x]);
            recog[x] = (CLASS(rvi[x]) > CLASS(vppr[x]))
       fi;
       INV }
  od
}

/* no-lost-interrupt, checked where nothing can move any more (irqlab's terminal()) */
active proctype terminal()
{
end:
  do
#ifndef PAD
  :: atomic { timeout && LOST -> assert(false) }
#else
  :: atomic { timeout && LOST && pad[0] == 0 -> assert(false) }   /* a read keeps pad in the state vector */
#endif
  od
}
