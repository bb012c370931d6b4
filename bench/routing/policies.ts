import { RoutingConfig, routingPresets, ScorerConfig } from '@maas/routing';
import { TRACE_BLOCK_TOKENS } from './trace';

export interface PolicyLine {
  readonly name: string;
  readonly config: RoutingConfig;
  /** Lines the targets are checked on. */
  readonly prefixAware: boolean;
}

export const TUNED_YIELD_AT_QUEUE = 16;

/** Changes to the prefix-load preset; all three make the tuned line, one at a time the ablation lines. */
export interface PrefixLoadTuning {
  /** Size the prefix index to the worker's KV cache (in trace blocks) instead of the preset's 4096. */
  readonly sizeIndexToKv?: boolean;
  readonly yieldAtQueue?: number;
  readonly dropKvCacheScorer?: boolean;
}

/**
 * Why each change generalises beyond this trace:
 * - an index the size of the engine's KV forgets a prefix when the engine evicts it, no sooner and no later;
 * - prompts sharing a prefix queue together on its holder by design, so at a yield of 4 waiting requests
 *   (stale by up to a heartbeat) hot prefixes spread exactly when recomputing them costs most, which adds
 *   load, which spreads them further; 16 still yields to a holder that is clearly swamped;
 * - KV usage from the last heartbeat sends every request of a 1–2 s window to the worker that looked
 *   emptiest, and it counts the very prefix blocks affinity wants to reuse; `outstanding` is fresh.
 */
export function tunePrefixLoad(tuning: PrefixLoadTuning, kvBlocksPerWorker: number, blockSize: number): RoutingConfig {
  const preset = routingPresets['prefix-load'];
  const capacityBlocks = Math.max(1, Math.floor((kvBlocksPerWorker * blockSize) / TRACE_BLOCK_TOKENS));
  const scorers: ScorerConfig[] = preset.scorers
    .filter((s) => !(tuning.dropKvCacheScorer && (s.name as string) === 'kv-cache'))
    .map((s) =>
      s.name === 'prefix-affinity'
        ? {
            ...s,
            yieldAtQueue: tuning.yieldAtQueue ?? s.yieldAtQueue,
            capacityBlocks: tuning.sizeIndexToKv ? capacityBlocks : s.capacityBlocks,
          }
        : s,
    );
  return { ...preset, scorers };
}

/** The seeded pickers draw from `seed`, so one flag varies every tie-break along with the heartbeat phases. */
function withSeed(config: RoutingConfig, seed: number): RoutingConfig {
  return config.picker.name === 'round-robin' ? config : { ...config, picker: { ...config.picker, seed } };
}

/** The predicted-ttft preset told what the gateway would know of these workers: trace blocks of 512 tokens, their prefill rate and KV size. */
export function predictedTtftFor(kvBlocksPerWorker: number, blockSize: number, prefillTokensPerSecond: number): RoutingConfig {
  const preset = routingPresets['predicted-ttft'];
  const capacityBlocks = Math.max(1, Math.floor((kvBlocksPerWorker * blockSize) / TRACE_BLOCK_TOKENS));
  return {
    ...preset,
    scorers: preset.scorers.map((s) => ({ ...s, capacityBlocks, blockTokens: TRACE_BLOCK_TOKENS, prefillTokensPerSecond })),
  };
}

export function policyLines(
  seed: number,
  kvBlocksPerWorker: number,
  blockSize: number,
  ablation: boolean,
  prefillTokensPerSecond: number,
): PolicyLine[] {
  const tuned = (name: string, tuning: PrefixLoadTuning): PolicyLine => ({
    name,
    config: withSeed(tunePrefixLoad(tuning, kvBlocksPerWorker, blockSize), seed),
    prefixAware: true,
  });
  return [
    { name: 'round-robin', config: withSeed(routingPresets['round-robin'], seed), prefixAware: false },
    { name: 'least-outstanding', config: withSeed(routingPresets['least-outstanding'], seed), prefixAware: false },
    { name: 'prefix-load', config: withSeed(routingPresets['prefix-load'], seed), prefixAware: true },
    ...(ablation
      ? [
          tuned('  + index sized to KV', { sizeIndexToKv: true }),
          tuned(`  + yield at ${TUNED_YIELD_AT_QUEUE}`, { yieldAtQueue: TUNED_YIELD_AT_QUEUE }),
          tuned('  - kv-cache scorer', { dropKvCacheScorer: true }),
        ]
      : []),
    tuned('prefix-load tuned', { sizeIndexToKv: true, yieldAtQueue: TUNED_YIELD_AT_QUEUE, dropKvCacheScorer: true }),
    {
      name: 'predicted-ttft',
      config: withSeed(predictedTtftFor(kvBlocksPerWorker, blockSize, prefillTokensPerSecond), seed),
      prefixAware: true,
    },
  ];
}
