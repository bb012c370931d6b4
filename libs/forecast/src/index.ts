/**
 * @maas/forecast — per-series demand forecasting for pre-starting VMs ahead of demand.
 *
 * Pure: no clock, no randomness, no I/O. Time is always a parameter (seconds).
 *
 *   const check = resolveForecastSpec({ horizonSteps: 6 });          // at start-up; names the bad key
 *   if (!check.ok) throw new Error(check.error);
 *   const result = forecast(series, check.spec, now);                 // pure replay of series ≤ now
 *   if (result.valid) {
 *     result.points;       // [{ t, h, value, upper, model }] for h = 1..horizonSteps
 *     result.model;        // e.g. "holt-winters-hourly(0.5)" at the decision horizon
 *     result.backtest;     // own sMAPE / MAE / upper-quantile coverage per horizon, for /metrics
 *     result.fallbackReason; // e.g. "only 3 h of history; daily season needs 2 d"
 *   } else {
 *     result.reason;       // no data, stale data, bad spec: never a made-up forecast
 *   }
 *
 * For a long-running loop, `new DemandForecaster(spec, stepSeconds)` keeps the same state
 * incrementally: `observe(t, value)` each step, `forecast(now)` when needed. Replaying the same
 * observations through `forecast()` gives the identical result.
 *
 * Method, per series and per horizon h:
 * - candidates run online in log space (multiplicative noise, zeros kept finite by spec.demandFloor):
 *   persistence, EWMA (0.3/0.5/0.7), seasonal-naive daily and weekly, and Holt-Winters-style
 *   level + seasonal profiles: hourly (0.3/0.5/0.7), daily, hourly + daily, daily + weekly (Taylor);
 *   seasonal ones join once they have their warm-up history;
 * - every step scores the forecasts made h steps ago (rolling-origin backtest) into an exponentially
 *   weighted absolute log error per candidate and horizon (≈ sMAPE for busy series, sane on zeros);
 *   the point is the geometric blend of every scored candidate with exponential weights
 *   exp(−(e − e_best) / (spec.blendTemperature · e_best)), named after its heaviest members (at most
 *   spec.blendSize); blendTemperature 0 restores the older rule (the best candidate, or the equal
 *   blend of the best blendSize while that blend's own backtest is lower);
 * - the upper quantile is the empirical quantile of the emitted forecasts' recent log residuals at
 *   that horizon, its level adapted after each hit or miss so coverage tracks spec.upperQuantile;
 * - gaps (null, NaN, negative; zeros if spec.zeroIsGap; short collapses below spec.dropoutFraction of
 *   the recent level) are skipped, not learned.
 */
export { AccuracyTally, smapeTerm } from './accuracy';
export type { AccuracySummary } from './accuracy';
export { calendarPeriods, formatDuration } from './calendar';
export type { CalendarPeriods } from './calendar';
export { candidateSet, Ewma, Persistence, SeasonalLevel, SeasonalNaive } from './candidate-models';
export type { CandidateDefinition, CandidateModel, Season } from './candidate-models';
export type {
  CandidateScore,
  DemandForecast,
  DemandSeries,
  ForecastBacktest,
  ForecastPoint,
  HorizonBacktest,
  InvalidForecast,
  ValidForecast,
} from './demand-forecast';
export { DemandForecaster } from './demand-forecaster';
export { forecast } from './forecast';
export { defaultForecastSpec, resolveForecastSpec, validateForecastSpec } from './forecast-spec';
export type { ForecastSpec, SpecCheck } from './forecast-spec';
export { empiricalQuantile, normalQuantile, SortedWindow } from './quantiles';
