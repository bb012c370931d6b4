import type { Body, GenerationBase, PromptInput } from '@maas/openai-wire';
import {
  asObject,
  invalidParam,
  maxTokensOf,
  messageText,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalString,
  singlePrompt,
  streamOptions,
} from '@maas/openai-wire';

export { type EmbeddingRequest, MAX_EMBEDDING_INPUTS, parseEmbeddingRequest } from '@maas/openai-wire';

/** Sampling as llama.cpp applies it; temperature 0 is greedy decoding. */
export interface SamplingParams {
  readonly temperature: number;
  /** 1 disables nucleus sampling. */
  readonly topP: number;
  /** 0 disables top-k (OpenAI has none; vLLM's extension). */
  readonly topK: number;
  /** 0 disables min-p (vLLM's extension). */
  readonly minP: number;
  readonly seed?: number;
}

/** `maxTokens` undefined: up to the end of the context. */
export interface GenerationRequest extends GenerationBase {
  readonly sampling: SamplingParams;
  readonly stop: readonly string[];
}

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatTurn {
  readonly role: ChatRole;
  readonly text: string;
}

export interface ChatRequest extends GenerationRequest {
  readonly messages: readonly ChatTurn[];
}

export interface CompletionRequest extends GenerationRequest, PromptInput {}

/** vLLM's `POST /tokenize`: a prompt, or chat messages rendered with the model's template. */
export type TokenizeRequest =
  | { readonly model?: string; readonly prompt: string; readonly addSpecialTokens: boolean }
  | { readonly model?: string; readonly messages: readonly ChatTurn[] };

/** OpenAI's limits, kept so clients see the same errors here as from the hosted API. */
export const MAX_STOP_SEQUENCES = 4;

function parseStop(body: Body): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw invalidParam('stop', '`stop` must be a non-empty string or an array of non-empty strings');
  }
  if (list.length > MAX_STOP_SEQUENCES)
    throw invalidParam('stop', `\`stop\` takes at most ${MAX_STOP_SEQUENCES} sequences, got ${list.length}`);
  return [...new Set(list as string[])];
}

/** Fields OpenAI clients send that would change the answer's meaning if silently ignored. */
function refuseUnsupported(body: Body): void {
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n !== 1)
    throw invalidParam('n', '`n` > 1 is not supported by this runtime; send one request per choice', 'unsupported_value');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) {
    throw invalidParam('logprobs', '`logprobs` is not supported by this runtime', 'unsupported_value');
  }
  if (Array.isArray(body.tools) && body.tools.length > 0)
    throw invalidParam('tools', '`tools` (function calling) is not supported by this runtime', 'unsupported_value');
  const format = body.response_format;
  if (format !== undefined && format !== null) {
    const type = typeof format === 'object' ? (format as Body).type : undefined;
    if (type !== 'text')
      throw invalidParam(
        'response_format',
        '`response_format` other than {"type":"text"} is not supported by this runtime',
        'unsupported_value',
      );
  }
}

function generationRequest(body: Body): GenerationRequest {
  refuseUnsupported(body);
  const { stream, includeUsage } = streamOptions(body);
  const maxTokens = maxTokensOf(body);
  const seed = optionalInteger(body, 'seed', -(2 ** 31), 2 ** 32 - 1);
  const sampling: SamplingParams = {
    temperature: optionalNumber(body, 'temperature', 0, 2) ?? 1,
    topP: optionalNumber(body, 'top_p', 0, 1, true) ?? 1,
    topK: optionalInteger(body, 'top_k', -1, 1_000_000) ?? 0,
    minP: optionalNumber(body, 'min_p', 0, 1) ?? 0,
    // llama.cpp takes an unsigned seed; negative seeds map onto it rather than failing.
    ...(seed !== undefined ? { seed: seed >>> 0 } : {}),
  };
  return {
    model: optionalString(body, 'model'),
    stream,
    includeUsage,
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    sampling: sampling.topK < 0 ? { ...sampling, topK: 0 } : sampling,
    stop: parseStop(body),
    ignoreEos: optionalBoolean(body, 'ignore_eos') ?? false,
  };
}

const ROLES: Record<string, ChatRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

function parseMessages(value: unknown): ChatTurn[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidParam('messages', '`messages` must be a non-empty array');
  return value.map((m, i): ChatTurn => {
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      throw invalidParam(`messages[${i}]`, `\`messages[${i}]\` must be an object`, 'invalid_type');
    const role = (m as Body).role;
    if (typeof role !== 'string' || !(role in ROLES)) {
      const why =
        role === 'tool' || role === 'function'
          ? 'tool results are not supported by this runtime'
          : 'expected system, developer, user or assistant';
      throw invalidParam(`messages[${i}].role`, `\`messages[${i}].role\` is ${JSON.stringify(role)}: ${why}`);
    }
    return { role: ROLES[role], text: messageText((m as Body).content, i, 'refused') };
  });
}

export function parseChatRequest(raw: unknown): ChatRequest {
  const body = asObject(raw);
  return { ...generationRequest(body), messages: parseMessages(body.messages) };
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = asObject(raw);
  const prompt = singlePrompt(body);
  if (body.echo === true) throw invalidParam('echo', '`echo` is not supported by this runtime', 'unsupported_value');
  if (typeof body.suffix === 'string' && body.suffix.length > 0)
    throw invalidParam('suffix', '`suffix` is not supported by this runtime', 'unsupported_value');
  return { ...generationRequest(body), prompt };
}

export function parseTokenizeRequest(raw: unknown): TokenizeRequest {
  const body = asObject(raw);
  const model = optionalString(body, 'model');
  if (body.messages !== undefined) return { model, messages: parseMessages(body.messages) };
  if (typeof body.prompt !== 'string') throw invalidParam('prompt', '`prompt` (a string) or `messages` is required');
  return { model, prompt: body.prompt, addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? true };
}
