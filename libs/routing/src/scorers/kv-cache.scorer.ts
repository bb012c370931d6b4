import { Scorer, scoresFrom } from '../plugin';
import { Endpoint, RoutingRequest } from '../endpoint';

const scoreInto = (_req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => {
  for (let i = 0; i < endpoints.length; i++) out[i] = 1 - endpoints[i].kvCacheUsage;
};

/** More free KV cache is better: less preemption, more room for this prompt's blocks. */
export const kvCacheScorer = {
  name: 'kv-cache',
  reads: ['kvCacheUsage'],
  score: (req, endpoints) => scoresFrom(req, endpoints, scoreInto),
  scoreInto,
} satisfies Scorer;
