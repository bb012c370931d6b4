/**
 * A regularly stepped demand series (requests/s, tokens/s, ...). `values[i]` is the demand of the
 * step labelled `startSeconds + i * stepSeconds`; label each step by the time its value became known
 * (the end of its bucket). null, NaN and negative values are missing.
 */
export interface DemandSeries {
  readonly startSeconds: number;
  readonly stepSeconds: number;
  readonly values: ReadonlyArray<number | null>;
}

export interface ForecastPoint {
  /** Label of the forecast step, in seconds (origin + h * step). */
  readonly t: number;
  /** Steps ahead of the origin. */
  readonly h: number;
  /** Point forecast (median-like: a geometric-mean forecast of the demand). */
  readonly value: number;
  /** Upper quantile (spec.upperQuantile, p90 by default); always ≥ value. */
  readonly upper: number;
  /** Candidate that produced this point, e.g. "holt-winters-hourly(0.5)" or "blend(a+b+c)". */
  readonly model: string;
}

/** Accuracy of the forecaster's own past forecasts at one horizon, over the trailing backtest window. */
export interface HorizonBacktest {
  readonly h: number;
  readonly samples: number;
  /** Mean sMAPE in percent (0..200). */
  readonly smape: number;
  /** Mean absolute error in the series' unit. */
  readonly mae: number;
  /** Share of actuals at or below the upper quantile (0..1). */
  readonly coverage: number;
}

/** A candidate's recent backtest error at the decision horizon: what selection ranks. */
export interface CandidateScore {
  readonly model: string;
  /**
   * Exponentially weighted (spec.selectionHalfLifeSeconds) mean |ln((actual + floor) / (forecast + floor))|;
   * about sMAPE / 100 for busy series.
   */
  readonly logError: number;
  readonly samples: number;
}

export interface ForecastBacktest {
  readonly windowSeconds: number;
  readonly upperQuantile: number;
  /** One entry per horizon that has scored forecasts, ascending by h. */
  readonly horizons: readonly HorizonBacktest[];
  /** Candidates with scored forecasts at the decision horizon, best first. */
  readonly candidates: readonly CandidateScore[];
}

export interface ValidForecast {
  readonly valid: true;
  /** Model of the point at the decision horizon. */
  readonly model: string;
  /** Label of the last observation used, in seconds. */
  readonly originSeconds: number;
  readonly stepSeconds: number;
  readonly horizonSteps: number;
  readonly decisionHorizonSteps: number;
  /** h = 1..horizonSteps. */
  readonly points: readonly ForecastPoint[];
  readonly backtest: ForecastBacktest;
  /** Set when history or backtest is too short for the full method, saying what is missing. */
  readonly fallbackReason?: string;
}

/** Missing or stale data: no forecast rather than a wrong one. */
export interface InvalidForecast {
  readonly valid: false;
  readonly reason: string;
}

export type DemandForecast = ValidForecast | InvalidForecast;
