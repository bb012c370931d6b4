import { Endpoint, RoutingRequest } from '../endpoint';

/** An idle, ready GPU worker serving model "m"; override what the case is about. */
export function endpoint(id: string, overrides: Partial<Endpoint> = {}): Endpoint {
  return {
    id,
    url: `http://${id}:8000`,
    models: ['m'],
    capabilities: ['chat', 'completion'],
    state: 'ready',
    hardware: 'gpu',
    vmId: `vm-${id}`,
    capacity: 8,
    running: 0,
    waiting: 0,
    kvCacheUsage: 0,
    outstanding: 0,
    ...overrides,
  };
}

export function request(overrides: Partial<RoutingRequest> = {}): RoutingRequest {
  return { model: 'm', capability: 'chat', arrivedAt: 1_000, prefixBlocks: [], ...overrides };
}

export const ids = (endpoints: readonly Endpoint[]) => endpoints.map((e) => e.id);
