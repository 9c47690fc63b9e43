/**
 * 64-bit state fingerprints (two independent 32-bit lanes) and an open-addressing set of them over
 * a Uint32Array. Plain JS Math.imul hashing of the packed state was measured fastest for states of
 * this size (style-and-ecosystem.md, finding 6); nothing here allocates per state.
 */

/** Lane 1 and lane 2 of the last fingerprint computed (module-level to avoid returning objects). */
export let fpHi = 0;
export let fpLo = 0;

/** Fingerprints words [from, from+n) of s into fpHi/fpLo. */
export function fingerprint(s: Uint32Array, from: number, n: number): void {
  let h1 = 0x9e3779b1 ^ n;
  let h2 = 0x85ebca77 ^ Math.imul(n, 0x27d4eb2f);
  for (let i = from; i < from + n; i++) {
    const k = s[i];
    h1 = Math.imul(h1 ^ k, 0x01000193);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 + k, 0xcc9e2d51);
    h2 = Math.imul((h2 << 15) | (h2 >>> 17), 0x1b873593);
  }
  // Final avalanche (murmur3 fmix32) on both lanes.
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  h2 ^= h2 >>> 16;
  h2 = Math.imul(h2, 0x85ebca6b);
  h2 ^= h2 >>> 13;
  h2 = Math.imul(h2, 0xc2b2ae35);
  h2 ^= h2 >>> 16;
  fpHi = h1 >>> 0;
  fpLo = h2 >>> 0;
  // 0/0 marks an empty slot in the table.
  if (fpHi === 0 && fpLo === 0) fpLo = 1;
}

/**
 * A set of 64-bit fingerprints, each with a 32-bit payload (the state's index), in open
 * addressing with linear probing; grows at 50% load.
 */
export class FingerprintSet {
  private slots: Uint32Array;
  private mask: number;
  size = 0;

  constructor(capacityPow2 = 1 << 16) {
    this.slots = new Uint32Array(capacityPow2 * 3);
    this.mask = capacityPow2 - 1;
  }

  /** Looks up (fpHi, fpLo); inserts it with `payload` if absent. Returns the payload found, or -1 if inserted. */
  findOrInsert(hi: number, lo: number, payload: number): number {
    if (this.size * 2 >= this.mask + 1) this.grow();
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    const t = this.slots;
    for (;;) {
      const b = i * 3;
      const h = t[b];
      const l = t[b + 1];
      if (h === 0 && l === 0) {
        t[b] = hi;
        t[b + 1] = lo;
        t[b + 2] = payload;
        this.size++;
        return -1;
      }
      if (h === hi && l === lo) return t[b + 2];
      i = (i + 1) & this.mask;
    }
  }

  /** Looks up (fpHi, fpLo) without inserting. Returns its payload, or -1 if absent. */
  find(hi: number, lo: number): number {
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    const t = this.slots;
    for (;;) {
      const b = i * 3;
      const h = t[b];
      const l = t[b + 1];
      if (h === 0 && l === 0) return -1;
      if (h === hi && l === lo) return t[b + 2];
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = new Uint32Array(cap * 3);
    this.mask = cap - 1;
    this.size = 0;
    for (let b = 0; b < old.length; b += 3) {
      if (old[b] !== 0 || old[b + 1] !== 0) this.findOrInsert(old[b], old[b + 1], old[b + 2]);
    }
  }
}

/**
 * TLC's optimistic estimate of the probability that two distinct states shared a fingerprint:
 * n * (n - 1) / 2 pairs, each colliding with probability 2^-64.
 */
export function collisionProbability(n: number): number {
  return (n * (n - 1)) / 2 / 2 ** 64;
}
