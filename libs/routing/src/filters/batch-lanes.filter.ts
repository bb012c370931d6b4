import { Endpoint, queuedRequests, RoutingRequest } from '../endpoint';
import { Filter, keepIf } from '../plugin';
import { BatchConcurrency, bestConcurrencyFor, spareBatchSlots } from './batch-capacity';

/** A model's worker as lane assignment sees it: registry state plus this gateway's requests there, by kind. */
export interface LaneWorker extends Pick<Endpoint, 'id' | 'state' | 'capacity' | 'running' | 'waiting' | 'outstanding'> {
  /** Batch requests this gateway has running there. */
  readonly batch: number;
  /** Interactive requests this gateway has running there. */
  readonly interactive: number;
}

export interface Lanes {
  /** Workers kept free of new batch work. */
  readonly interactive: ReadonlySet<string>;
  /** Workers batch work may be sent to. */
  readonly batch: ReadonlySet<string>;
  /** False when the model has too few ready workers to keep any apart: batch and interactive share them. */
  readonly separate: boolean;
}

/**
 * Splits a model's ready workers into an interactive lane and a batch lane. A long batch sequence
 * lengthens every step of the engine it runs on, and an interactive request's first token waits on
 * those steps, so sharing a worker's spare slots alone cannot keep interactive latency; keeping some
 * workers apart can. The interactive lane holds at least `minInteractive` workers, and as many as
 * the interactive requests in flight fill at each worker's capacity; the batch lane is the rest.
 * Workers with the least batch work go to the interactive lane (then the busiest with interactive
 * work, then by id, so gateways that count alike choose alike), so a lane, once formed, stays where
 * it is while batch work drains from the others. When no worker would be left for batch, there are
 * no lanes: batch work shares every worker's spare slots, at lower priority.
 * With `fromInFlight` false (adaptive batch control) the interactive lane is `minInteractive` workers
 * exactly, none at 0: the controller, which cuts a worker's batch work as soon as its interactive
 * latency is at risk, is then the only thing holding batch work back.
 */
export function assignLanes(workers: readonly LaneWorker[], minInteractive: number, fromInFlight = true): Lanes {
  const ready = workers.filter((w) => w.state === 'ready');
  const inFlight = ready.reduce((s, w) => s + w.interactive, 0);
  const slots = Math.max(1, Math.min(...ready.map((w) => w.capacity)));
  const wanted = fromInFlight ? Math.max(minInteractive, Math.ceil(inFlight / slots)) : minInteractive;
  if (ready.length <= wanted) {
    const all = new Set(ready.map((w) => w.id));
    return { interactive: all, batch: all, separate: false };
  }
  const ordered = [...ready].sort((a, b) => a.batch - b.batch || b.interactive - a.interactive || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    interactive: new Set(ordered.slice(0, wanted).map((w) => w.id)),
    batch: new Set(ordered.slice(wanted).map((w) => w.id)),
    separate: true,
  };
}

/**
 * Where an interactive request may go: workers without batch work from this gateway that have room
 * (nothing queued, below capacity), so its first token does not wait on long batch steps; when none
 * has room, every worker (the routing policy then weighs load as usual).
 */
export function interactiveCandidates<T extends LaneWorker>(workers: readonly T[]): readonly T[] {
  const clear = workers.filter((w) => w.batch === 0 && queuedRequests(w) === 0 && w.outstanding < w.capacity);
  return clear.length > 0 ? clear : workers;
}

/** How batch work shares a model's workers (GATEWAY_INTERACTIVE_LANE, GATEWAY_BATCH_RESERVE, GATEWAY_BATCH_CONCURRENCY). */
export interface BatchLaneSpec {
  /** Workers kept for interactive traffic while there are enough to keep any apart; default 0 (as interactive requests in flight need). */
  readonly minInteractive?: number;
  /** Share of each worker's slots and KV cache batch work leaves free. */
  readonly reserve: number;
  readonly concurrency: BatchConcurrency;
  /**
   * Batch requests allowed on a worker of the model now (the adaptive batch controller's limit, under
   * `concurrency` as its ceiling); undefined: only the caps above apply (static control). Given, it
   * changes three things: the interactive lane is `minInteractive` workers exactly (0: none, whatever
   * interactive requests are in flight), a batch-lane worker running interactive requests still takes
   * batch work (their latency is the controller's signal, not a veto), and `concurrency` is the
   * controller's ceiling only, no longer a cap on the worker's running requests (batch-pool workers,
   * outside the controller, keep that cap).
   */
  readonly batchLimit?: (model: string, workerId: string) => number | undefined;
  /** Workers started for a batch backlog (registered in the batch pool): always batch lane, never interactive. */
  readonly batchPool?: (workerId: string) => boolean;
}

/** An endpoint as lane assignment sees it: its requests from this gateway split by kind. */
export function laneWorker(e: Endpoint): LaneWorker {
  const batch = e.batchOutstanding ?? 0;
  return {
    id: e.id,
    state: e.state,
    capacity: e.capacity,
    running: e.running,
    waiting: e.waiting,
    outstanding: e.outstanding,
    batch,
    interactive: Math.max(0, e.outstanding - batch),
  };
}

