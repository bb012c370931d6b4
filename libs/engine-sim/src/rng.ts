/** The simulator draws from the one seeded generator: same seed, same run. */
export { exponential, type Rng, seededRng } from '@maas/random';

/** FNV-1a over bytes, continuing from `seed`; 32-bit. */
export function fnv1a(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = start; i < end; i += 1) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
