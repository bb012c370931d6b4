import { env, loadConfig } from '@maas/config';

export const forecasterConfigSpec = {
  /** Step of the forecast series; aggregates are averaged into it. */
  FORECAST_STEP_MS: env.duration('1m'),
  /** How far ahead to forecast: at least the VM boot time plus a margin. */
  FORECAST_HORIZON_MS: env.duration('15m'),
  /** Upper quantile published with each point. */
  FORECAST_UPPER_QUANTILE: env.number(0.9, 0.5, 0.999),
};
export const loadForecasterConfig = () => loadConfig(forecasterConfigSpec);
export type ForecasterConfig = ReturnType<typeof loadForecasterConfig>;
export const FORECASTER_CONFIG = Symbol('FORECASTER_CONFIG');
