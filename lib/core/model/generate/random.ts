/**
 * Seeded, fast pseudo-random weights. Each tensor gets its own stream derived from the model seed
 * and the tensor's name, so a tensor's values do not depend on the order tensors are built in
 * (and the fp16 variant holds exactly the fp32 values, rounded).
 */

/** FNV-1a over the name, mixed with the seed (splitmix-style finalizer). */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: 32 bits of state, good enough statistics for random weights, ~1 ns a draw. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const SQRT3 = Math.sqrt(3);
const INV_2_16 = 1 / 65536;

/**
 * Fills `out` with approximately normal(0, std) values: the sum of four uniform 16-bit draws
 * (Irwin–Hall), centered and scaled to unit variance. Two 32-bit draws per value instead of
 * Box–Muller's logs and square roots keeps 151M parameters at about a second.
 */
export function fillNormal(out: Float32Array, std: number, seed: number): void {
  const next = mulberry32(seed);
  const scale = std * SQRT3 * INV_2_16;
  for (let i = 0; i < out.length; i++) {
    const a = next();
    const b = next();
    const sum = (a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16);
    out[i] = (sum - 131070) * scale; // 4 × mean 32767.5
  }
}
