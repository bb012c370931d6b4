import { ApiError, invalidParam } from '@maas/media';

type Body = Record<string, unknown>;

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

export interface GenerationRequest {
  readonly model?: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Undefined: up to the end of the context. */
  readonly maxTokens?: number;
  readonly sampling: SamplingParams;
  readonly stop: readonly string[];
  /** Keep generating past end-of-generation tokens (vLLM's extension, for benchmarks). */
  readonly ignoreEos: boolean;
}

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatTurn {
  readonly role: ChatRole;
  readonly text: string;
}

export interface ChatRequest extends GenerationRequest {
  readonly messages: readonly ChatTurn[];
}

export interface CompletionRequest extends GenerationRequest {
  /** Text, or token ids. */
  readonly prompt: string | readonly number[];
}

export interface EmbeddingRequest {
  readonly model?: string;
  readonly inputs: ReadonlyArray<string | readonly number[]>;
  readonly encoding: 'float' | 'base64';
  readonly dimensions?: number;
}

/** vLLM's `POST /tokenize`: a prompt, or chat messages rendered with the model's template. */
export type TokenizeRequest = { readonly model?: string; readonly prompt: string; readonly addSpecialTokens: boolean } | { readonly model?: string; readonly messages: readonly ChatTurn[] };

/** OpenAI's limits, kept so clients see the same errors here as from the hosted API. */
export const MAX_STOP_SEQUENCES = 4;
export const MAX_EMBEDDING_INPUTS = 2048;

function optionalString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParam(name, `\`${name}\` must be a string`, 'invalid_type');
  return v;
}

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParam(name, `\`${name}\` must be a boolean`, 'invalid_type');
  return v;
}

function optionalInteger(body: Body, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidParam(name, `\`${name}\` must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalNumber(body: Body, name: string, min: number, max: number, minExclusive = false): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v > max || v < min || (minExclusive && v === min)) {
    throw invalidParam(name, `\`${name}\` must be a number ${minExclusive ? 'above' : 'from'} ${min} ${minExclusive ? 'and at most' : 'to'} ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

function parseStop(body: Body): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw invalidParam('stop', '`stop` must be a non-empty string or an array of non-empty strings');
  }
  if (list.length > MAX_STOP_SEQUENCES) throw invalidParam('stop', `\`stop\` takes at most ${MAX_STOP_SEQUENCES} sequences, got ${list.length}`);
  return [...new Set(list as string[])];
}

/** Fields OpenAI clients send that would change the answer's meaning if silently ignored. */
function refuseUnsupported(body: Body): void {
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n !== 1) throw invalidParam('n', '`n` > 1 is not supported by this runtime; send one request per choice', 'unsupported_value');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) {
    throw invalidParam('logprobs', '`logprobs` is not supported by this runtime', 'unsupported_value');
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) throw invalidParam('tools', '`tools` (function calling) is not supported by this runtime', 'unsupported_value');
  const format = body.response_format;
  if (format !== undefined && format !== null) {
    const type = typeof format === 'object' ? (format as Body).type : undefined;
    if (type !== 'text') throw invalidParam('response_format', '`response_format` other than {"type":"text"} is not supported by this runtime', 'unsupported_value');
  }
}

function generationRequest(body: Body): GenerationRequest {
  refuseUnsupported(body);
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = body.stream_options;
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalidParam('stream_options', '`stream_options` is only allowed when `stream` is true');
    if (typeof options !== 'object' || Array.isArray(options)) throw invalidParam('stream_options', '`stream_options` must be an object', 'invalid_type');
    const flag = (options as Body).include_usage;
    if (flag !== undefined && flag !== null && typeof flag !== 'boolean') throw invalidParam('stream_options.include_usage', '`stream_options.include_usage` must be a boolean', 'invalid_type');
    includeUsage = flag === true;
  }
  // max_completion_tokens supersedes the deprecated max_tokens, as in OpenAI's API.
  const maxTokens = optionalInteger(body, 'max_completion_tokens', 1) ?? optionalInteger(body, 'max_tokens', 1);
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

