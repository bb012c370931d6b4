import { TraceRequest } from './trace';

export interface CacheCeiling {
  /** Prompt blocks over the whole trace. */
  readonly blocks: number;
  /** Of them, blocks the cache already held when their request arrived. */
  readonly hits: number;
  readonly hitRate: number;
}

/** One cache of unbounded size that sees every request: no router and no worker can beat its hit rate. */
export function infiniteCacheCeiling(trace: readonly TraceRequest[]): CacheCeiling {
  const seen = new Set<number>();
  let blocks = 0;
  let hits = 0;
  for (const r of trace) {
    for (const b of r.blocks) if (seen.has(b)) hits += 1;
    for (const b of r.blocks) seen.add(b);
    blocks += r.blocks.length;
  }
  return { blocks, hits, hitRate: hits / blocks };
}

/**
 * One least-recently-used cache of `capacityBlocks` that sees every request: what the pooled KV cache
 * of all workers would hit if routing could partition the working set perfectly (an LRU estimate, not a bound).
 */
export function pooledCacheCeiling(trace: readonly TraceRequest[], capacityBlocks: number): CacheCeiling {
  const held = new Map<number, true>();
  let blocks = 0;
  let hits = 0;
  for (const r of trace) {
    let n = 0;
    while (n < r.blocks.length && held.has(r.blocks[n])) n += 1;
    hits += n;
    blocks += r.blocks.length;
    // Tail first, so a prefix's head stays newest and is evicted last, as the engine releases it.
    for (let i = r.blocks.length - 1; i >= 0; i -= 1) {
      held.delete(r.blocks[i]);
      held.set(r.blocks[i], true);
    }
    for (const oldest of held.keys()) {
      if (held.size <= capacityBlocks) break;
      held.delete(oldest);
    }
  }
  return { blocks, hits, hitRate: hits / blocks };
}