/** The model's workers split into lanes; batch-pool workers are batch lane whatever the others do. */
export function lanesOf(endpoints: readonly Endpoint[], spec: BatchLaneSpec): Lanes {
  const inPool = spec.batchPool;
  const fromInFlight = spec.batchLimit === undefined;
  if (!inPool || !endpoints.some((e) => inPool(e.id)))
    return assignLanes(endpoints.map(laneWorker), spec.minInteractive ?? 0, fromInFlight);
  const lanes = assignLanes(endpoints.filter((e) => !inPool(e.id)).map(laneWorker), spec.minInteractive ?? 0, fromInFlight);
  const pool = endpoints.filter((e) => e.state === 'ready' && inPool(e.id)).map((e) => e.id);
  return { interactive: lanes.interactive, batch: new Set([...lanes.batch, ...pool]), separate: lanes.separate };
}

/**
 * Batch slots free per worker of the batch lane: the spare capacity `spareBatchSlots` leaves (within the
 * worker's batch limit, when the spec has one), and, under static control, none on a worker of a
 * separate batch lane while interactive requests overflowed onto it.
 */
export function batchSlots(
  model: string,
  endpoints: readonly Endpoint[],
  spec: BatchLaneSpec,
  lanes: Lanes = lanesOf(endpoints, spec),
): ReadonlyMap<string, number> {
  const best = bestConcurrencyFor(spec.concurrency, model);
  const adaptive = spec.batchLimit !== undefined;
  const out = new Map<string, number>();
  for (const e of endpoints) {
    if (!lanes.batch.has(e.id)) continue;
    if (!adaptive && lanes.separate && e.outstanding > (e.batchOutstanding ?? 0)) continue;
    // a batch-pool worker runs no interactive request: the controller's limit is for workers that do
    const pool = spec.batchPool?.(e.id) ?? false;
    const limit = pool ? undefined : spec.batchLimit?.(model, e.id);
    // under adaptive control the concurrency setting is the controller's ceiling, already in its limit
    const slots = spareBatchSlots(e, spec.reserve, adaptive && !pool ? Number.POSITIVE_INFINITY : best, limit);
    if (slots > 0) out.set(e.id, slots);
  }
  return out;
}

const LANE_READS = ['state', 'capacity', 'running', 'waiting', 'outstanding', 'batchOutstanding'] as const;

/**
 * A batch request goes to a batch-lane worker with a spare slot (the executor admitted it against
 * them); to the batch lane when none has one now; anywhere when there is no batch lane. Never empties.
 */
export function batchLaneFilter(spec: BatchLaneSpec): Filter {
  return {
    name: 'batch-lane',
    reads: [...LANE_READS, 'kvCacheUsage'],
    passesAll: (req: RoutingRequest) => req.kind !== 'batch',
    filter: (req: RoutingRequest, endpoints: readonly Endpoint[]) => {
      if (req.kind !== 'batch') return endpoints;
      const lanes = lanesOf(endpoints, spec);
      const slots = batchSlots(req.model, endpoints, spec, lanes);
      const spare = endpoints.filter((e) => (slots.get(e.id) ?? 0) > 0);
      if (spare.length > 0) return spare;
      const inLane = endpoints.filter((e) => lanes.batch.has(e.id));
      return inLane.length > 0 ? inLane : endpoints;
    },
  } satisfies Filter;
}

/**
 * An interactive request keeps clear of workers running this gateway's batch work while a ready one
 * without it has room (see `interactiveCandidates`); workers not ready are left to the other filters.
 */
export const interactiveLaneFilter = {
  name: 'interactive-lane',
  reads: [...LANE_READS],
  passesAll: (req) => req.kind === 'batch',
  filter: (req, endpoints) => {
    if (req.kind === 'batch' || !endpoints.some((e) => (e.batchOutstanding ?? 0) > 0)) return endpoints;
    const ready = endpoints.filter((e) => e.state === 'ready');
    const clear = new Set(interactiveCandidates(ready.map(laneWorker)).map((w) => w.id));
    return clear.size < ready.length ? endpoints.filter((e) => clear.has(e.id) || e.state !== 'ready') : endpoints;
  },
} satisfies Filter;

/**
 * An interactive request stays off workers started for a batch backlog (the batch pool) while any
 * other worker of the model is there; when only they are, it goes there rather than nowhere.
 */
export function batchPoolFilter(spec: BatchLaneSpec): Filter {
  return {
    name: 'batch-pool',
    reads: ['id'],
    passesAll: (req: RoutingRequest) => req.kind === 'batch' || !spec.batchPool,
    filter: (req: RoutingRequest, endpoints: readonly Endpoint[]) => {
      const inPool = spec.batchPool;
      if (req.kind === 'batch' || !inPool) return endpoints;
      const others = keepIf(endpoints, (e) => !inPool(e.id));
      return others.length > 0 ? others : endpoints;
    },
  } satisfies Filter;
}
