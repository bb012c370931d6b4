import type { MetricAggregated } from '@maas/contracts';

/**
 * Combines consecutive aggregates of one model into one of a coarser resolution. Rates and
 * concurrency are time-weighted means; TTFT p50 is the request-weighted mean of the p50s and p95 the
 * largest p95 (exact percentiles would need the samples, which are not kept past 10 s). The batch
 * backlog is a level, not a rate: the last part's.
 */
export function rollUp(parts: MetricAggregated[], intervalStart: number, intervalSeconds: number): MetricAggregated | undefined {
  if (parts.length === 0) return undefined;
  const total = parts.reduce((s, p) => s + p.intervalSeconds, 0);
  const weighted = (f: (p: MetricAggregated) => number) => parts.reduce((s, p) => s + f(p) * p.intervalSeconds, 0) / total;
  const withTtft = parts.filter((p) => p.ttftP50Ms !== null && p.ttftP50Ms !== undefined && p.requestRate > 0);
  const requests = withTtft.reduce((s, p) => s + p.requestRate * p.intervalSeconds, 0);
  const last = parts[parts.length - 1];
  return {
    model: parts[0].model,
    intervalStart: new Date(intervalStart).toISOString(),
    intervalSeconds,
    requestRate: weighted((p) => p.requestRate),
    inputTokensPerSecond: weighted((p) => p.inputTokensPerSecond ?? 0),
    outputTokensPerSecond: weighted((p) => p.outputTokensPerSecond ?? 0),
    concurrency: weighted((p) => p.concurrency),
    queueDepth: weighted((p) => p.queueDepth),
    ttftP50Ms: requests > 0 ? withTtft.reduce((s, p) => s + p.ttftP50Ms! * p.requestRate * p.intervalSeconds, 0) / requests : null,
    ttftP95Ms: withTtft.length ? Math.max(...withTtft.map((p) => p.ttftP95Ms ?? 0)) : null,
    errors: parts.reduce((s, p) => s + (p.errors ?? 0), 0),
    readyWorkers: last.readyWorkers,
    capacityPerWorker: last.capacityPerWorker ?? null,
    batchRequestRate: weighted((p) => p.batchRequestRate ?? 0),
    batchBacklog: last.batchBacklog ?? 0,
    batchBacklogInputTokens: last.batchBacklogInputTokens ?? 0,
    batchDeadline: last.batchDeadline ?? null,
  };
}
