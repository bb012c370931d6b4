import { sumSamples } from './prometheus-text';
import { parseRuntimeLoad, workerLoad } from './runtime-load';

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="a"} 3.0
vllm:num_requests_running{engine="1",model_name="a"} 1.0
vllm:num_requests_waiting{model_name="a"} 2
vllm:gpu_cache_usage_perc{model_name="a"} 0.25
vllm:prefix_cache_queries_total{model_name="a"} 1000
vllm:prefix_cache_hits_total{model_name="a"} 400
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="a"} 5
`;
const LLAMA = `llamacpp:requests_processing 2
llamacpp:requests_deferred 5
llamacpp:kv_cache_usage_ratio 0.75
`;

describe('runtime load', () => {
  it('sums samples over label sets and skips what it was not asked for', () => {
    expect(sumSamples(VLLM, new Set(['vllm:num_requests_running']))).toEqual(new Map([['vllm:num_requests_running', 4]]));
    expect(sumSamples('bad line\nx{a="}"} nope\n', new Set(['x', 'bad']))).toEqual(new Map());
  });

  it('reads vLLM, with the older KV-cache name', () => {
    expect(parseRuntimeLoad(VLLM)).toEqual({
      family: 'vllm',
      running: 4,
      waiting: 2,
      kvCacheUsage: 0.25,
      prefixQueries: 1000,
      prefixHits: 400,
    });
  });

  it('reads llama.cpp server', () => {
    expect(parseRuntimeLoad(LLAMA)).toMatchObject({ family: 'llama.cpp', running: 2, waiting: 5, kvCacheUsage: 0.75 });
  });

  it('turns the inter-token histogram into the mean step time since the previous reading', () => {
    const text = (sum: number, count: number) =>
      `${VLLM}vllm:inter_token_latency_seconds_sum{model_name="a"} ${sum}\nvllm:inter_token_latency_seconds_count{model_name="a"} ${count}\n`;
    const before = parseRuntimeLoad(text(10, 500))!;
    expect(before).toMatchObject({ tokenGapSum: 10, tokenGapCount: 500 });
    expect(workerLoad(parseRuntimeLoad(text(14.5, 600))!, before).stepMs).toBe(45);
    expect(workerLoad(parseRuntimeLoad(text(10, 500))!, before).stepMs).toBeUndefined(); // no token since
    expect(workerLoad(before).stepMs).toBeUndefined();
    const older = parseRuntimeLoad(VLLM + 'vllm:time_per_output_token_seconds_sum 2\nvllm:time_per_output_token_seconds_count 100\n')!;
    expect(older).toMatchObject({ tokenGapSum: 2, tokenGapCount: 100 });
  });

  it('without that histogram, estimates the step from tokens generated per running sequence over the interval', () => {
    const text = (running: number, generated: number) =>
      `vllm:num_requests_running ${running}\nvllm:num_requests_waiting 0\nvllm:generation_tokens_total ${generated}\n`;
    const before = parseRuntimeLoad(text(30, 1000), 10_000)!;
    // 32 sequences on average, 640 tokens in 1 s: 20 steps of 50 ms
    expect(workerLoad(parseRuntimeLoad(text(34, 1640), 11_000)!, before).stepMs).toBe(50);
    expect(workerLoad(parseRuntimeLoad(text(0, 1000), 11_000)!, parseRuntimeLoad(text(0, 1000), 10_000)).stepMs).toBeUndefined(); // idle
    expect(workerLoad(parseRuntimeLoad(text(34, 1640))!, parseRuntimeLoad(text(30, 1000))).stepMs).toBeUndefined(); // no times
  });

  it('knows nothing from other metrics', () => {
    expect(parseRuntimeLoad('process_cpu_seconds_total 3\n')).toBeUndefined();
  });

  it('turns prefix counters into the hit rate since the previous reading', () => {
    const before = parseRuntimeLoad(VLLM)!;
    const after = { ...before, prefixQueries: 2000, prefixHits: 1150 };
    expect(workerLoad(after, before)).toEqual({ running: 4, waiting: 2, kvCacheUsage: 0.25, prefixCacheHitRate: 0.75 });
    expect(workerLoad(before)).toEqual({ running: 4, waiting: 2, kvCacheUsage: 0.25 });
  });
});
