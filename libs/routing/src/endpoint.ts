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

/** Requests that cannot start at once: the heartbeat's queue, or our own excess over capacity if larger. */
export function queuedRequests(e: Pick<Endpoint, 'waiting' | 'outstanding' | 'capacity'>): number {
  return Math.max(0, e.waiting, e.outstanding - e.capacity);
}
