import { CalendarPeriods } from './calendar';

/**
 * One forecasting method, run online over the log-demand series z = ln(demand + floor).
 * It is told every step (undefined on gaps) so that seasonal slots keep their phase.
 */
export interface CandidateModel {
  /** Feeds the value of absolute step `step` (t / stepSeconds); undefined when the step is a gap. */
  observe(step: number, z: number | undefined): void;
  /** Forecast of z at (last observed step + h), or undefined when the model cannot say yet. */
  predict(h: number): number | undefined;
}

export interface CandidateDefinition {
  /** Stable name, used in results and /metrics labels. */
  readonly name: string;
  /** Steps since the first valid observation before its forecasts are scored or used. */
  readonly warmupSteps: number;
  create(): CandidateModel;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** Last valid value. */
export class Persistence implements CandidateModel {
  private last: number | undefined;
  observe(_step: number, z: number | undefined): void {
    if (z !== undefined) this.last = z;
  }
  predict(): number | undefined {
    return this.last;
  }
}

/** Exponentially weighted level: the best flat forecast for a noisy random walk; needs one point. */
export class Ewma implements CandidateModel {
  private level: number | undefined;
  constructor(private readonly alpha: number) {}
  observe(_step: number, z: number | undefined): void {
    if (z === undefined) return;
    this.level = this.level === undefined ? z : this.level + this.alpha * (z - this.level);
  }
  predict(): number | undefined {
    return this.level;
  }
}

/** Value one period before the target; steps back whole periods over gaps. */
export class SeasonalNaive implements CandidateModel {
  private readonly ring: Float64Array;
  private last = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly period: number,
    private readonly lookbackPeriods = 4,
  ) {
    this.ring = new Float64Array(period * lookbackPeriods).fill(Number.NaN);
  }
  observe(step: number, z: number | undefined): void {
    this.last = step;
    this.ring[mod(step, this.ring.length)] = z ?? Number.NaN;
  }
  predict(h: number): number | undefined {
    for (let k = 1; k <= this.lookbackPeriods; k += 1) {
      const source = this.last + h - k * this.period;
      if (source > this.last) continue;
      if (source <= this.last - this.ring.length) break;
      const value = this.ring[mod(source, this.ring.length)];
      if (!Number.isNaN(value)) return value;
    }
    return undefined;
  }
}

export interface Season {
  readonly period: number;
  readonly gamma: number;
}

/** Mean of the valid values among the last `period` steps. */
class TrailingMean {
  private readonly ring: Float64Array;
  private sum = 0;
  private count = 0;
  private steps = 0;
  constructor(readonly period: number) {
    this.ring = new Float64Array(period).fill(Number.NaN);
  }
  push(step: number, z: number | undefined): void {
    const i = mod(step, this.period);
    if (!Number.isNaN(this.ring[i])) {
      this.sum -= this.ring[i];
      this.count -= 1;
    }
    this.ring[i] = z ?? Number.NaN;
    if (z !== undefined) {
      this.sum += z;
      this.count += 1;
    }
    this.steps += 1;
  }
  /** Undefined until a whole period has passed, or when most of it is gaps: a partial mean is biased by the season. */
  mean(): number | undefined {
    return this.steps >= this.period && 2 * this.count >= this.period ? this.sum / this.count : undefined;
  }
}

/**
 * Exponentially smoothed level plus additive seasonal profiles in log space (multiplicative in
 * demand) — Holt-Winters without trend, one or more seasons as in Taylor's double-seasonal method.
 * Each profile slot learns the deviation from the trailing mean over its period (of the series with
 * the other seasons removed), not from the fast level: the level would otherwise chase the season,
 * and a slot seen once a day would need weeks to converge. No trend term: over hours, demand trends
 * are level shifts the level absorbs, and extrapolated trends overshoot.
 */
