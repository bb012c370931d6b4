/** Seeded arrival processes for open-loop load, in seconds between requests. */
import { Rng, seededRng, standardNormal } from '@maas/random';

export { type Rng, seededRng };

/** Gamma(shape, 1) by Marsaglia and Tsang (with the boost for shape < 1). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * Gaps with mean 1/rate. burstiness = 1 is a Poisson process; below 1 burstier, above 1 more
 * regular (vLLM bench's convention: gamma with shape = burstiness).
 */
export function arrivalGaps(count: number, rate: number, burstiness: number, seed: number): number[] {
  if (!(rate > 0)) throw new Error(`rate must be positive, got ${rate}`);
  if (!(burstiness > 0)) throw new Error(`burstiness must be positive, got ${burstiness}`);
  const rng = seededRng(seed);
  return Array.from({ length: count }, () => gamma(rng, burstiness) / (burstiness * rate));
}
