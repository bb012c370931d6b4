import { queuedRequests } from '../endpoint';
import { Scorer, scoreEach } from '../plugin';
import { PrefixIndex } from '../prefix/prefix-index';

export interface PrefixAffinityParams {
  readonly index: PrefixIndex;
  /** Extra waiting requests, over the shortest queue among candidates, at which a cached prefix stops counting. */
  readonly yieldAtQueue: number;
}

/**
 * Share of the request's leading blocks the endpoint holds, as llm-d's prefix-cache scorer,
 * faded by how much longer its queue is than the shortest one: a hot prefix spills to idle
 * workers, yet under overload, when every queue is long, hits still count (they save the most then).
 */
export function prefixAffinityScorer({ index, yieldAtQueue }: PrefixAffinityParams) {
  return {
    name: 'prefix-affinity',
    reads: ['id', 'waiting', 'outstanding', 'capacity'],
    score: (req, endpoints) => {
      const blocks = req.prefixBlocks;
      const shortestQueue = Math.min(...endpoints.map(queuedRequests));
      return scoreEach(endpoints, (e) => {
        if (blocks.length === 0) return 0;
        const hit = index.matchLength(e.id, blocks) / blocks.length;
        return hit * Math.max(0, 1 - (queuedRequests(e) - shortestQueue) / yieldAtQueue);
      });
    },
    onPicked: (req, endpoint) => index.record(endpoint.id, req.prefixBlocks),
  } satisfies Scorer;
}
