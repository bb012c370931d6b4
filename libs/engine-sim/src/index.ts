/**
 * @maas/engine-sim — a vLLM-like inference engine simulator.
 *
 * ## The core: `SimulatedEngine` (pure, any clock)
 * Time is a number of seconds the caller passes in; the engine never reads a clock, so the same
 * object runs on the wall clock (see `RealtimeEngine`, `startSimServer`) or inside a discrete-event
 * loop over weeks of virtual time, many engines side by side.
 *
 *     const engine = new SimulatedEngine({ profile: findProfile('a100-qwen2.5-3b'), startAt: t0 });
 *     engine.submit({ id: 'r1', promptTokens: 1200, outputTokens: 200, prefix }, now);
 *     engine.nextEventTime();      // when advance() next has something to say (undefined: idle)
 *     engine.advance(t);           // run every step ending at or before t → EngineEvent[]
 *     engine.cancel('r1', now);    // client went away: frees its slot and blocks
 *     engine.crash(now);           // the node died: everything in flight fails
 *     engine.snapshot(now?);       // running, waiting, KV usage, prefix hits/queries, totals
 *     engine.cachedPrefixTokens({ promptTokens, prefix }); // affinity probe for routers
 *
 * Driving contract:
 * - Call `submit`/`cancel`/`crash` with non-decreasing times. Submit everything that arrives at t
 *   before calling `advance(t)`: a step that starts at t takes all of them.
 * - Events caused by `submit`/`cancel`/`crash` (an injected rejection, steps finished on the way)
 *   are delivered by the next `advance`; `nextEventTime()` then returns a time <= now.
 * - Loop: `t = min over engines of nextEventTime()` and your own events; `advance(t)`; react.
 *   `simulateClosedLoop` in workloads.ts is a complete 30-line driver.
 * - Events: 'ready' (start-up delay over), 'crashed', 'started' (admitted to the batch, with
 *   cached prompt tokens), 'first-token', 'tokens' (count more, the last at `time`), 'preempted', 'finished'
 *   (with prompt/output/cached tokens, arrival and first-token times), 'failed' (reason
 *   'injected' | 'aborted' | 'crashed' | 'too-long').
 * - granularity 'request' (default) merges identical decode steps between batch changes into one
 *   'tokens' event per request: cost grows with requests, not tokens (the Azure trace's 19,366
 *   requests replay in ~0.2 s). 'step' reports every decode step (what a streaming server needs).
 *   Both give the same times, blocks and events (engine.spec.ts checks it under preemption,
 *   stalls, aborts and cancels).
 * - `snapshot(now)` between events is exact (it applies the passes done by `now`) and cheap.
 *
 * The model, per step (vLLM V1's scheduler): decoding sequences first (a new KV block when one
 * fills; if none is free, the most recently admitted sequence is preempted and later recomputed),
 * then prefill chunks of admitted prompts, then FIFO admission from the queue while slots
 * (`maxNumSeqs`), token budget (`maxBatchedTokens`) and KV blocks last. A step takes
 * decodeStepMs(batch) + decodeMsPer1kContextTokens × context/1000 + uncached prefill tokens /
 * prefillTokensPerSecond. Prompt blocks are cached under chained prefix hashes (from the text, or the
 * caller's ids, e.g. Mooncake's one per 512 tokens) and evicted least recently used once
 * unreferenced. The prefix cache is shared by all sequences even for llama.cpp profiles (llama.cpp
 * really reuses a prefix per slot): an approximation.
 *
 * ## Profiles
 * `PROFILES` / `findProfile(name)`: a100-gpt-oss-20b, a100-qwen2.5-3b, cpu16-gpt-oss-20b,
 * cpu16-qwen2.5-3b, cpu64-gpt-oss-20b, cpu64-qwen2.5-3b, fitted to the mdx MaaS paper's tables
 * (fitting notes in profiles.ts; `simulateClosedLoop` + `WORKLOADS` re-run the paper's experiment).
 *
 * ## The HTTP server: `startSimServer(options)`
 * OpenAI-compatible (`/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`),
 * `/health` (503 until loaded or after a crash) and vLLM-named Prometheus `/metrics`. Tokens are
 * counted as ceil(UTF-8 bytes / 4) of the prompt (chat: rendered with the ChatML template), or one
 * per token id; answers are deterministic filler text of exactly the planned token count; without
 * `ignore_eos` the answer length is drawn from the prompt's hash within the profile's
 * `naturalOutputTokens`. `timeScale` runs the simulated clock faster than the wall clock; latencies
 * in `/metrics` are simulated seconds.
 */
export { SimulatedEngine } from './engine';
export type {
  EngineEvent,
  EngineOptions,
  EngineRequest,
  EngineSnapshot,
  EngineState,
  FailureReason,
  PromptPrefix,
  SchedulingPolicy,
} from './engine-types';
export type { FaultSpec } from './faults';
export { validateFaults } from './faults';
export type { PrefixKey } from './kv-cache';
export { KvCache } from './kv-cache';
export { decodeStepSeconds, validateProfile } from './profile';
export type { EngineProfile, Measurement, WorkloadName } from './profile';
export { PROFILES, findProfile } from './profiles';
export { WORKLOADS, simulateClosedLoop } from './workloads';
export type { ClosedLoopResult, Workload } from './workloads';
export { EngineMetrics, Histogram, renderMetrics } from './metrics';
export { embedText, embeddingToBase64 } from './embeddings';
export { countTokens, countChatTokens, renderChatPrompt, prefixBlockHashes, promptBytes, fillerText, BYTES_PER_TOKEN } from './tokens';
export type { ChatMessage } from './tokens';
export { RealtimeEngine } from './realtime';
export { startSimServer } from './server';
export type { SimServer, SimServerOptions } from './server';
export { ApiError } from './openai-requests';
