/**
 * All tuning of the demand forecaster, in one documented value (STYLE §3).
 * Durations are in seconds so that one spec serves series of any step.
 */
export interface ForecastSpec {
  /** Steps ahead to forecast (H); cover at least the VM boot time. */
  readonly horizonSteps: number;
  /** The horizon whose model is reported as the forecast's `model` (1..horizonSteps). */
  readonly decisionHorizonSteps: number;
  /** Level of the upper quantile returned with each point (0.9 = p90). */
  readonly upperQuantile: number;
  /** Added before taking logs, in the series' unit: demand below it is noise for scaling, and zeros stay finite. */
  readonly demandFloor: number;
  /** Half-life of the exponentially weighted backtest error that ranks candidates. */
  readonly selectionHalfLifeSeconds: number;
  /** Scored forecasts a candidate needs at a horizon before it can be selected there. */
  readonly minBacktestSamples: number;
  /** Candidates averaged (geometrically) by the blend; 0 or 1 emits the single best candidate. With a
   * blendTemperature the blend weighs every scored candidate and this many largest weights name it. */
  readonly blendSize: number;
  /**
   * Softness of the blend's weights, relative to the best candidate's recent error: candidate c gets
   * weight exp(−(e_c − e_best) / (blendTemperature · e_best)), so one at 1 + T times the best error has
   * weight 1/e of the best's. 0: the equal-weight blend of the best blendSize, used only while its own
   * backtest beats the best candidate's. Chosen on the benchmark's validation days (1–7), not its test days.
   */
  readonly blendTemperature: number;
  /** Trailing window of residuals the upper quantile is read from (at least 4 × minCalibrationSamples residuals). */
  readonly calibrationWindowSeconds: number;
  /** Residuals needed before the upper quantile is empirical rather than a random-walk estimate. */
  readonly minCalibrationSamples: number;
  /** Step of the adaptive correction of the quantile level after each hit or miss (0 turns it off). */
  readonly coverageAdaptationRate: number;
  /** Upper/point ratio used while there are too few observations to estimate spread. */
  readonly coldStartUpperRatio: number;
  /** Trailing window of the backtest error reported with each forecast (for /metrics). */
  readonly backtestWindowSeconds: number;
  /** Oldest history `forecast()` replays; bounds its cost. */
  readonly maxHistorySeconds: number;
  /** A forecast is not valid when the last observation is older than this many steps. */
  readonly staleAfterSteps: number;
  /** Model used while no candidate has a backtest yet. */
  readonly shortHistoryModel: string;
  /** Treat exact zeros as missing (collectors that write 0 when they lose data). */
  readonly zeroIsGap: boolean;
  /** A value below this fraction of the recent level is a collector dropout, not demand... */
  readonly dropoutFraction: number;
  /** ...provided the recent level is at least this (sparse series legitimately touch zero)... */
  readonly dropoutMinLevel: number;
  /** ...and the low run has lasted at most this long; after that it is accepted as real demand. */
  readonly dropoutMaxSeconds: number;
  /** Half-life of the level the dropout test compares against. */
  readonly dropoutReferenceHalfLifeSeconds: number;
}

export const defaultForecastSpec: ForecastSpec = {
  horizonSteps: 6,
  decisionHorizonSteps: 6,
  upperQuantile: 0.9,
  demandFloor: 0.01,
  selectionHalfLifeSeconds: 12 * 3600,
  minBacktestSamples: 12,
  blendSize: 3,
  blendTemperature: 0.05,
  calibrationWindowSeconds: 86400,
  minCalibrationSamples: 30,
  coverageAdaptationRate: 0.005,
  coldStartUpperRatio: 2,
  backtestWindowSeconds: 7 * 86400,
  maxHistorySeconds: 28 * 86400,
  staleAfterSteps: 3,
  shortHistoryModel: 'ewma(0.5)',
  zeroIsGap: false,
  dropoutFraction: 0.05,
  dropoutMinLevel: 0.2,
  dropoutMaxSeconds: 6 * 3600,
  dropoutReferenceHalfLifeSeconds: 2 * 3600,
};

export type SpecCheck = { ok: true; spec: ForecastSpec } | { ok: false; error: string };

type NumericKey = { [K in keyof ForecastSpec]: ForecastSpec[K] extends number ? K : never }[keyof ForecastSpec];

/** Merges overrides into the defaults and validates every key, naming the first bad one. */
export function resolveForecastSpec(overrides: Partial<ForecastSpec> = {}): SpecCheck {
  const horizonSteps = overrides.horizonSteps ?? defaultForecastSpec.horizonSteps;
  const spec: ForecastSpec = {
    ...defaultForecastSpec,
    // the decision horizon follows a shortened horizon unless set explicitly
    decisionHorizonSteps: Math.min(horizonSteps, defaultForecastSpec.decisionHorizonSteps),
    ...overrides,
  };
  const error = validateForecastSpec(spec);
  return error ? { ok: false, error } : { ok: true, spec };
}

/** Returns a message naming the failing key, or undefined when the spec is usable. */
export function validateForecastSpec(spec: ForecastSpec): string | undefined {
  const rules: Array<[NumericKey, (v: number) => boolean, string]> = [
    ['horizonSteps', (v) => Number.isInteger(v) && v >= 1 && v <= 10_000, 'an integer in 1..10000'],
    [
      'decisionHorizonSteps',
      (v) => Number.isInteger(v) && v >= 1 && v <= spec.horizonSteps,
      `an integer in 1..horizonSteps (${spec.horizonSteps})`,
    ],
    ['upperQuantile', (v) => v > 0.5 && v < 1, 'in (0.5, 1)'],
    ['demandFloor', (v) => v > 0, '> 0'],
    ['selectionHalfLifeSeconds', (v) => v > 0, '> 0'],
    ['minBacktestSamples', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
    ['blendSize', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0 (0 or 1 turns blending off)'],
    ['blendTemperature', (v) => v >= 0, '≥ 0 (0: equal weights over the best blendSize)'],
    ['calibrationWindowSeconds', (v) => v > 0, '> 0'],
    ['minCalibrationSamples', (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2'],
    ['coverageAdaptationRate', (v) => v >= 0 && v < 0.5, 'in [0, 0.5)'],
    ['coldStartUpperRatio', (v) => v >= 1, '≥ 1'],
    ['backtestWindowSeconds', (v) => v > 0, '> 0'],
    ['maxHistorySeconds', (v) => v > 0, '> 0'],
    ['staleAfterSteps', (v) => v >= 0, '≥ 0'],
    ['dropoutFraction', (v) => v >= 0 && v < 1, 'in [0, 1)'],
    ['dropoutMinLevel', (v) => v >= 0, '≥ 0'],
    ['dropoutMaxSeconds', (v) => v >= 0, '≥ 0'],
    ['dropoutReferenceHalfLifeSeconds', (v) => v > 0, '> 0'],
  ];
  for (const [key, ok, expected] of rules) {
    const value = spec[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      return `forecast spec: ${key} must be ${expected}, got ${String(value)}`;
    }
  }
  if (typeof spec.zeroIsGap !== 'boolean') return `forecast spec: zeroIsGap must be a boolean, got ${String(spec.zeroIsGap)}`;
  if (typeof spec.shortHistoryModel !== 'string') return 'forecast spec: shortHistoryModel must be a candidate name';
  return undefined;
}
