import { BoundedLabel, SeriesCounter, SeriesHistogram } from '@maas/platform';
import type { RequestRecord } from './usage.service';

/** Models with a label of their own; any further (or unknown) model is counted as `other`. */
export const MAX_MODEL_LABELS = 50;

/*
 * Counters and histograms only, so several gateways add up in Prometheus (sum by (le, model) (rate(...)));
 * names and buckets follow vLLM's (time_to_first_token, time_per_output_token, e2e, queue time).
 * Series families (not prom-client's Counter/Histogram): an update on the request path is a map lookup
 * and an addition, with no label validation and hashing per call.
 */
const requests = new SeriesCounter(
  'maas_gateway_requests_total',
  'Authenticated inference requests by model, endpoint, kind (interactive, batch) and HTTP status',
  ['model', 'endpoint', 'kind', 'status'],
);
const tokens = new SeriesCounter(
  'maas_gateway_tokens_total',
  'Tokens by model, direction (input, output) and kind (interactive, batch); the runtime’s counts, else the gateway’s estimate',
  ['model', 'direction', 'kind'],
);
const duration = new SeriesHistogram(
  'maas_gateway_request_duration_seconds',
  'Arrival to last byte of requests sent to a worker, by model, endpoint and kind',
  ['model', 'endpoint', 'kind'],
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
);
const queueTime = new SeriesHistogram(
  'maas_gateway_request_queue_time_seconds',
  'Arrival to the upstream request being sent (authentication, body, limits, waiting for capacity, routing), by model and kind',
  ['model', 'kind'],
  [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
);
const ttft = new SeriesHistogram(
  'maas_gateway_time_to_first_token_seconds',
  'Arrival to the first generated token of streamed requests, by model',
  ['model'],
  [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
);
const tpot = new SeriesHistogram(
  'maas_gateway_time_per_output_token_seconds',
  'Time per output token after the first, of streamed requests that completed with two or more, by model',
  ['model'],
  [0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5],
);

/** A completed interactive request's latency, as the adaptive batch control reads it (times on the monotonic clock). */
export interface InteractiveLatency {
  readonly model: string;
  readonly workerId: string | null;
  /** When its first token came. */
  readonly firstTokenAt: number;
  readonly ttftMs: number;
  readonly tpotMs?: number;
}

const latencyListeners = new Set<(latency: InteractiveLatency) => void>();

/** Calls `listener` with the latency of each interactive request that streamed a token; returns the unsubscribe. */
export function onInteractiveLatency(listener: (latency: InteractiveLatency) => void): () => void {
  latencyListeners.add(listener);
  return () => latencyListeners.delete(listener);
}

/** What the metrics need to know of the models: whether the gateway serves (or recently served) one. */
export interface ModelCatalogue {
  knownModel(model: string): unknown;
}

/** The gateway's request metrics: one `observe` per completed request, labelled by a bounded model label. */
export class RequestMetrics {
  private readonly models = new BoundedLabel(MAX_MODEL_LABELS);
  private readonly isKnown: (model: string) => boolean;

  constructor(catalogue: ModelCatalogue) {
    this.isKnown = (model) => catalogue.knownModel(model) !== undefined;
  }

  /** The model's label: its name when the gateway knows it and there is room, else `other`. */
  modelLabel(model: string): string {
    return this.models.value(model, this.isKnown);
  }

  observe(record: RequestRecord, status: number, latencyMs: number): void {
    const model = this.modelLabel(record.model);
    const { endpoint } = record.route;
    const { kind } = record;
    requests.labels(model, endpoint, kind, String(status)).inc();
    if (record.promptTokens) tokens.labels(model, 'input', kind).inc(record.promptTokens);
    if (record.completionTokens) tokens.labels(model, 'output', kind).inc(record.completionTokens);
    if (record.queueMs === null) return; // never sent to a worker: no latency of a model to speak of
    queueTime.labels(model, kind).observe(record.queueMs / 1000);
    duration.labels(model, endpoint, kind).observe(latencyMs / 1000);
    if (record.ttftMs === null) return;
    ttft.labels(model).observe(record.ttftMs / 1000);
    let tpotMs: number | undefined;
    if (status === 200 && record.completionTokens > 1 && latencyMs > record.ttftMs) {
      tpotMs = (latencyMs - record.ttftMs) / (record.completionTokens - 1);
      tpot.labels(model).observe(tpotMs / 1000);
    }
    if (kind === 'interactive' && latencyListeners.size > 0) {
      const latency = {
        model: record.model,
        workerId: record.workerId,
        firstTokenAt: record.t0 + record.ttftMs,
        ttftMs: record.ttftMs,
        tpotMs,
      };
      for (const listener of latencyListeners) listener(latency);
    }
  }
}
