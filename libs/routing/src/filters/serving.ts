import { Endpoint, RoutingRequest } from '../endpoint';
import { Filter } from '../plugin';
import { capabilityFilter } from './capability.filter';
import { drainingFilter } from './draining.filter';
import { healthFilter } from './health.filter';
import { modelMatchFilter } from './model-match.filter';

/** A run of the built-in serving filters checked in one pass over the endpoints. */
export interface ServingRun {
  /** How many consecutive filters the run stands for. */
  readonly length: number;
  /** True when every filter of the run keeps every endpoint, so each would return its input unchanged. */
  keepsAll(req: RoutingRequest, endpoints: readonly Endpoint[]): boolean;
}

const has = <T>(list: readonly T[], x: T) => {
  for (let i = 0; i < list.length; i++) if (list[i] === x) return true;
  return false;
};

/**
 * The model-match, capability, health and draining filters starting at `filters[from]` (two or
 * more, in any order), fused: one pass reads each endpoint once for all of them instead of once
 * per filter. When some endpoint fails one, the pipeline runs the filters one by one as before.
 */
export function servingRun(filters: readonly Filter[], from: number): ServingRun | undefined {
  let model = false;
  let capability = false;
  let health = false;
  let draining = false;
  let length = 0;
  for (let i = from; i < filters.length; i++) {
    const f = filters[i];
    if (f === modelMatchFilter && !model) model = true;
    else if (f === capabilityFilter && !capability) capability = true;
    else if (f === healthFilter && !health) health = true;
    else if (f === drainingFilter && !draining) draining = true;
    else break;
    length++;
  }
  if (length < 2) return undefined;
  return {
    length,
    keepsAll: (req, endpoints) => {
      const m = req.model;
      const c = req.capability;
      const now = req.arrivedAt;
      for (let i = 0; i < endpoints.length; i++) {
        const e = endpoints[i];
        if (model && !has(e.models, m)) return false;
        if (capability && !has(e.capabilities, c)) return false;
        if (health && (e.state === 'starting' || e.state === 'unhealthy' || (e.failedUntil !== undefined && e.failedUntil > now)))
          return false;
        if (draining && e.state === 'draining') return false;
      }
      return true;
    },
  };
}
