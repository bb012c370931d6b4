/* Generated from proto/metrics/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Per-model demand and service figures over one interval.
 */
export interface MetricAggregated {
  model: string;
  intervalStart: string;
  intervalSeconds: number;
  /**
   * Requests per second
   */
  requestRate: number;
  inputTokensPerSecond?: number;
  outputTokensPerSecond?: number;
  /**
   * Mean requests in flight
   */
  concurrency: number;
  queueDepth: number;
  ttftP50Ms?: number | null;
  ttftP95Ms?: number | null;
  errors?: number;
  readyWorkers: number;
  capacityPerWorker?: number | null;
  batchBacklog?: number;
}
