/**
 * Where KVM's per-vCPU ir_list (struct vcpu_svm: the IRTEs that post to the vCPU, which
 * avic_vcpu_load/put update) lives in the World when a scenario routes IRTEs itself
 * (avic-irte.ts): one word per IRTE of machine.irtes, the index + 1 of the vCPU whose list holds
 * it (IR_LIST_VCPU), or 0, and IR_LIST_ROUTED once KVM has routed it as a postable IRQ (case 4).
 * Without the block, every IRTE is on its vCPU's list from the start.
 */
export const IR_LIST_BLOCK = 'kvm.ir_list';
export const IR_LIST_VCPU = 0xff;
export const IR_LIST_ROUTED = 1 << 8;
