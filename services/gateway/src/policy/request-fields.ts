import type { WorkerRegistered } from '@maas/contracts';
import type { InferenceRoute } from './openai-request';

/**
 * Which top-level request fields reach a runtime: OpenAI's own, plus, per runtime kind, the
 * extension fields that only shape the request's own sampling or output. A field outside the list
 * is refused with a 400 naming it instead of reaching an engine that might act on it (scheduling,
 * tensors, templates, slots and adapters shared with other users' requests).
 *
 * The kind is what the worker registered as: `vllm` (also the platform's llama-engine, whose metrics
 * carry vLLM's names), `llama.cpp` (llama-server), `sim-engine` (the vLLM simulator),
 * `openai-compatible` (unknown: OpenAI fields only), and the media runtimes `tesseract`,
 * `pocketsphinx` and `whisper`.
 */
export type RuntimeKind = WorkerRegistered['runtime']['kind'];
export type Endpoint = InferenceRoute['endpoint'];

export const RUNTIME_KINDS: readonly RuntimeKind[] = [
  'vllm',
  'llama.cpp',
  'sim-engine',
  'openai-compatible',
  'tesseract',
  'pocketsphinx',
  'whisper',
];

/** OpenAI's chat completions API. Fields only OpenAI's platform acts on (`store`, `metadata`, …) are ignored by runtimes, so harmless. */
const OPENAI_CHAT = [
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'temperature',
  'top_p',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'seed',
  'user',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'functions',
  'function_call',
  'response_format',
  'reasoning_effort',
  'service_tier',
  'store',
  'metadata',
  'modalities',
  'verbosity',
  'safety_identifier',
  'prompt_cache_key',
] as const;

/** OpenAI's legacy completions API. */
const OPENAI_COMPLETION = [
  'model',
  'prompt',
  'stream',
  'stream_options',
  'max_tokens',
  'n',
  'best_of',
  'temperature',
  'top_p',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'echo',
  'suffix',
  'seed',
  'user',
] as const;

const OPENAI_EMBEDDING = ['model', 'input', 'encoding_format', 'dimensions', 'user'] as const;
/** The platform's `/v1/ocr` (tesseract runtime). */
const OCR = ['model', 'image', 'file', 'languages', 'layout'] as const;
/** OpenAI's transcriptions API, without `stream` (the gateway bills a transcription from its whole answer). */
const TRANSCRIPTION = ['model', 'file', 'language', 'prompt', 'response_format', 'temperature', 'timestamp_granularities'] as const;

/**
 * vLLM's sampling extensions: each changes only how this request's tokens are drawn or returned.
 * Left out on purpose: `priority` (the gateway's), `use_beam_search` (beams hold KV cache the usage
 * never bills), `prompt_logprobs` (vocabulary-sized rows per prompt token), `guided_decoding_backend`
 * (picks an engine backend per request), and the refused list in openai-request.ts.
 */
const VLLM_SAMPLING = [
  'top_k',
  'min_p',
  'repetition_penalty',
  'length_penalty',
  'min_tokens',
  'ignore_eos',
  'stop_token_ids',
  'include_stop_str_in_output',
  'skip_special_tokens',
  'spaces_between_special_tokens',
  'truncate_prompt_tokens',
  'allowed_token_ids',
  'bad_words',
] as const;
/** vLLM's structured output: constrains this request's tokens to a schema, regex, choice or grammar. */
const VLLM_STRUCTURED = [
  'guided_json',
  'guided_regex',
  'guided_choice',
  'guided_grammar',
  'guided_whitespace_pattern',
  'structured_outputs',
] as const;
/** vLLM's chat-template switches that stay within the model's own template (`chat_template` itself is refused). */
const VLLM_CHAT = ['echo', 'add_generation_prompt', 'continue_final_message', 'add_special_tokens', 'documents'] as const;
const VLLM_EMBEDDING = ['truncate_prompt_tokens', 'add_special_tokens'] as const;

/**
 * llama-server's sampling extensions. Left out on purpose: `id_slot` (pins a slot, evicting another
 * user's cached prompt), `lora` (switches adapters for the slot), `n_keep`/`n_discard` (context shifting).
 */
