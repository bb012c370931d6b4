import { Endpoint, EndpointState } from '../endpoint';
import { Filter } from '../plugin';
import { countStates } from './wording';

const NOT_SERVING: readonly EndpointState[] = ['starting', 'unhealthy'];

const recentlyFailed = (e: Endpoint, now: number) => e.failedUntil !== undefined && e.failedUntil > now;

/**
 * Keeps workers that can take requests. Draining is left to the `draining` filter so each
 * reason stays precise. A worker whose connection just failed is kept only if no other remains:
 * a stale failure mark is a better bet than refusing the request.
 */
export const healthFilter = {
  name: 'health',
  reads: ['state', 'failedUntil'],
  filter: (req, endpoints) => {
    const serving = endpoints.filter((e) => !NOT_SERVING.includes(e.state));
    const reachable = serving.filter((e) => !recentlyFailed(e, req.arrivedAt));
    return reachable.length > 0 ? reachable : serving;
  },
  emptyReason: (req, endpoints) => `no ready worker for "${req.model}" (${countStates(endpoints)})`,
} satisfies Filter;
