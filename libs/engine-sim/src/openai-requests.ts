import type { Body, GenerationBase, PromptInput } from '@maas/openai-wire';
import {
  asObject,
  invalidParam,
  maxTokensOf,
  messageText,
  optionalBoolean,
  optionalInteger,
  optionalString,
  singlePrompt,
  streamOptions,
} from '@maas/openai-wire';
import { ChatMessage } from './tokens';

export { ApiError, type EmbeddingRequest, parseEmbeddingRequest, runtimeKeyRefusal } from '@maas/openai-wire';

export interface GenerationParams extends GenerationBase {
  readonly minTokens: number;
  /** vLLM's `priority` (lower is more urgent); only honoured with the priority scheduling policy. */
  readonly priority: number;
}

export interface ChatRequest extends GenerationParams {
  readonly messages: readonly ChatMessage[];
}

export interface CompletionRequest extends GenerationParams, PromptInput {}

function generationParams(body: Body): GenerationParams {
  const n = optionalInteger(body, 'n', 1);
  if (n !== undefined && n !== 1) throw invalidParam('n', '`n` > 1 is not supported by the simulator', 'unsupported_value');
  const { stream, includeUsage } = streamOptions(body);
  const maxTokens = maxTokensOf(body);
  const minTokens = optionalInteger(body, 'min_tokens', 0) ?? 0;
  if (maxTokens !== undefined && minTokens > maxTokens)
    throw invalidParam('min_tokens', `\`min_tokens\` (${minTokens}) must not exceed the token limit (${maxTokens})`);
  const priority = optionalInteger(body, 'priority', Number.MIN_SAFE_INTEGER) ?? 0;
  return {
    model: optionalString(body, 'model'),
    stream,
    includeUsage,
    maxTokens,
    minTokens,
    ignoreEos: optionalBoolean(body, 'ignore_eos') ?? false,
    priority,
  };
}

export function parseChatRequest(raw: unknown): ChatRequest {
  const body = asObject(raw);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw invalidParam('messages', '`messages` must be a non-empty array');
  const parsed = messages.map((m, i): ChatMessage => {
    if (typeof m !== 'object' || m === null) throw invalidParam(`messages[${i}]`, `\`messages[${i}]\` must be an object`, 'invalid_type');
    const role = (m as Body).role;
    if (typeof role !== 'string' || role === '')
      throw invalidParam(`messages[${i}].role`, `\`messages[${i}].role\` must be a non-empty string`);
    // Images and audio parts are accepted and cost no tokens.
    return { role, content: messageText((m as Body).content, i, 'skipped') };
  });
  return { ...generationParams(body), messages: parsed };
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = asObject(raw);
  return { ...generationParams(body), prompt: singlePrompt(body) };
}
