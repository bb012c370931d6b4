/** Seeded arrival processes for open-loop load, in seconds between requests. */
export type Rng = () => number;

/** mulberry32: a small seeded uniform generator in [0, 1). */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function standardNormal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

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
