import type { WorkerLoad } from '@maas/contracts';
import { sumSamples } from './prometheus-text';

export type RuntimeFamily = 'vllm' | 'llama.cpp';

/** The load metrics of the runtimes we know, under their current and older names. */
const NAMES = {
  vllm: {
    running: ['vllm:num_requests_running'],
    waiting: ['vllm:num_requests_waiting'],
    kv: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
    prefixQueries: ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_queries'],
    prefixHits: ['vllm:prefix_cache_hits_total', 'vllm:prefix_cache_hits'],
    // Time between two tokens of a sequence: one engine step (renamed inter-token latency in later vLLM).
    tokenGapSum: ['vllm:inter_token_latency_seconds_sum', 'vllm:time_per_output_token_seconds_sum'],
    tokenGapCount: ['vllm:inter_token_latency_seconds_count', 'vllm:time_per_output_token_seconds_count'],
    generated: ['vllm:generation_tokens_total', 'vllm:generation_tokens'],
  },
  'llama.cpp': {
    running: ['llamacpp:requests_processing'],
    waiting: ['llamacpp:requests_deferred'],
    kv: ['llamacpp:kv_cache_usage_ratio'],
    prefixQueries: [],
    prefixHits: [],
    tokenGapSum: [],
    tokenGapCount: [],
    generated: [],
  },
} as const;

const ALL = new Set<string>(Object.values(NAMES).flatMap((n) => Object.values(n).flat()));

/** One reading of a runtime's `/metrics`; `prefix*` and `tokenGap*` are cumulative counters. */
export interface LoadReading {
  readonly family: RuntimeFamily;
  readonly running: number;
  readonly waiting: number;
  readonly kvCacheUsage?: number;
  readonly prefixQueries?: number;
  readonly prefixHits?: number;
  /** Seconds between consecutive tokens of sequences, summed, and how many such gaps: the histogram's `_sum` and `_count`. */
  readonly tokenGapSum?: number;
  readonly tokenGapCount?: number;
  /** Output tokens generated so far (a counter). */
  readonly generatedTokens?: number;
  /** When it was read (ms, the caller's clock); with the previous reading's, the step time can be estimated. */
  readonly atMs?: number;
}

function first(sums: Map<string, number>, names: readonly string[]): number | undefined {
  for (const n of names) if (sums.has(n)) return sums.get(n);
  return undefined;
}

/** Reads vLLM's or llama.cpp server's load from its metrics text (read at `atMs`); undefined when neither is there. */
export function parseRuntimeLoad(text: string, atMs?: number): LoadReading | undefined {
  const sums = sumSamples(text, ALL);
  for (const family of ['vllm', 'llama.cpp'] as const) {
    const n = NAMES[family];
    const running = first(sums, n.running);
    const waiting = first(sums, n.waiting);
    if (running === undefined && waiting === undefined) continue;
    return {
      family,
      running: Math.max(0, Math.round(running ?? 0)),
      waiting: Math.max(0, Math.round(waiting ?? 0)),
      kvCacheUsage: first(sums, n.kv),
      prefixQueries: first(sums, n.prefixQueries),
      prefixHits: first(sums, n.prefixHits),
      tokenGapSum: first(sums, n.tokenGapSum),
      tokenGapCount: first(sums, n.tokenGapCount),
      generatedTokens: first(sums, n.generated),
      ...(atMs !== undefined ? { atMs } : {}),
    };
  }
  return undefined;
}

/**
 * The heartbeat's load: the reading, with the prefix-cache hit rate and the mean step time (time between
 * two tokens of a sequence) over the interval since `previous`.
 */
export function workerLoad(reading: LoadReading, previous?: LoadReading): WorkerLoad {
  const load: { -readonly [K in keyof WorkerLoad]: WorkerLoad[K] } = { running: reading.running, waiting: reading.waiting };
  if (reading.kvCacheUsage !== undefined) load.kvCacheUsage = Math.min(1, Math.max(0, reading.kvCacheUsage));
  if (
    previous?.prefixQueries !== undefined &&
    reading.prefixQueries !== undefined &&
    reading.prefixHits !== undefined &&
    previous.prefixHits !== undefined
  ) {
    const queries = reading.prefixQueries - previous.prefixQueries;
    const hits = reading.prefixHits - previous.prefixHits;
    if (queries > 0 && hits >= 0) load.prefixCacheHitRate = Math.min(1, hits / queries);
  }
  if (
    previous?.tokenGapSum !== undefined &&
    previous.tokenGapCount !== undefined &&
    reading.tokenGapSum !== undefined &&
    reading.tokenGapCount !== undefined
  ) {
    const gaps = reading.tokenGapCount - previous.tokenGapCount;
    const seconds = reading.tokenGapSum - previous.tokenGapSum;
    if (gaps > 0 && seconds >= 0) load.stepMs = Math.round((seconds / gaps) * 1e6) / 1e3;
  } else if (
    previous?.atMs !== undefined &&
    reading.atMs !== undefined &&
    previous.generatedTokens !== undefined &&
    reading.generatedTokens !== undefined
  ) {
    // Without the histogram: a decode step gives each running sequence one token, so a step lasts the
    // interval × sequences running ÷ tokens generated (prefill steps make it an estimate).
    const generated = reading.generatedTokens - previous.generatedTokens;
    const running = (reading.running + previous.running) / 2;
    const elapsed = reading.atMs - previous.atMs;
    if (generated > 0 && running > 0 && elapsed > 0) load.stepMs = Math.round(((elapsed * running) / generated) * 1e3) / 1e3;
  }
  return load;
}
