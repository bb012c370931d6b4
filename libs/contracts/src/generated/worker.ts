/* Generated from proto/worker/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

export type Capability = 'chat' | 'completion' | 'embedding' | 'transcription' | 'ocr';
export interface ServedModel {
  /**
   * Model id clients use, e.g. openai/gpt-oss-20b
   */
  id: string;
  /**
   * Name the runtime itself knows the model by, when it differs
   */
  upstreamId?: string;
  /**
   * @minItems 1
   */
  capabilities: Capability[];
  maxContextTokens?: number;
}
export interface WorkerLoad {
  /**
   * Requests in the runtime's running batch
   */
  running: number;
  /**
   * Requests queued in the runtime
   */
  waiting: number;
  kvCacheUsage?: number;
  prefixCacheHitRate?: number;
  /**
   * Requests the worker agent has accepted and not finished
   */
  inFlight?: number;
  /**
   * Mean time between two tokens of a sequence (one engine step) over the last heartbeat interval, in ms, when the runtime reports it
   */
  stepMs?: number;
}

/**
 * Ask router for the registry; an optional model narrows it.
 */
export interface RegistryListRequest {
  model?: string;
}

/**
 * router's reply to maas.v1.router.list-workers: every registered worker with its latest state and load.
 */
export interface RegistrySnapshot {
  takenAt: string;
  workers: {
    registration: WorkerRegistered;
    state: 'ready' | 'draining' | 'starting' | 'unhealthy';
    load?: WorkerLoad;
    lastSeenAt: string;
  }[];
}

/**
 * A worker left the registry: it said goodbye, or the router expired it after missed heartbeats.
 */
export interface WorkerDeregistered {
  workerId: string;
  reason: 'shutdown' | 'expired' | 'replaced';
  sentAt: string;
}

/**
 * A worker stops taking new work and finishes what it has.
 */
export interface WorkerDraining {
  workerId: string;
  inFlight: number;
  reason?: string;
  sentAt: string;
}

/**
 * Periodic liveness and load report of a worker (every 1-2 s).
 */
export interface WorkerHeartbeat {
  workerId: string;
  state?: 'ready' | 'draining' | 'starting' | 'unhealthy';
  load: WorkerLoad;
  sentAt: string;
}

/**
 * A model worker announces itself; sent at start and again whenever the router asks.
 */
export interface WorkerRegistered {
  workerId: string;
  /**
   * Base URL of the OpenAI-compatible runtime, without /v1
   */
  url: string;
  /**
   * @minItems 1
   */
  models: ServedModel[];
  hardware: 'gpu' | 'cpu';
  /**
   * Concurrent requests the runtime serves well
   */
  capacity: number;
  vmId: string;
  host?: string;
  runtime: {
    kind: 'vllm' | 'llama.cpp' | 'sim-engine' | 'openai-compatible' | 'tesseract' | 'pocketsphinx' | 'whisper';
    version?: string;
  };
  load?: WorkerLoad;
  /**
   * State at registration; absent means ready. A worker whose runtime is still loading registers as starting, so gateways hold requests for it
   */
  state?: 'ready' | 'draining' | 'starting' | 'unhealthy';
  /**
   * The model's pool it was started for; absent means interactive. Gateways send no interactive request to a batch-pool worker while another serves the model
   */
  pool?: 'interactive' | 'batch';
  sentAt: string;
}