/** Text of a message's content: a string or text parts; other parts (images, audio) are refused. */
function messageText(content: unknown, index: number): string {
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
      if (p.type !== 'text') throw invalidParam(`${param}[${j}].type`, `\`${param}[${j}]\` is of type "${String(p.type)}"; this model reads text only`, 'unsupported_value');
      if (typeof p.text !== 'string') throw invalidParam(`${param}[${j}].text`, `\`${param}[${j}].text\` must be a string`, 'invalid_type');
      return p.text;
    })
    .join('');
}

const ROLES: Record<string, ChatRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

function parseMessages(value: unknown): ChatTurn[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidParam('messages', '`messages` must be a non-empty array');
  return value.map((m, i): ChatTurn => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalidParam(`messages[${i}]`, `\`messages[${i}]\` must be an object`, 'invalid_type');
    const role = (m as Body).role;
    if (typeof role !== 'string' || !(role in ROLES)) {
      const why = role === 'tool' || role === 'function' ? 'tool results are not supported by this runtime' : 'expected system, developer, user or assistant';
      throw invalidParam(`messages[${i}].role`, `\`messages[${i}].role\` is ${JSON.stringify(role)}: ${why}`);
    }
    return { role: ROLES[role], text: messageText((m as Body).content, i) };
  });
}

function asObject(raw: unknown): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ApiError(400, 'request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  return raw as Body;
}

export function parseChatRequest(raw: unknown): ChatRequest {
  const body = asObject(raw);
  return { ...generationRequest(body), messages: parseMessages(body.messages) };
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = asObject(raw);
  let prompt = body.prompt;
  // A one-element batch is the same as a single prompt.
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || isTokenIds(prompt[0]))) prompt = prompt[0];
  if (Array.isArray(prompt) && !isTokenIds(prompt)) {
    throw invalidParam('prompt', '`prompt` must be a string or an array of token ids; batches of several prompts are not supported by this runtime');
  }
  if (typeof prompt === 'string' ? prompt.length === 0 : !isTokenIds(prompt)) throw invalidParam('prompt', '`prompt` must be a non-empty string or array of token ids');
  if (body.echo === true) throw invalidParam('echo', '`echo` is not supported by this runtime', 'unsupported_value');
  if (typeof body.suffix === 'string' && body.suffix.length > 0) throw invalidParam('suffix', '`suffix` is not supported by this runtime', 'unsupported_value');
  return { ...generationRequest(body), prompt: prompt as string | number[] };
}

export function parseEmbeddingRequest(raw: unknown): EmbeddingRequest {
  const body = asObject(raw);
  const input = body.input;
  let inputs: Array<string | number[]>;
  if (typeof input === 'string') inputs = [input];
  else if (isTokenIds(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' || isTokenIds(x))) inputs = input as Array<string | number[]>;
  else throw invalidParam('input', '`input` must be a string, an array of strings, token ids, or an array of token id arrays (non-empty)');
  if (inputs.length > MAX_EMBEDDING_INPUTS) throw invalidParam('input', `\`input\` holds ${inputs.length} items; the limit is ${MAX_EMBEDDING_INPUTS}`);
  const empty = inputs.findIndex((x) => x.length === 0);
  if (empty >= 0) throw invalidParam('input', `\`input[${empty}]\` is empty`);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw invalidParam('encoding_format', '`encoding_format` must be "float" or "base64"');
  const dimensions = optionalInteger(body, 'dimensions', 1);
  return { model: optionalString(body, 'model'), inputs, encoding: format, ...(dimensions !== undefined ? { dimensions } : {}) };
}

export function parseTokenizeRequest(raw: unknown): TokenizeRequest {
  const body = asObject(raw);
  const model = optionalString(body, 'model');
  if (body.messages !== undefined) return { model, messages: parseMessages(body.messages) };
  if (typeof body.prompt !== 'string') throw invalidParam('prompt', '`prompt` (a string) or `messages` is required');
  return { model, prompt: body.prompt, addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? true };
}
