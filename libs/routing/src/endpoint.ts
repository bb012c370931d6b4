/** What a model worker can be asked to do; mirrors the gateway's `/v1` routes. */
export type Capability = 'chat' | 'completion' | 'embedding' | 'transcription' | 'ocr';

export type EndpointState = 'ready' | 'draining' | 'starting' | 'unhealthy';

export type HardwareClass = 'gpu' | 'cpu';

/**
 * A model worker as the gateway's replica of the registry knows it. Flat on purpose: a plugin
 * declares the fields it reads as `(keyof Endpoint)[]`, and the data layer gathers exactly those.
 */
export interface Endpoint {
  readonly id: string;
  readonly url: string;
  /** Model ids it serves. */
  readonly models: readonly string[];
  readonly capabilities: readonly Capability[];
  readonly state: EndpointState;
  readonly hardware: HardwareClass;
  readonly vmId: string;
  /** Requests it runs at once (its batch bound); more wait in its queue. */
  readonly capacity: number;
  /** From its last heartbeat: requests running. */
  readonly running: number;
  /** From its last heartbeat: requests waiting in its queue. */
  readonly waiting: number;
  /** From its last heartbeat: share of KV-cache blocks in use, 0..1. */
  readonly kvCacheUsage: number;
  /** Requests this gateway sent it that have not finished; fresher than any heartbeat. */
  readonly outstanding: number;
  /** Set when a connection to it failed: avoid it until this instant (ms, the request clock). */
  readonly failedUntil?: number;
  /** Of `outstanding`, the batch requests (absent: none). */
  readonly batchOutstanding?: number;
  /**
   * `outstanding` as it was when the worker took its last heartbeat (absent: unknown). With it the
   * policy reads the worker's load now rather than as last heard: the heartbeat's requests beyond
   * ours (another router's) count as still there, ours as they are now. A worker that worked off
   * its queue since its heartbeat then reads idle at once instead of up to a heartbeat later.
   */
  readonly outstandingAtHeartbeat?: number;
}

type LoadFields = Pick<Endpoint, 'running' | 'waiting' | 'outstanding' | 'capacity' | 'outstandingAtHeartbeat'>;

/**
 * Requests the worker holds now (running and waiting), when `outstandingAtHeartbeat` is known: the
 * heartbeat's requests that were not ours, plus ours now.
 */
function requestsNow(e: LoadFields, outstandingAtHeartbeat: number): number {
  return Math.max(0, e.running + e.waiting - outstandingAtHeartbeat) + e.outstanding;
}

/** How many it runs at once: its capacity, or what it ran when its heartbeat showed a queue (KV-bound). */
function batchBound(e: LoadFields): number {
  return e.waiting > 0 ? Math.min(e.capacity, e.running) : e.capacity;
}

/** Requests running on the worker: as heard, or now when `outstandingAtHeartbeat` is known. */
export function runningRequests(e: LoadFields): number {
  const at = e.outstandingAtHeartbeat;
  return at === undefined ? e.running : Math.min(requestsNow(e, at), batchBound(e));
}

export type EndpointField = keyof Endpoint;

/** A prompt block id: equal ids mean equal prompts up to the end of that block. */
export type PrefixBlock = number;

export interface RoutingRequest {
  readonly model: string;
  readonly capability: Capability;
  /** When it is routed, in ms on the clock `failedUntil` uses (wall clock live, virtual in replays). */
  readonly arrivedAt: number;
  /** Chained prompt block ids, first block first: from `promptBlocks()`, or a trace's `hash_ids`. */
  readonly prefixBlocks: readonly PrefixBlock[];
  /** Session or user key, for plugins that keep a conversation together. */
  readonly sessionKey?: string;
  /** Batch work goes only to the batch lane's spare slots; interactive requests keep clear of it. Absent: interactive. */
  readonly kind?: RequestKind;
}

export type RequestKind = 'interactive' | 'batch';

/**
 * Requests that cannot start at once: the heartbeat's queue, or our own excess over capacity if
 * larger; when `outstandingAtHeartbeat` is known, the queue now (what the worker holds now beyond
 * what it runs at once) instead of the heartbeat's.
 */
export function queuedRequests(
  e: Pick<Endpoint, 'waiting' | 'outstanding' | 'capacity'> & Partial<Pick<Endpoint, 'running' | 'outstandingAtHeartbeat'>>,
): number {
  const at = e.outstandingAtHeartbeat;
  if (at === undefined || e.running === undefined) return Math.max(0, e.waiting, e.outstanding - e.capacity);
  const load = e as LoadFields;
  return Math.max(0, requestsNow(load, at) - batchBound(load), e.outstanding - e.capacity);
}

/** Nothing of ours outstanding, nothing running or waiting (as last heard, or now when `outstandingAtHeartbeat` is known), and KV to take a prompt. */
export function isIdle(e: Endpoint): boolean {
  if (e.outstanding !== 0 || !(e.kvCacheUsage < 1)) return false;
  return e.outstandingAtHeartbeat === undefined ? e.running === 0 && e.waiting === 0 : requestsNow(e, e.outstandingAtHeartbeat) === 0;
}
