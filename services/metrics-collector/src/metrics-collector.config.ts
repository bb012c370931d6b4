import { env, loadConfig } from '@maas/config';

export const metricsCollectorConfigSpec = {
  /** Resolution of the series and how often aggregates are published. */
  METRICS_INTERVAL_MS: env.duration('10s'),
  /** How long an interval stays open for late usage events. */
  METRICS_LATENESS_MS: env.duration('5s'),
  RETENTION_10S_MS: env.duration('2d'),
  RETENTION_1M_MS: env.duration('14d'),
  RETENTION_10M_MS: env.duration('90d'),
};
export const loadMetricsCollectorConfig = () => loadConfig(metricsCollectorConfigSpec);
export type MetricsCollectorConfig = ReturnType<typeof loadMetricsCollectorConfig>;
export const METRICS_COLLECTOR_CONFIG = Symbol('METRICS_COLLECTOR_CONFIG');
