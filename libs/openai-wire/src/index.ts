/** Response bodies and SSE chunks in OpenAI's shapes, for chat and legacy completions: one definition for every runtime we serve. */

export type FinishReason = 'stop' | 'length';

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

/** What differs between /v1/chat/completions and /v1/completions. */
export interface GenerationShape {
  readonly id: string;
  /** The SSE event opening the answer (chat announces the assistant role), or ''. */
  startEvent(): string;
  textEvent(text: string): string;
  finishEvent(reason: FinishReason): string;
  usageEvent(u: Usage): string;
  body(text: string, reason: FinishReason, u: Usage): object;
}

export const sse = (payload: object): string => `data: ${JSON.stringify(payload)}\n\n`;
export const SSE_DONE = 'data: [DONE]\n\n';

export function chatShape(id: string, created: number, model: string, includeUsage: boolean): GenerationShape {
  const head = { id, object: 'chat.completion.chunk', created, model };
  // With include_usage every chunk carries "usage": null until the last one, as OpenAI streams it.
  const tail = includeUsage ? { usage: null } : {};
  const chunk = (delta: object, finish: FinishReason | null) =>
    sse({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...tail });
  return {
    id,
    startEvent: () => chunk({ role: 'assistant', content: '' }, null),
    textEvent: (text) => chunk({ content: text }, null),
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
  const chunk = (text: string, finish: FinishReason | null) =>
    sse({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], ...tail });
  return {
    id,
    startEvent: () => '',
    textEvent: (text) => chunk(text, null),
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

export * from './errors';
export * from './requests';
export * from './runtime-key';
