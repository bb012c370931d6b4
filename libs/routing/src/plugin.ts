import { Endpoint, EndpointField, RoutingRequest } from './endpoint';

/** Every plugin names itself and the endpoint fields it reads; it does no I/O and keeps no clock. */
export interface RoutingPlugin {
  readonly name: string;
  readonly reads: readonly EndpointField[];
}

export interface Filter extends RoutingPlugin {
  filter(req: RoutingRequest, endpoints: readonly Endpoint[]): readonly Endpoint[];
  /** Why nothing is left when this filter removed every one of `endpoints`. */
  emptyReason?(req: RoutingRequest, endpoints: readonly Endpoint[]): string;
}

/** Scores by endpoint id, 0 (worst) to 1 (best); the pipeline clamps and weights them. */
export type Scores = ReadonlyMap<string, number>;

export interface Scorer extends RoutingPlugin {
  score(req: RoutingRequest, endpoints: readonly Endpoint[]): Scores;
  /** Told where a request went, so a scorer that learns (prefix affinity) can record it. */
  onPicked?(req: RoutingRequest, endpoint: Endpoint): void;
}

export interface ScoredEndpoint {
  readonly endpoint: Endpoint;
  /** Weighted sum of the clamped scores. */
  readonly score: number;
}

export interface Picker extends RoutingPlugin {
  pick(req: RoutingRequest, scored: readonly ScoredEndpoint[]): Endpoint | undefined;
}

/** Builds a score map from a per-endpoint function; keeps each scorer to its one formula. */
export function scoreEach(endpoints: readonly Endpoint[], fn: (e: Endpoint) => number): Scores {
  return new Map(endpoints.map((e) => [e.id, fn(e)]));
}
