import { seededRng } from '@maas/random';
import { DemandSeries } from './demand-forecast';

/** Seeded uniform [0, 1) draws: the platform's one generator, so specs get the same series on every run. */
export const seededRandom: (seed: number) => () => number = seededRng;

/** Standard normal draws from a seeded uniform source (Box-Muller). */
export function seededNormal(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export interface SyntheticDemand {
  readonly days: number;
  readonly stepSeconds?: number;
  /** Median demand. */
  readonly level?: number;
  /** Relative amplitude of a daily sine (0.5 = ±50 %). */
  readonly daily?: number;
  /** Relative amplitude of a weekly sine. */
  readonly weekly?: number;
  /** Relative amplitude of a within-the-hour sine (batch jobs on the hour). */
  readonly hourly?: number;
  /** Relative growth per day. */
  readonly trendPerDay?: number;
  /** Standard deviation of iid log-normal noise. */
  readonly noise?: number;
  /** Standard deviation of the daily log random-walk step of the level (regime drift). */
  readonly drift?: number;
  readonly seed?: number;
}

/** Demand with known seasonality, trend and noise, multiplicative like real request rates. */
export function syntheticDemand(shape: SyntheticDemand): DemandSeries {
  const stepSeconds = shape.stepSeconds ?? 600;
  const steps = Math.round((shape.days * 86_400) / stepSeconds);
  const normal = seededNormal(shape.seed ?? 1);
  const level = shape.level ?? 100;
  const driftPerStep = (shape.drift ?? 0) * Math.sqrt(stepSeconds / 86_400);
  let walk = 0;
  const values: number[] = [];
  for (let i = 0; i < steps; i += 1) {
    const t = i * stepSeconds;
    walk += driftPerStep * normal();
    const season =
      (1 + (shape.daily ?? 0) * Math.sin((2 * Math.PI * t) / 86_400)) *
      (1 + (shape.weekly ?? 0) * Math.sin((2 * Math.PI * t) / (7 * 86_400))) *
      (1 + (shape.hourly ?? 0) * Math.sin((2 * Math.PI * t) / 3600));
    const trend = Math.pow(1 + (shape.trendPerDay ?? 0), t / 86_400);
    values.push(level * season * trend * Math.exp(walk + (shape.noise ?? 0) * normal()));
  }
  return { startSeconds: 0, stepSeconds, values };
}
