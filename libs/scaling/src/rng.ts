/** Simulated providers draw from the one seeded generator: same seed, same replay. */
export { type Rng, seededRng } from '@maas/random';
