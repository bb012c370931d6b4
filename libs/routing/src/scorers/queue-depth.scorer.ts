import { queuedRequests } from '../endpoint';
import { Scorer, scoreEach } from '../plugin';

export const DEFAULT_QUEUE_THRESHOLD = 8;

/** A shorter queue is better: 1 when empty, 0.5 at `threshold` waiting requests, never quite 0. */
export function queueDepthScorer(threshold = DEFAULT_QUEUE_THRESHOLD) {
  return {
    name: 'queue-depth',
    // Our own excess over capacity counts too: between heartbeats it is the only sign of a queue.
    reads: ['waiting', 'outstanding', 'capacity'],
    score: (_req, endpoints) => scoreEach(endpoints, (e) => threshold / (threshold + queuedRequests(e))),
  } satisfies Scorer;
}
