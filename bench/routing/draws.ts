// Seeded draws the generated traces share, so each trace's header names only its own parameters.
import { type Rng, standardNormal } from '@maas/random';

export { exponential } from '@maas/random';

/** Log-normal with the given mean and sigma, rounded, at least 1 (token counts). */
export function logNormal(rng: Rng, mean: number, sigma = 0.8): number {
  return Math.max(1, Math.round(mean * Math.exp(sigma * standardNormal(rng) - (sigma * sigma) / 2)));
}

/** `count` consecutive block ids from `first`: a prompt's run of blocks, shared or its own. */
export function blockIds(first: number, count: number): number[] {
  return Array.from({ length: Math.max(0, count) }, (_, i) => first + i);
}
