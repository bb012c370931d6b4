import { EngineEvent, EngineSnapshot } from './engine-types';

/** vLLM's bucket bounds, so dashboards built for vLLM read the simulator unchanged. */
export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];
export const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) this.counts[i] += 1;
  }
}

/** Latency histograms and outcome counters fed from engine events; times are engine (simulated) seconds. */
export class EngineMetrics {
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly e2e = new Histogram(E2E_BUCKETS);
  readonly successes = new Map<string, number>();

  /** `finishedReason` labels a finished request the way the API reported it ('stop', 'length'). */
  observe(event: EngineEvent, finishedReason = 'length'): void {
    if (event.type === 'first-token') this.ttft.observe(event.time - event.arrivedAt);
    if (event.type === 'finished') {
      this.e2e.observe(event.time - event.arrivedAt);
      this.successes.set(finishedReason, (this.successes.get(finishedReason) ?? 0) + 1);
    }
  }
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition (format 0.0.4) with vLLM's metric names, labelled by model_name. */
export function renderMetrics(modelName: string, snap: EngineSnapshot, metrics: EngineMetrics): string {
  const labels = `model_name="${label(modelName)}"`;
  const lines: string[] = [];
  const sample = (name: string, type: 'gauge' | 'counter', help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
  };
  const histogram = (name: string, help: string, h: Histogram) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += h.counts[i];
      lines.push(`${name}_bucket{${labels},le="${bound}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`, `${name}_sum{${labels}} ${h.sum}`, `${name}_count{${labels}} ${h.count}`);
  };
  sample('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', snap.running);
  sample('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', snap.waiting);
  sample('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', snap.kvUsage);
  sample('vllm:gpu_cache_usage_perc', 'gauge', 'GPU KV-cache usage. 1 means 100 percent usage (deprecated name).', snap.kvUsage);
  sample(
    'vllm:prefix_cache_queries_total',
    'counter',
    'Prefix cache queries, in terms of number of queried tokens.',
    snap.prefixCacheQueries,
  );
  sample('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', snap.prefixCacheHits);
  sample('vllm:num_preemptions_total', 'counter', 'Cumulative number of preemptions from the engine.', snap.preemptions);
  sample('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', snap.promptTokens);
  sample('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', snap.generationTokens);
  lines.push('# HELP vllm:request_success_total Count of successfully processed requests.', '# TYPE vllm:request_success_total counter');
  for (const reason of ['stop', 'length', ...[...metrics.successes.keys()].filter((r) => r !== 'stop' && r !== 'length')]) {
    lines.push(`vllm:request_success_total{finished_reason="${label(reason)}",${labels}} ${metrics.successes.get(reason) ?? 0}`);
  }
  histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', metrics.ttft);
  histogram('vllm:e2e_request_latency_seconds', 'Histogram of end to end request latency in seconds.', metrics.e2e);
  return `${lines.join('\n')}\n`;
}
