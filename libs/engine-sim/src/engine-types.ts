import { FaultSpec } from './faults';
import { PrefixKey } from './kv-cache';
import { EngineProfile } from './profile';

/** Prefix-cache identity of a prompt: one key per `blockTokens` tokens, chained (equal key = equal prefix). */
export interface PromptPrefix {
  /** Tokens each key covers: the engine's block size for text hashes, 512 for Mooncake `hash_ids`. */
  readonly blockTokens: number;
  readonly hashes: readonly PrefixKey[];
}

export interface EngineRequest {
  readonly id: string;
  readonly promptTokens: number;
  /** Tokens to generate; 0 for a prefill-only request (embeddings). */
  readonly outputTokens: number;
  readonly prefix?: PromptPrefix;
  /** Scheduling priority under the 'priority' policy: an integer, lower is more urgent (vLLM's `priority`); default 0. */
  readonly priority?: number;
}

/** vLLM's --scheduling-policy: first come first served, or by (priority, arrival) with preemption. */
export type SchedulingPolicy = 'fcfs' | 'priority';

export type FailureReason = 'injected' | 'aborted' | 'crashed' | 'too-long';

export type EngineEvent =
  | { readonly type: 'ready'; readonly time: number }
  /** The engine died; every request in flight fails right after, and so does every later one. */
  | { readonly type: 'crashed'; readonly time: number; readonly message: string }
  /** Admitted into the running batch (again, after a preemption). */
  | { readonly type: 'started'; readonly id: string; readonly time: number; readonly cachedTokens: number }
  | { readonly type: 'first-token'; readonly id: string; readonly time: number; readonly arrivedAt: number }
  /** `count` more tokens after the first, the last of them at `time`. */
  | { readonly type: 'tokens'; readonly id: string; readonly time: number; readonly count: number }
  /** Evicted from the batch for lack of KV blocks; it waits at the head of the queue and recomputes. */
  | { readonly type: 'preempted'; readonly id: string; readonly time: number }
  | {
      readonly type: 'finished';
      readonly id: string;
      readonly time: number;
      readonly arrivedAt: number;
      readonly firstTokenAt?: number;
      readonly promptTokens: number;
      readonly outputTokens: number;
      readonly cachedTokens: number;
    }
  | {
      readonly type: 'failed';
      readonly id: string;
      readonly time: number;
      readonly reason: FailureReason;
      readonly message: string;
      readonly outputTokens: number;
    };

export type EngineState = 'starting' | 'ready' | 'crashed';

export interface EngineSnapshot {
  readonly state: EngineState;
  readonly running: number;
  readonly waiting: number;
  readonly maxNumSeqs: number;
  readonly kvBlocks: number;
  readonly kvBlocksUsed: number;
  /** Idle blocks still holding reusable prefixes (free for allocation). */
  readonly kvBlocksCached: number;
  /** Used blocks over all blocks, 0..1 (vLLM's kv_cache_usage_perc). */
  readonly kvUsage: number;
  /** Prompt tokens looked up in the prefix cache, and how many were found (vLLM counts tokens). */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly promptTokens: number;
  readonly generationTokens: number;
  readonly requestsSubmitted: number;
  readonly requestsFinished: number;
  readonly requestsFailed: number;
  readonly requestsCancelled: number;
  readonly preemptions: number;
}

export interface EngineOptions {
  readonly profile: EngineProfile;
  /** When the engine process starts, in the caller's time (seconds). */
  readonly startAt?: number;
  /** Load time before serving; defaults to the profile's. */
  readonly startupSeconds?: number;
  readonly faults?: FaultSpec;
  readonly seed?: number;
  /**
   * 'step': every decode step is an event boundary (one token per sequence per event), as a
   * streaming server needs. 'request': identical decode steps between batch changes are merged into
   * one event, which is what makes weeks of virtual time cheap.
   */
  readonly granularity?: 'step' | 'request';
  /**
   * 'fcfs' (default): admit in arrival order. 'priority': the waiting queue is ordered by (priority, arrival),
   * and a more urgent waiting request preempts the least urgent, latest-arrived running one when there is no room.
   */
  readonly schedulingPolicy?: SchedulingPolicy;
}
