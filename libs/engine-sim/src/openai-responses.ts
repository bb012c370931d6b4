/** Response bodies and SSE chunks in OpenAI's shapes, for chat and legacy completions. */

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export function usage(promptTokens: number, completionTokens: number, cachedTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

export type FinishReason = 'stop' | 'length';

/** What differs between /v1/chat/completions and /v1/completions. */
export interface GenerationShape {
  readonly id: string;
  /** SSE event for one piece of text; the chat shape announces the role on the first. */
  tokenEvent(text: string, first: boolean): string;
  finishEvent(reason: FinishReason): string;
  usageEvent(u: Usage): string;
  body(text: string, reason: FinishReason, u: Usage): object;
}

const sse = (payload: object) => `data: ${JSON.stringify(payload)}\n\n`;
export const SSE_DONE = 'data: [DONE]\n\n';

export function chatShape(id: string, created: number, model: string, includeUsage: boolean): GenerationShape {
  const head = { id, object: 'chat.completion.chunk', created, model };
  const tail = includeUsage ? { usage: null } : {};
  const chunk = (delta: object, finish: FinishReason | null) => sse({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...tail });
  return {
    id,
    tokenEvent: (text, first) => (first ? chunk({ role: 'assistant', content: '' }, null) : '') + chunk({ content: text }, null),
    finishEvent: (reason) => chunk({}, reason),
    usageEvent: (u) => sse({ ...head, choices: [], usage: u }),
    body: (text, reason, u) => ({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: reason }],
      usage: u,
    }),
  };
}

export function completionShape(id: string, created: number, model: string, includeUsage: boolean): GenerationShape {
  const head = { id, object: 'text_completion', created, model };
  const tail = includeUsage ? { usage: null } : {};
  const chunk = (text: string, finish: FinishReason | null) => sse({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], ...tail });
  return {
    id,
    tokenEvent: (text) => chunk(text, null),
    finishEvent: (reason) => chunk('', reason),
    usageEvent: (u) => sse({ ...head, choices: [], usage: u }),
    body: (text, reason, u) => ({
      id,
      object: 'text_completion',
      created,
      model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: reason }],
      usage: u,
    }),
  };
}