const LLAMA_SAMPLING = [
  'top_k',
  'min_p',
  'typical_p',
  'top_n_sigma',
  'repeat_penalty',
  'repeat_last_n',
  'dynatemp_range',
  'dynatemp_exponent',
  'mirostat',
  'mirostat_tau',
  'mirostat_eta',
  'xtc_probability',
  'xtc_threshold',
  'dry_multiplier',
  'dry_base',
  'dry_allowed_length',
  'dry_penalty_last_n',
  'dry_sequence_breakers',
  'samplers',
  'min_keep',
  'n_probs',
  'n_predict',
  'ignore_eos',
  'cache_prompt',
  't_max_predict_ms',
  'return_tokens',
  'timings_per_token',
  'post_sampling_probs',
  'grammar',
  'json_schema',
] as const;

type FieldTable = Readonly<Record<Endpoint, readonly string[]>>;

const OPENAI: FieldTable = {
  'chat.completions': OPENAI_CHAT,
  completions: OPENAI_COMPLETION,
  embeddings: OPENAI_EMBEDDING,
  ocr: OCR,
  'audio.transcriptions': TRANSCRIPTION,
};

const VLLM_EXTENSIONS: FieldTable = {
  'chat.completions': [...VLLM_SAMPLING, ...VLLM_STRUCTURED, ...VLLM_CHAT],
  // vLLM takes `response_format` on completions too.
  completions: [...VLLM_SAMPLING, ...VLLM_STRUCTURED, 'add_special_tokens', 'response_format'],
  embeddings: VLLM_EMBEDDING,
  ocr: [],
  'audio.transcriptions': [],
};

const NONE: FieldTable = { 'chat.completions': [], completions: [], embeddings: [], ocr: [], 'audio.transcriptions': [] };

/** Extension fields per runtime kind, on top of OpenAI's. */
export const EXTENSIONS: Readonly<Record<RuntimeKind, FieldTable>> = {
  vllm: VLLM_EXTENSIONS,
  // The simulator stands in for vLLM and is driven the same way (it reads min_tokens, ignore_eos and priority).
  'sim-engine': VLLM_EXTENSIONS,
  'llama.cpp': { ...NONE, 'chat.completions': LLAMA_SAMPLING, completions: LLAMA_SAMPLING },
  'openai-compatible': NONE,
  tesseract: NONE,
  pocketsphinx: NONE,
  whisper: NONE,
};

const allowedOf = (endpoint: Endpoint, kinds: readonly RuntimeKind[]): ReadonlySet<string> =>
  new Set([...OPENAI[endpoint], ...kinds.flatMap((k) => EXTENSIONS[k][endpoint])]);

const ALLOWED = new Map<string, ReadonlySet<string>>();
/** Fields `kind` takes on `endpoint`; `'any'`: fields some runtime kind takes (what the gateway lets in before routing). */
export function allowedFields(endpoint: Endpoint, kind: RuntimeKind | 'any'): ReadonlySet<string> {
  const key = `${endpoint} ${kind}`;
  let set = ALLOWED.get(key);
  if (!set) {
    set = allowedOf(endpoint, kind === 'any' ? RUNTIME_KINDS : [kind]);
    ALLOWED.set(key, set);
  }
  return set;
}

/** The first top-level field of `body` that `kind` does not take on `endpoint`, if any; `except`: fields the gateway set itself. */
export function unknownField(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  kind: RuntimeKind | 'any',
  except: readonly string[] = [],
): string | undefined {
  const allowed = allowedFields(endpoint, kind);
  for (const field of Object.keys(body)) if (!allowed.has(field) && !except.includes(field)) return field;
  return undefined;
}

/** A multipart field name as a JSON field: `timestamp_granularities[]` is the array `timestamp_granularities`. */
export const formFieldName = (name: string): string => name.replace(/\[\]$/, '');

/** Runtimes that read vLLM's `priority` (the simulator schedules by it as vLLM does). */
const PRIORITY_KINDS: readonly RuntimeKind[] = ['vllm', 'sim-engine'];

/**
 * The `priority` a runtime gets: the gateway's own, never the client's. With a batch priority
 * configured (every vLLM serving batch work runs `--scheduling-policy priority`), batch work goes at
 * that priority to runtimes that schedule by it; interactive work keeps vLLM's default 0 (the field
 * is left out). `null`: the field must not be sent (a runtime that does not read it).
 */
export function upstreamPriority(
  kind: RuntimeKind,
  requestClass: 'interactive' | 'batch',
  batchPriority: number | undefined,
): number | null {
  if (!PRIORITY_KINDS.includes(kind) || batchPriority === undefined || requestClass !== 'batch') return null;
  return batchPriority;
}
