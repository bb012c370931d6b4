import { DemandForecast, DemandSeries } from './demand-forecast';
import { DemandForecaster } from './demand-forecaster';
import { ForecastSpec, validateForecastSpec } from './forecast-spec';

/**
 * Forecast of `series` as known at `now` (seconds): replays the observations labelled ≤ now (at most
 * spec.maxHistorySeconds of them) through a fresh DemandForecaster. Pure: same inputs, same result;
 * never throws — bad input gives `{ valid: false, reason }`.
 */
export function forecast(series: DemandSeries, spec: ForecastSpec, now: number): DemandForecast {
  const specError = validateForecastSpec(spec);
  if (specError) return { valid: false, reason: specError };
  const { startSeconds, stepSeconds, values } = series;
  if (!(stepSeconds > 0) || !Number.isFinite(stepSeconds))
    return { valid: false, reason: `series stepSeconds must be > 0, got ${stepSeconds}` };
  if (!Number.isFinite(startSeconds)) return { valid: false, reason: `series startSeconds must be finite, got ${startSeconds}` };
  if (!Number.isFinite(now)) return { valid: false, reason: `now must be finite, got ${now}` };
  const last = Math.min(values.length - 1, Math.floor((now - startSeconds) / stepSeconds));
  if (last < 0) return { valid: false, reason: values.length ? `no observation at or before now (t=${now})` : 'no observations' };
  const first = Math.max(0, last + 1 - Math.floor(spec.maxHistorySeconds / stepSeconds));
  let forecaster: DemandForecaster;
  try {
    forecaster = new DemandForecaster(spec, stepSeconds);
  } catch (error) {
    return { valid: false, reason: (error as Error).message };
  }
  for (let i = first; i <= last; i += 1) forecaster.observe(startSeconds + i * stepSeconds, values[i]);
  return forecaster.forecast(now);
}
