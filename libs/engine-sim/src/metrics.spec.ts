import { EngineSnapshot } from './engine-types';
import { EngineMetrics, renderMetrics } from './metrics';

const snapshot: EngineSnapshot = {
  state: 'ready',
  running: 3,
  waiting: 2,
  maxNumSeqs: 256,
  kvBlocks: 100,
  kvBlocksUsed: 25,
  kvBlocksCached: 10,
  kvUsage: 0.25,
  prefixCacheQueries: 1000,
  prefixCacheHits: 640,
  promptTokens: 1200,
  generationTokens: 345,
  requestsSubmitted: 9,
  requestsFinished: 4,
  requestsFailed: 0,
  requestsCancelled: 0,
  preemptions: 1,
};

describe('renderMetrics', () => {
  const metrics = new EngineMetrics();
  metrics.observe({ type: 'first-token', id: 'a', time: 10.3, arrivedAt: 10 });
  metrics.observe({ type: 'first-token', id: 'b', time: 13, arrivedAt: 10 });
  metrics.observe({ type: 'finished', id: 'a', time: 12, arrivedAt: 10, promptTokens: 1, outputTokens: 1, cachedTokens: 0 }, 'stop');
  const text = renderMetrics('org/"quoted"', snapshot, metrics);
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(series));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  const labels = 'model_name="org/\\"quoted\\""';

  it.each([
    ['vllm:num_requests_running', 3],
    ['vllm:num_requests_waiting', 2],
    ['vllm:kv_cache_usage_perc', 0.25],
    ['vllm:gpu_cache_usage_perc', 0.25],
    ['vllm:prefix_cache_queries_total', 1000],
    ['vllm:prefix_cache_hits_total', 640],
    ['vllm:prompt_tokens_total', 1200],
    ['vllm:generation_tokens_total', 345],
    ['vllm:num_preemptions_total', 1],
  ])('exposes %s', (name, expected) => {
    expect(value(`${name}{${labels}}`)).toBe(expected);
    expect(text).toMatch(new RegExp(`# TYPE ${name} (gauge|counter)`));
  });

  it('labels successes by finish reason', () => {
    expect(value(`vllm:request_success_total{finished_reason="stop",${labels}}`)).toBe(1);
    expect(value(`vllm:request_success_total{finished_reason="length",${labels}}`)).toBe(0);
  });

  it('writes cumulative histograms with +Inf, sum and count', () => {
    expect(value(`vllm:time_to_first_token_seconds_bucket{${labels},le="0.5"}`)).toBe(1);
    expect(value(`vllm:time_to_first_token_seconds_bucket{${labels},le="5"}`)).toBe(2);
    expect(value(`vllm:time_to_first_token_seconds_bucket{${labels},le="+Inf"}`)).toBe(2);
    expect(value(`vllm:time_to_first_token_seconds_sum{${labels}}`)).toBeCloseTo(3.3, 9);
    expect(value(`vllm:e2e_request_latency_seconds_count{${labels}}`)).toBe(1);
    expect(text).toContain('# TYPE vllm:e2e_request_latency_seconds histogram');
  });
});
