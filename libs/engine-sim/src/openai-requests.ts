import { ChatMessage } from './tokens';

/** An error in OpenAI's shape: `{"error":{"message","type","param","code"}}` with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const invalid = (param: string, message: string) => new ApiError(400, message, 'invalid_request_error', param, 'invalid_value');

type Body = Record<string, unknown>;

export interface GenerationParams {
  readonly model?: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly maxTokens?: number;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
  /** vLLM's `priority` (lower is more urgent); only honoured with the priority scheduling policy. */
  readonly priority: number;
}

export interface ChatRequest extends GenerationParams {
  readonly messages: readonly ChatMessage[];
}

export interface CompletionRequest extends GenerationParams {
  /** Text, or token ids. */
  readonly prompt: string | readonly number[];
}

export interface EmbeddingRequest {
  readonly model?: string;
  readonly inputs: ReadonlyArray<string | readonly number[]>;
  readonly encoding: 'float' | 'base64';
  readonly dimensions?: number;
}

function asObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'request body must be a JSON object');
  return body as Body;
}

function optionalString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(name, `'${name}' must be a string`);
  return v;
}

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(name, `'${name}' must be a boolean`);
  return v;
}

function optionalInteger(body: Body, name: string, min: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(name, `'${name}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

function generationParams(body: Body): GenerationParams {
  const n = optionalInteger(body, 'n', 1);
  if (n !== undefined && n !== 1) throw invalid('n', "'n' > 1 is not supported by the simulator");
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = body.stream_options;
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalid('stream_options', "'stream_options' is only allowed when 'stream' is true");
    if (typeof options !== 'object' || Array.isArray(options)) throw invalid('stream_options', "'stream_options' must be an object");
    const flag = (options as Body).include_usage;
    if (flag !== undefined && flag !== null && typeof flag !== 'boolean') throw invalid('stream_options.include_usage', "'stream_options.include_usage' must be a boolean");
    includeUsage = flag === true;
  }
  // max_completion_tokens supersedes the deprecated max_tokens, as in OpenAI's API.
  const maxTokens = optionalInteger(body, 'max_completion_tokens', 1) ?? optionalInteger(body, 'max_tokens', 1);
  const minTokens = optionalInteger(body, 'min_tokens', 0) ?? 0;
  if (maxTokens !== undefined && minTokens > maxTokens) throw invalid('min_tokens', `'min_tokens' (${minTokens}) must not exceed the token limit (${maxTokens})`);
  const priority = optionalInteger(body, 'priority', Number.MIN_SAFE_INTEGER) ?? 0;
  return { model: optionalString(body, 'model'), stream, includeUsage, maxTokens, minTokens, ignoreEos: optionalBoolean(body, 'ignore_eos') ?? false, priority };
}

/** Text of a message's content; non-text parts (images, audio) are accepted and cost no tokens. */
function messageText(content: unknown, index: number): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(`messages[${index}].content`, `'messages[${index}].content' must be a string or an array of content parts`);
  return content
    .map((part, j) => {
      if (typeof part !== 'object' || part === null || typeof (part as Body).type !== 'string') {
        throw invalid(`messages[${index}].content[${j}]`, `'messages[${index}].content[${j}]' must be an object with a 'type'`);
      }
      const p = part as Body;
      if (p.type !== 'text') return '';
      if (typeof p.text !== 'string') throw invalid(`messages[${index}].content[${j}].text`, `'messages[${index}].content[${j}].text' must be a string`);
      return p.text;
    })
    .join('');
}

export function parseChatRequest(raw: unknown): ChatRequest {
  const body = asObject(raw);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('messages', "'messages' must be a non-empty array");
  const parsed = messages.map((m, i): ChatMessage => {
    if (typeof m !== 'object' || m === null) throw invalid(`messages[${i}]`, `'messages[${i}]' must be an object`);
    const role = (m as Body).role;
    if (typeof role !== 'string' || role === '') throw invalid(`messages[${i}].role`, `'messages[${i}].role' must be a non-empty string`);
    return { role, content: messageText((m as Body).content, i) };
  });
  return { ...generationParams(body), messages: parsed };
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = asObject(raw);
  let prompt = body.prompt;
  // A one-element batch is the same as a single prompt; larger batches are not simulated.
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || isTokenIds(prompt[0]))) prompt = prompt[0];
  if (Array.isArray(prompt) && !isTokenIds(prompt)) {
    throw invalid('prompt', "'prompt' must be a string or an array of token ids (batches of prompts are not supported by the simulator)");
  }
  if (typeof prompt === 'string' ? prompt.length === 0 : !isTokenIds(prompt)) throw invalid('prompt', "'prompt' must be a non-empty string or array of token ids");
  return { ...generationParams(body), prompt: prompt as string | number[] };
}

export function parseEmbeddingRequest(raw: unknown): EmbeddingRequest {
  const body = asObject(raw);
  const input = body.input;
  let inputs: Array<string | number[]>;
  if (typeof input === 'string') inputs = [input];
  else if (isTokenIds(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' || isTokenIds(x))) inputs = input as Array<string | number[]>;
  else throw invalid('input', "'input' must be a string, an array of strings, or token ids (non-empty)");
  if (inputs.some((x) => x.length === 0)) throw invalid('input', "'input' must not contain empty strings");
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw invalid('encoding_format', "'encoding_format' must be 'float' or 'base64'");
  return { model: optionalString(body, 'model'), inputs, encoding: format, dimensions: optionalInteger(body, 'dimensions', 1) };
}
