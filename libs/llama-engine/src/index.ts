/**
 * @maas/llama-engine — the llama.cpp runtime (`maas llama-engine`): any GGUF model served on the
 * CPU through node-llama-cpp's prebuilt llama.cpp, behind our OpenAI-compatible API, so a model
 * worker attaches to it like a vLLM server.
 *
 * - `POST /v1/chat/completions` (messages rendered with the model's own chat template) and
 *   `POST /v1/completions`: streamed (SSE, one event per token, `[DONE]`, `stream_options.include_usage`)
 *   or not; `max_tokens`/`max_completion_tokens`, `temperature`, `top_p`, `seed`, `stop`, and vLLM's
 *   `top_k`, `min_p`, `ignore_eos`. Usage counts the tokens llama.cpp evaluated and sampled (the
 *   token that ended the answer included); `prompt_tokens_details.cached_tokens` the prompt tokens
 *   reused from the slot's cache.
 * - `POST /v1/embeddings` (with `--embedding`): a string, token ids or a batch; unit-length vectors
 *   as floats or base64 (little-endian float32). The vector is llama.cpp's: pooled for models that
 *   declare pooling (embedding models), the last token's hidden state for generative ones.
 * - `POST /tokenize`, `POST /detokenize` (vLLM's shapes), `GET /v1/models` (with `capabilities`
 *   and `max_model_len`), `GET /health`, `GET /metrics` (vLLM's running/waiting, KV usage, token
 *   and prefix-cache counters, time to first token; request counts and latency by path).
 *
 * Concurrency: one llama.cpp context with N sequences (slots); a request runs on a free slot whose
 * cache shares the longest prefix with its prompt, the rest wait in a queue. A client that goes
 * away is dropped from the queue or stopped at its next token.
 */
export { encodeGguf, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufValueType } from './gguf-writer';
export type { GgufTensor, GgufValue } from './gguf-writer';
export { CHATML_TEMPLATE, DEFAULT_TINY_LLAMA, tinyLlamaGguf, tinyVocabulary, writeTinyLlamaGguf } from './testing/tiny-llama';
export type { TinyLlamaSpec } from './testing/tiny-llama';
export { fromBase64, normalize, toBase64 } from './embedding-vector';
export { EmbeddingService } from './embedding.service';
export type { EmbeddingOutcome } from './embedding.service';
export { GenerationService } from './generation.service';
export type { GenerationJob, GenerationObserver, GenerationOutcome } from './generation.service';
export { loadLlamaRuntime, loadNodeLlamaCpp } from './llama-cpp.repository';
export type { LlamaLoadOptions } from './llama-cpp.repository';
export type { ChatPrompt, EmbeddingRuntime, GenerationSlot, LlamaRuntime, ModelFacts } from './llama-runtime';
export { LlamaMetrics, TTFT_BUCKETS } from './llama-metrics';
export { DEFAULT_MAX_BODY_BYTES, startLlamaEngine, startLlamaServer } from './llama-server';
export type { LlamaEngineOptions, LlamaServer, LlamaServerOptions } from './llama-server';
export {
  MAX_EMBEDDING_INPUTS,
  MAX_STOP_SEQUENCES,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  parseTokenizeRequest,
} from './openai-requests';
export type {
  ChatRequest,
  ChatRole,
  ChatTurn,
  CompletionRequest,
  EmbeddingRequest,
  GenerationRequest,
  SamplingParams,
  TokenizeRequest,
} from './openai-requests';
export { chatShape, completionShape, usage } from './openai-responses';
export type { FinishReason, GenerationShape, Usage } from './openai-responses';
export { commonPrefixLength, pickSlot } from './slot-choice';
export { StopMatcher } from './stop-matcher';
export { TextStream } from './text-stream';
