import { Scorer, scoreEach } from '../plugin';

/** More free KV cache is better: less preemption, more room for this prompt's blocks. */
export const kvCacheScorer = {
  name: 'kv-cache',
  reads: ['kvCacheUsage'],
  score: (_req, endpoints) => scoreEach(endpoints, (e) => 1 - e.kvCacheUsage),
} satisfies Scorer;
