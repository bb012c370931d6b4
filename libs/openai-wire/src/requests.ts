import { ApiError, invalidParam } from './errors';

/**
 * The checks every runtime makes of an OpenAI request body, with OpenAI's error for each: the
 * simulator and the llama.cpp runtime parse with these, and add only what they differ in.
 */
export type Body = Record<string, unknown>;

/** What every runtime reads from a chat or completion request; each adds its own (sampling, priority). */
export interface GenerationBase {
  readonly model?: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Undefined: up to the runtime's own limit. */
  readonly maxTokens?: number;
  /** Keep generating past end-of-generation tokens (vLLM's extension, for benchmarks). */
  readonly ignoreEos: boolean;
}

/** `/v1/completions`' prompt: text, or token ids. */
export interface PromptInput {
  readonly prompt: string | readonly number[];
}

export function asObject(raw: unknown): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ApiError(400, 'request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  return raw as Body;
}

export function optionalString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParam(name, `\`${name}\` must be a string`, 'invalid_type');
  return v;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParam(name, `\`${name}\` must be a boolean`, 'invalid_type');
  return v;
}

export function optionalInteger(body: Body, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidParam(name, `\`${name}\` must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function optionalNumber(body: Body, name: string, min: number, max: number, minExclusive = false): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v > max || v < min || (minExclusive && v === min)) {
    throw invalidParam(
      name,
      `\`${name}\` must be a number ${minExclusive ? 'above' : 'from'} ${min} ${minExclusive ? 'and at most' : 'to'} ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

export function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

/** `stream` and `stream_options.include_usage` (only allowed when streaming). */
export function streamOptions(body: Body): { readonly stream: boolean; readonly includeUsage: boolean } {
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = body.stream_options;
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalidParam('stream_options', '`stream_options` is only allowed when `stream` is true');
    if (typeof options !== 'object' || Array.isArray(options))
      throw invalidParam('stream_options', '`stream_options` must be an object', 'invalid_type');
    const flag = (options as Body).include_usage;
    if (flag !== undefined && flag !== null && typeof flag !== 'boolean')
      throw invalidParam('stream_options.include_usage', '`stream_options.include_usage` must be a boolean', 'invalid_type');
    includeUsage = flag === true;
  }
  return { stream, includeUsage };
}

/** The completion limit: max_completion_tokens supersedes the deprecated max_tokens, as in OpenAI's API. */
export function maxTokensOf(body: Body): number | undefined {
  return optionalInteger(body, 'max_completion_tokens', 1) ?? optionalInteger(body, 'max_tokens', 1);
}

/**
 * Text of a message's content: a string or text parts. Other parts (images, audio) are `'skipped'`
 * (they cost no tokens) or `'refused'` (a text-only model), as the runtime says.
 */
export function messageText(content: unknown, index: number, otherParts: 'skipped' | 'refused'): string {
  const param = `messages[${index}].content`;
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidParam(param, `\`${param}\` must be a string or an array of content parts`, 'invalid_type');
  return content
    .map((part, j) => {
      if (typeof part !== 'object' || part === null || typeof (part as Body).type !== 'string') {
        throw invalidParam(`${param}[${j}]`, `\`${param}[${j}]\` must be an object with a \`type\``, 'invalid_type');
      }
      const p = part as Body;
      if (p.type !== 'text') {
        if (otherParts === 'skipped') return '';
        throw invalidParam(
          `${param}[${j}].type`,
          `\`${param}[${j}]\` is of type "${String(p.type)}"; this model reads text only`,
          'unsupported_value',
        );
      }
      if (typeof p.text !== 'string') throw invalidParam(`${param}[${j}].text`, `\`${param}[${j}].text\` must be a string`, 'invalid_type');
      return p.text;
    })
    .join('');
}

/** `/v1/completions`' prompt: text or token ids; a one-element batch is the same as a single prompt, larger ones are refused. */
export function singlePrompt(body: Body): string | readonly number[] {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || isTokenIds(prompt[0]))) prompt = prompt[0];
  if (Array.isArray(prompt) && !isTokenIds(prompt)) {
    throw invalidParam(
      'prompt',
      '`prompt` must be a string or an array of token ids; batches of several prompts are not supported by this runtime',
    );
  }
  if (typeof prompt === 'string' ? prompt.length === 0 : !isTokenIds(prompt))
    throw invalidParam('prompt', '`prompt` must be a non-empty string or array of token ids');
  return prompt as string | number[];
}

export interface EmbeddingRequest {
  readonly model?: string;
  readonly inputs: ReadonlyArray<string | readonly number[]>;
  readonly encoding: 'float' | 'base64';
  readonly dimensions?: number;
}

/** OpenAI's limit on inputs per embeddings request, kept so clients see the same errors as from the hosted API. */
export const MAX_EMBEDDING_INPUTS = 2048;

export function parseEmbeddingRequest(raw: unknown): EmbeddingRequest {
  const body = asObject(raw);
  const input = body.input;
  let inputs: Array<string | number[]>;
  if (typeof input === 'string') inputs = [input];
  else if (isTokenIds(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' || isTokenIds(x)))
    inputs = input as Array<string | number[]>;
  else throw invalidParam('input', '`input` must be a string, an array of strings, token ids, or an array of token id arrays (non-empty)');
  if (inputs.length > MAX_EMBEDDING_INPUTS)
    throw invalidParam('input', `\`input\` holds ${inputs.length} items; the limit is ${MAX_EMBEDDING_INPUTS}`);
  const empty = inputs.findIndex((x) => x.length === 0);
  if (empty >= 0) throw invalidParam('input', `\`input[${empty}]\` is empty`);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw invalidParam('encoding_format', '`encoding_format` must be "float" or "base64"');
  const dimensions = optionalInteger(body, 'dimensions', 1);
  return { model: optionalString(body, 'model'), inputs, encoding: format, ...(dimensions !== undefined ? { dimensions } : {}) };
}
