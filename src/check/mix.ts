/**
 * The hashes of the tree store's tables (tree-store.ts, shared-table.ts): every thread of a
 * parallel search must place a node in the same slot, so there is one definition.
 */

/** 32-bit mix of a pair (murmur3's fmix32 over a multiplicative combine). */
export function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return h ^ (h >>> 15);
}

/** 32-bit mix of a quadruple (the root's: the four nodes of the tree's top level). */
export function mix4(a: number, b: number, c: number, d: number): number {
  return mix(mix(a, b) ^ Math.imul(c, 0x9e3779b1), d);
}
