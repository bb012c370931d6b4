import { Histogram } from '@maas/engine-sim';
import { RuntimeMetrics } from '@maas/media';
import { GenerationObserver } from './generation.service';

/** vLLM's time-to-first-token buckets, trimmed to what a CPU runtime can see. */
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

const COUNTERS = {
  prompt: ['vllm:prompt_tokens_total', 'Prompt tokens of admitted generations.'],
  generation: ['vllm:generation_tokens_total', 'Tokens sampled.'],
  prefixQueries: ['vllm:prefix_cache_queries_total', 'Prompt tokens looked up in a slot\u2019s cache.'],
  prefixHits: ['vllm:prefix_cache_hits_total', 'Prompt tokens found in a slot\u2019s cache (not evaluated again).'],
  embeddingInputs: ['maas_embedding_inputs_total', 'Embedding inputs evaluated.'],
} as const;

const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * The llama.cpp runtime's `/metrics`: the media runtimes' request counters and vLLM-named load
 * gauges, plus vLLM's token counters, prefix-cache counters, KV usage and time to first token, so
 * the worker agent reads it like a vLLM server.
 */
export class LlamaMetrics implements GenerationObserver {
  private readonly ttft = new Histogram(TTFT_BUCKETS);

  constructor(
    readonly requests: RuntimeMetrics,
    private readonly modelName: string,
  ) {
    // Counters exist from the start, at zero, as Prometheus clients expect.
    for (const [name, help] of Object.values(COUNTERS)) requests.count(name, help, 0);
  }

  started(promptTokens: number, cachedTokens: number): void {
    this.add('prompt', promptTokens);
    this.add('prefixQueries', promptTokens);
    this.add('prefixHits', cachedTokens);
  }

  sampled(firstTokenSeconds?: number): void {
    this.add('generation', 1);
    if (firstTokenSeconds !== undefined) this.ttft.observe(firstTokenSeconds);
  }

  embedded(inputs: number): void {
    this.add('embeddingInputs', inputs);
  }

  render(kvCacheUsage: number): string {
    const model = `model_name="${escape(this.modelName)}"`;
    const lines = [
      '# HELP vllm:kv_cache_usage_perc Fraction of the slots\u2019 KV cache held by requests being served (1 = full).',
      '# TYPE vllm:kv_cache_usage_perc gauge',
      `vllm:kv_cache_usage_perc{${model}} ${kvCacheUsage}`,
      '# HELP vllm:time_to_first_token_seconds Seconds from admission to a slot to the first sampled token.',
      '# TYPE vllm:time_to_first_token_seconds histogram',
    ];
    let cumulative = 0;
    this.ttft.bounds.forEach((bound, i) => {
      cumulative += this.ttft.counts[i];
      lines.push(`vllm:time_to_first_token_seconds_bucket{${model},le="${bound}"} ${cumulative}`);
    });
    lines.push(
      `vllm:time_to_first_token_seconds_bucket{${model},le="+Inf"} ${this.ttft.count}`,
      `vllm:time_to_first_token_seconds_sum{${model}} ${this.ttft.sum}`,
      `vllm:time_to_first_token_seconds_count{${model}} ${this.ttft.count}`,
    );
    return `${this.requests.render()}${lines.join('\n')}\n`;
  }

  private add(counter: keyof typeof COUNTERS, amount: number): void {
    const [name, help] = COUNTERS[counter];
    this.requests.count(name, help, amount);
  }
}
