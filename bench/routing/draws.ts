// Seeded draws the generated traces share, so each trace's header names only its own parameters.
import { Rng } from '../lib/arrivals';

/** Exponential with the given mean. */
export const exponential = (rng: Rng, mean: number) => -Math.log(1 - rng()) * mean;

/** Log-normal with the given mean and sigma, at least 1. */
export function logNormal(rng: Rng, mean: number, sigma = 0.8): number {
  const normal = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return Math.max(1, Math.round(mean * Math.exp(sigma * normal - (sigma * sigma) / 2)));
}
