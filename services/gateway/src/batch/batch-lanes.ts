import { type Endpoint, queuedRequests } from '@maas/routing';

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
 */
export function assignLanes(workers: readonly LaneWorker[], minInteractive: number): Lanes {
  const ready = workers.filter((w) => w.state === 'ready');
  const inFlight = ready.reduce((s, w) => s + w.interactive, 0);
  const slots = Math.max(1, Math.min(...ready.map((w) => w.capacity)));
  const wanted = Math.max(minInteractive, Math.ceil(inFlight / slots));
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
