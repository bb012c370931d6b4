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
  /** True when `filter` would return any input unchanged for this request (e.g. a batch filter on interactive work): the pipeline skips it. */
  passesAll?(req: RoutingRequest): boolean;
}

/** Scores by endpoint id, 0 (worst) to 1 (best); the pipeline clamps and weights them. */
export type Scores = ReadonlyMap<string, number>;

export interface Scorer extends RoutingPlugin {
  score(req: RoutingRequest, endpoints: readonly Endpoint[]): Scores;
  /**
   * The same scores by position: `out[i]` for `endpoints[i]`, no map. The pipeline uses it when
   * present (a pick over a thousand workers then allocates nothing per worker); `score` must agree.
   */
  scoreInto?(req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array): void;
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
  /**
   * The same choice by position: the index into `endpoints` of what `pick` would return for
   * `totals[i]` as `endpoints[i]`'s score, or -1 for none, drawing the same random numbers.
   */
  pickIndex?(req: RoutingRequest, endpoints: readonly Endpoint[], totals: Float64Array): number;
}

/** Builds a score map from a per-endpoint function; keeps each scorer to its one formula. */
export function scoreEach(endpoints: readonly Endpoint[], fn: (e: Endpoint) => number): Scores {
  return new Map(endpoints.map((e) => [e.id, fn(e)]));
}

/** A scorer's map from its positional form, so the two cannot disagree. */
export function scoresFrom(
  req: RoutingRequest,
  endpoints: readonly Endpoint[],
  scoreInto: (req: RoutingRequest, endpoints: readonly Endpoint[], out: Float64Array) => void,
): Scores {
  const out = new Float64Array(endpoints.length);
  scoreInto(req, endpoints, out);
  const scores = new Map<string, number>();
  for (let i = 0; i < endpoints.length; i++) scores.set(endpoints[i].id, out[i]);
  return scores;
}

/**
 * `endpoints` less those `keep` rejects, as a filter returns it: the same array when it rejects
 * none (the usual case), so a filter pass allocates nothing then.
 */
export function keepIf<T>(endpoints: readonly T[], keep: (e: T) => boolean): readonly T[] {
  let i = 0;
  while (i < endpoints.length && keep(endpoints[i])) i++;
  if (i === endpoints.length) return endpoints;
  const kept = endpoints.slice(0, i);
  for (i++; i < endpoints.length; i++) if (keep(endpoints[i])) kept.push(endpoints[i]);
  return kept;
}
