import { Endpoint, RoutingRequest } from '../endpoint';
import { Scorer, scoresFrom } from '../plugin';

const scoreInto = (_req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => {
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i];
    const capacity = Math.max(1, e.capacity);
    out[i] = capacity / (capacity + Math.max(0, e.outstanding));
  }
};

/**
 * Fewer of our own unfinished requests relative to capacity is better: 1 when idle, 0.5 at
 * capacity, still ordered beyond it so a saturated pool keeps spreading.
 */
export const leastOutstandingScorer = {
  name: 'least-outstanding',
  reads: ['outstanding', 'capacity'],
  score: (req, endpoints) => scoresFrom(req, endpoints, scoreInto),
  scoreInto,
} satisfies Scorer;
