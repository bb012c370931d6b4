import { summarize, Summary } from '../lib/stats';
import { ReplayResult } from './cluster-replay';
import { TRACE_BLOCK_TOKENS } from './trace';

export interface PolicyMetrics {
  readonly completed: number;
  readonly failed: number;
  readonly ttft: Summary;
  readonly e2e: Summary;
  /** Prompt blocks the engines served from cache (at first admission) over all prompt blocks. */
  readonly blockHitRate: number;
  /** The engines' own counters, vLLM-style: cached prompt tokens over prompt tokens looked up. */
  readonly engineTokenHitRate: number;
  /** Share of the oracle's hit rate reached. */
  readonly ofOracle: number;
  readonly requestsPerWorker: number[];
  /** First arrival to last completion, seconds. */
  readonly makespanSeconds: number;
  readonly requestsPerSecond: number;
  /** Prompt + output tokens per second over the makespan. */
  readonly tokensPerSecond: number;
  /** Uncached prompt tokens over what the workers could prefill in the makespan: how hard routing made them work. */
  readonly prefillLoad: number;
  /** KV blocks running requests held, averaged over heartbeats, over the workers' engine KV (host tier not counted): KV demand. */
  readonly kvLoad: number;
  /** Share of arrivals at which a worker idled while another had a queue. */
  readonly idleWhileQueued: number;
  /** Picks that went to a worker with a queue while another worker sat idle: what routing alone could have avoided. */
  readonly queuedPicksWhileIdle: number;
  /** Of those, the ones that waited longer than the idle worker would have taken: the ones the prefix saving did not pay for. */
  readonly queuedPicksWhileIdleLost: number;
  /** Workers that received no request at all. */
  readonly unusedWorkers: number;
}

export function policyMetrics(
  result: ReplayResult,
  totalBlocks: number,
  oracleHitRate: number,
  prefillTokensPerSecond: number,
  engineKvBlocks: number,
): PolicyMetrics {
  const done = result.outcomes.filter((o) => o.finishedSeconds !== undefined && o.firstTokenSeconds !== undefined);
  const ttft = done.map((o) => (o.firstTokenSeconds as number) - o.arrivalSeconds);
  const e2e = done.map((o) => (o.finishedSeconds as number) - o.arrivalSeconds);
  const start = Math.min(...result.outcomes.map((o) => o.arrivalSeconds));
  const end = Math.max(...done.map((o) => o.finishedSeconds as number));
  const makespan = end - start;
  const cachedBlocks = result.outcomes.reduce((sum, o) => sum + o.cachedBlocks, 0);
  const tokens = done.reduce((sum, o) => sum + o.promptTokens + o.outputTokens, 0);
  const uncached = result.outcomes.reduce((sum, o) => sum + o.promptTokens - o.cachedBlocks * TRACE_BLOCK_TOKENS, 0);
  const hitTokens = result.workers.reduce((sum, w) => sum + w.prefixCacheHitTokens, 0);
  const queryTokens = result.workers.reduce((sum, w) => sum + w.prefixCacheQueryTokens, 0);
  const blockHitRate = cachedBlocks / totalBlocks;
  return {
    completed: done.length,
    failed: result.outcomes.length - done.length,
    ttft: summarize(ttft),
    e2e: summarize(e2e),
    blockHitRate,
    engineTokenHitRate: queryTokens > 0 ? hitTokens / queryTokens : 0,
    ofOracle: blockHitRate / oracleHitRate,
    requestsPerWorker: result.workers.map((w) => w.requests),
    makespanSeconds: makespan,
    requestsPerSecond: done.length / makespan,
    tokensPerSecond: tokens / makespan,
    prefillLoad: uncached / (prefillTokensPerSecond * result.workers.length * makespan),
    kvLoad: result.workers.reduce((sum, w) => sum + w.meanKvBlocksInUse, 0) / (engineKvBlocks * result.workers.length),
    idleWhileQueued: result.idleWhileQueued,
    queuedPicksWhileIdle: result.queuedPicksWhileIdle,
    queuedPicksWhileIdleLost: result.queuedPicksWhileIdleLost,
    unusedWorkers: result.workers.filter((w) => w.requests === 0).length,
  };
}
