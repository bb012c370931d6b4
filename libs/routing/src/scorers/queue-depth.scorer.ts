import { Endpoint, queuedRequests, RoutingRequest } from '../endpoint';
import { Scorer, scoresFrom } from '../plugin';

export const DEFAULT_QUEUE_THRESHOLD = 8;

/** A shorter queue is better: 1 when empty, 0.5 at `threshold` waiting requests, never quite 0. */
export function queueDepthScorer(threshold = DEFAULT_QUEUE_THRESHOLD) {
  const scoreInto = (_req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => {
    for (let i = 0; i < endpoints.length; i++) out[i] = threshold / (threshold + queuedRequests(endpoints[i]));
  };
  return {
    name: 'queue-depth',
    // Our own excess over capacity counts too: between heartbeats it is the only sign of a queue.
    reads: ['waiting', 'outstanding', 'capacity'],
    score: (req, endpoints) => scoresFrom(req, endpoints, scoreInto),
    scoreInto,
  } satisfies Scorer;
}