export class SeasonalLevel implements CandidateModel {
  private level: number | undefined;
  private last = 0;
  private readonly profiles: Float64Array[];
  private readonly visits: Uint32Array[];
  private readonly means: TrailingMean[];
  constructor(
    private readonly alpha: number,
    private readonly seasons: readonly Season[],
  ) {
    this.profiles = seasons.map((s) => new Float64Array(s.period));
    this.visits = seasons.map((s) => new Uint32Array(s.period));
    this.means = seasons.map((s) => new TrailingMean(s.period));
  }
  observe(step: number, z: number | undefined): void {
    this.last = step;
    const slots = this.seasons.map((s) => mod(step, s.period));
    let seasonal = 0;
    this.profiles.forEach((p, i) => {
      seasonal += p[slots[i]];
    });
    this.seasons.forEach((s, i) => {
      const profile = this.profiles[i];
      // the other seasons removed, so a daily slope does not leak into the hourly profile (backfitting)
      const own = z === undefined ? undefined : z - (seasonal - profile[slots[i]]);
      this.means[i].push(step, own);
      const reference = this.means[i].mean();
      if (own === undefined || reference === undefined) return;
      // a running mean over a slot's first visits, then exponential forgetting
      const weight = Math.max(s.gamma, 1 / (this.visits[i][slots[i]] + 1));
      const before = profile[slots[i]];
      profile[slots[i]] += weight * (own - reference - before);
      this.visits[i][slots[i]] += 1;
      seasonal += profile[slots[i]] - before;
    });
    if (z === undefined) return;
    this.level = this.level === undefined ? z - seasonal : this.level + this.alpha * (z - seasonal - this.level);
  }
  predict(h: number): number | undefined {
    if (this.level === undefined) return undefined;
    let value = this.level;
    this.seasons.forEach((s, i) => {
      value += this.profiles[i][mod(this.last + h, s.period)];
    });
    return value;
  }
}

/**
 * The candidates for a series with these periods. Small fixed grids: the rolling backtest picks
 * among them per horizon, so no parameter is fitted to a particular series offline.
 */
export function candidateSet(periods: CalendarPeriods): CandidateDefinition[] {
  const list: CandidateDefinition[] = [{ name: 'persistence', warmupSteps: 0, create: () => new Persistence() }];
  for (const alpha of [0.3, 0.5, 0.7]) {
    list.push({ name: `ewma(${alpha})`, warmupSteps: 0, create: () => new Ewma(alpha) });
  }
  const { hour, day, week } = periods;
  if (hour) {
    for (const alpha of [0.3, 0.5, 0.7]) {
      list.push({
        name: `holt-winters-hourly(${alpha})`,
        warmupSteps: 2 * hour,
        create: () => new SeasonalLevel(alpha, [{ period: hour, gamma: 0.2 }]),
      });
    }
  }
  if (day) {
    list.push({ name: 'seasonal-naive-daily', warmupSteps: day, create: () => new SeasonalNaive(day) });
    list.push({
      name: 'holt-winters-daily',
      warmupSteps: 2 * day,
      create: () => new SeasonalLevel(0.5, [{ period: day, gamma: 0.15 }]),
    });
    if (hour) {
      list.push({
        name: 'holt-winters-hourly-daily',
        warmupSteps: 2 * day,
        create: () =>
          new SeasonalLevel(0.5, [
            { period: hour, gamma: 0.2 },
            { period: day, gamma: 0.15 },
          ]),
      });
    }
  }
  if (week) {
    list.push({ name: 'seasonal-naive-weekly', warmupSteps: week, create: () => new SeasonalNaive(week, 2) });
    if (day) {
      list.push({
        name: 'holt-winters-daily-weekly',
        warmupSteps: week + day,
        create: () =>
          new SeasonalLevel(0.5, [
            { period: day, gamma: 0.15 },
            { period: week, gamma: 0.15 },
          ]),
      });
    }
  }
  return list;
}

/** History each seasonal family needs, for fallback messages. */
export function dailySeasonWarmupSteps(periods: CalendarPeriods): number | undefined {
  return periods.day === undefined ? undefined : 2 * periods.day;
}
