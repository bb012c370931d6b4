import { Endpoint, queuedRequests, RoutingRequest } from '../endpoint';
import { Scorer, scoresFrom } from '../plugin';
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
 * The prefix index is asked once per request (`matchLengths`), not once per endpoint.
 */
export function prefixAffinityScorer({ index, yieldAtQueue }: PrefixAffinityParams) {
  const scoreInto = (req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => {
    const blocks = req.prefixBlocks;
    const hits = blocks.length === 0 ? undefined : index.matchLengths(blocks);
    if (hits === undefined || hits.size === 0) {
      out.fill(0, 0, endpoints.length);
      return;
    }
    let shortestQueue = Infinity;
    for (let i = 0; i < endpoints.length; i++) shortestQueue = Math.min(shortestQueue, queuedRequests(endpoints[i]));
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i];
      const hit = (hits.get(e.id) ?? 0) / blocks.length;
      out[i] = hit * Math.max(0, 1 - (queuedRequests(e) - shortestQueue) / yieldAtQueue);
    }
  };
  return {
    name: 'prefix-affinity',
    reads: ['id', 'waiting', 'outstanding', 'capacity'],
    score: (req, endpoints) => scoresFrom(req, endpoints, scoreInto),
    scoreInto,
    onPicked: (req, endpoint) => index.record(endpoint.id, req.prefixBlocks),
  } satisfies Scorer;
}
