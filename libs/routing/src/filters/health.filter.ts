import { Endpoint } from '../endpoint';
import { Filter, keepIf } from '../plugin';
import { countStates } from './wording';

/** Starting and unhealthy workers take no requests. */
const serves = (e: Endpoint) => e.state !== 'starting' && e.state !== 'unhealthy';

/**
 * Keeps workers that can take requests. Draining is left to the `draining` filter so each
 * reason stays precise. A worker whose connection just failed is kept only if no other remains:
 * a stale failure mark is a better bet than refusing the request.
 */
export const healthFilter = {
  name: 'health',
  reads: ['state', 'failedUntil'],
  filter: (req, endpoints) => {
    const serving = keepIf(endpoints, serves);
    const now = req.arrivedAt;
    const reachable = keepIf(serving, (e) => e.failedUntil === undefined || !(e.failedUntil > now));
    return reachable.length > 0 ? reachable : serving;
  },
  emptyReason: (req, endpoints) => `no ready worker for "${req.model}" (${countStates(endpoints)})`,
} satisfies Filter;
