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
   * Interactive requests per second; tokens, concurrency and TTFT count interactive requests only
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
  /**
   * Batch requests queued or running, not yet done (from batch.backlog-reported)
   */
  batchBacklog?: number;
  batchBacklogInputTokens?: number;
  /**
   * Earliest deadline (expires_at) of the backlog
   */
  batchDeadline?: string | null;
  /**
   * Batch requests completed per second
   */
  batchRequestRate?: number;
}
