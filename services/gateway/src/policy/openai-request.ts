import { Capability, INVALID_MODEL, isUsableModelName } from '@maas/contracts';
import type { ChatMessage } from '@maas/routing';
import {
  chatImageParts,
  checkMediaForm,
  checkMediaJson,
  FormModel,
  MediaField,
  MODEL_NAME_RULE,
  multipartBoundary,
  OCR_FIELD,
  TRANSCRIPTION_FIELD,
} from './media-request';
import { formFieldName, unknownField } from './request-fields';

/** The proxied OpenAI endpoints: the path, the usage event's name for it, and what a worker must offer. */
export interface InferenceRoute {
  readonly path: string;
  readonly endpoint: 'chat.completions' | 'completions' | 'embeddings' | 'ocr' | 'audio.transcriptions';
  readonly capability: Capability;
  /** Media endpoints: the binary field, in JSON (base64) or multipart. */
  readonly media?: MediaField;
}

export const INFERENCE_ROUTES: readonly InferenceRoute[] = [
  { path: '/v1/chat/completions', endpoint: 'chat.completions', capability: 'chat' },
  { path: '/v1/completions', endpoint: 'completions', capability: 'completion' },
  { path: '/v1/embeddings', endpoint: 'embeddings', capability: 'embedding' },
  { path: '/v1/ocr', endpoint: 'ocr', capability: 'ocr', media: OCR_FIELD },
  { path: '/v1/audio/transcriptions', endpoint: 'audio.transcriptions', capability: 'transcription', media: TRANSCRIPTION_FIELD },
];

/** What the gateway needs from a request body; the body itself goes to the runtime unchanged. */
export interface InferenceRequest {
  readonly body: Record<string, unknown>;
  readonly model: string;
  readonly stream: boolean;
  /** The client asked for a final usage chunk (`stream_options.include_usage`). */
  readonly includeUsage: boolean;
  /** Characters of prompt text: the gateway's token estimate when the runtime reports none. */
  readonly promptChars: number;
  /** What prefix-cache affinity hashes: the conversation, or the prompt. */
  readonly prefix: string | readonly ChatMessage[];
  /** `image_url` parts of a chat request. */
  readonly imageParts: number;
  /** A multipart body (passed on as it came): where its `model` value sits. */
  readonly form?: FormModel;
  /** A multipart body's field names, as JSON fields (`languages[]` is `languages`). */
  readonly formFields?: readonly string[];
}

export interface InvalidRequest {
  /** The model named, when the body got that far (usage is still attributed to it), else INVALID_MODEL. */
  readonly model?: string;
  readonly message: string;
  readonly param: string | null;
  readonly code: string;
}

export type ParsedRequest = { ok: true; value: InferenceRequest } | { ok: false; error: InvalidRequest };

const invalid = (message: string, param: string | null, code = 'invalid_value'): ParsedRequest => ({
  ok: false,
  error: { model: INVALID_MODEL, message, param, code },
});

/** A field no runtime here takes (see request-fields.ts), refused as OpenAI refuses an unknown argument. */
const unrecognized = (model: string, field: string): InvalidRequest => ({
  model,
  message: `unrecognized request argument supplied: ${field}`,
  param: field,
  code: 'unknown_parameter',
});

/** Deeper than any real request; deep enough that re-serialising it would overflow the stack. */
export const MAX_JSON_NESTING = 128;

/**
 * Whether JSON text nests arrays and objects deeper than `limit`; brackets inside strings do not count.
 * Skips strings with indexOf, so a 32 MB base64 image costs ~10 ms.
 */
export function jsonNestingExceeds(text: Buffer, limit = MAX_JSON_NESTING): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0x22) {
      for (;;) {
        const end = text.indexOf(0x22, i + 1);
        if (end === -1) return false; // unterminated: JSON.parse says so
        let slashes = 0;
        while (text[end - 1 - slashes] === 0x5c) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTokenArray = (v: unknown): boolean => Array.isArray(v) && v.every((t) => Number.isInteger(t));

/** A string, an array of strings, an array of token ids, or an array of those: OpenAI's `prompt` and `input`. */
function textOrTokens(v: unknown): { ok: boolean; chars: number; text: string } {
  if (typeof v === 'string') return { ok: true, chars: v.length, text: v };
  if (!Array.isArray(v) || v.length === 0) return { ok: false, chars: 0, text: '' };
  if (isTokenArray(v)) return { ok: true, chars: v.length * 4, text: '' };
  let chars = 0;
  for (const item of v) {
    if (typeof item === 'string') chars += item.length;
    else if (isTokenArray(item)) chars += (item as unknown[]).length * 4;
    else return { ok: false, chars: 0, text: '' };
  }
  return { ok: true, chars, text: typeof v[0] === 'string' ? v[0] : '' };
}

/** OpenAI's message content: a string, null, or parts each with a string `type` (and a string `text` if any). */
function validContent(content: unknown): boolean {
  if (content === undefined || content === null || typeof content === 'string') return true;
  return (
    Array.isArray(content) &&
    content.every((p) => isObject(p) && typeof p.type === 'string' && (p.text === undefined || typeof p.text === 'string'))
  );
}

function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) if (isObject(part) && typeof part.text === 'string') n += part.text.length;
  return n;
}

const OPTIONAL_POSITIVE_INTS = ['max_tokens', 'max_completion_tokens', 'n'] as const;

/**
 * Engine extension fields a client may not set: scheduling (`priority`, the gateway's to set), raw
 * tensors and templates the runtime would execute (`prompt_embeds`, `chat_template`,
 * `logits_processors`), and fields that steer the engine's internals or identity of a request.
 */
export const REFUSED_FIELDS = [
  'priority',
  'prompt_embeds',
  'chat_template',
  'chat_template_kwargs',
  'logits_processors',
  'mm_processor_kwargs',
  'kv_transfer_params',
  'vllm_xargs',
  'request_id',
  'cache_salt',
  'return_tokens_as_token_ids',
] as const;

/** Chat parts that name media by URL; only `data:` URLs are taken (a runtime fetching a remote URL would reach inside the GPU network). */
const MEDIA_URL_PARTS = ['image_url', 'video_url', 'audio_url'] as const;

/** The `param` path of the first chat part whose media URL is not a `data:` URL, if any. */
export function remoteMediaPart(messages: readonly unknown[]): string | undefined {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m) || !Array.isArray(m.content)) continue;
    for (let j = 0; j < m.content.length; j++) {
      const part: unknown = m.content[j];
      if (!isObject(part)) continue;
      for (const kind of MEDIA_URL_PARTS) {
        const media = part[kind];
        if (media === undefined && part.type !== kind) continue;
        const url = isObject(media) ? media.url : media;
        if (typeof url !== 'string' || !/^data:/i.test(url)) return `messages[${i}].content[${j}].${kind}${isObject(media) ? '.url' : ''}`;
      }
    }
  }
  return undefined;
}

/**
 * Checks what the gateway relies on and what clients most often get wrong, naming the field in
 * `param` as OpenAI does, and refuses fields no runtime kind takes (request-fields.ts); values are
 * otherwise the runtime's to judge. `gatewayPriority`: the body
 * comes from the gateway's batch executor, which sets `priority` itself.
 */
export function parseInferenceRequest(
  route: InferenceRoute,
  raw: Buffer,
  contentType?: string,
  opts: { gatewayPriority?: boolean } = {},
): ParsedRequest {
  const boundary = route.media ? multipartBoundary(contentType) : undefined;
  if (route.media && boundary) {
    const checked = checkMediaForm(raw, boundary, route.media);
    if (!checked.ok) return { ok: false, error: checked };
    const formFields = [...new Set((checked.fields ?? []).map(formFieldName))];
    const unknown = unknownField(route.endpoint, Object.fromEntries(formFields.map((f) => [f, true])), 'any');
    if (unknown) return { ok: false, error: unrecognized(checked.model, unknown) };
    return {
      ok: true,
      value: {
        body: {},
        model: checked.model,
        stream: false,
        includeUsage: false,
        promptChars: 0,
        prefix: '',
        imageParts: 0,
        form: checked.form,
        formFields,
      },
    };
  }
  if (jsonNestingExceeds(raw))
    return invalid(`request body nests arrays and objects deeper than ${MAX_JSON_NESTING} levels`, null, 'invalid_json');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return invalid(`request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
  }
  if (!isObject(body)) return invalid('request body must be a JSON object', null, 'invalid_json');
  const model = body.model;
  if (model === undefined || model === null) return invalid('you must provide a model parameter', 'model', 'missing_required_parameter');
  if (!isUsableModelName(model)) return invalid(MODEL_NAME_RULE, 'model');
  const fail = (message: string, param: string | null, code = 'invalid_value'): ParsedRequest => ({
    ok: false,
    error: { model, message, param, code },
  });
  if (route.media) {
    const checked = checkMediaJson(body, route.media);
    if (!checked.ok) return { ok: false, error: checked };
    const unknown = unknownField(route.endpoint, body, 'any');
    if (unknown) return { ok: false, error: unrecognized(model, unknown) };
    return { ok: true, value: { body, model, stream: false, includeUsage: false, promptChars: 0, prefix: '', imageParts: 0 } };
  }
  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return fail('stream must be a boolean', 'stream');
  const options = body.stream_options;
  if (options !== undefined && options !== null) {
    if (!isObject(options)) return fail('stream_options must be an object', 'stream_options');
    if (options.include_usage !== undefined && typeof options.include_usage !== 'boolean') {
      return fail('stream_options.include_usage must be a boolean', 'stream_options.include_usage');
    }
  }
  for (const field of REFUSED_FIELDS) {
    // `priority` in a batch request the executor sends is the gateway's own (GATEWAY_BATCH_PRIORITY); the batch's lines were checked without it.
    if (field === 'priority' && opts.gatewayPriority) continue;
    if (body[field] !== undefined) return fail(`${field} may not be set through this API`, field, 'unsupported_parameter');
  }
  if (route.endpoint === 'embeddings' && stream === true) return fail('embeddings cannot be streamed', 'stream');
  const unknown = unknownField(route.endpoint, body, 'any', opts.gatewayPriority ? ['priority'] : []);
  if (unknown) return { ok: false, error: unrecognized(model, unknown) };
  for (const field of OPTIONAL_POSITIVE_INTS) {
    const v = body[field];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) >= 1)) {
      return fail(`${field} must be a positive integer, got ${JSON.stringify(v)}`, field);
    }
  }
  const t = body.temperature;
  if (t !== undefined && t !== null && !(typeof t === 'number' && t >= 0 && t <= 2)) {
    return fail(`temperature must be a number between 0 and 2, got ${JSON.stringify(t)}`, 'temperature');
  }

  let promptChars = 0;
  let imageParts = 0;
  let prefix: string | readonly ChatMessage[] = '';
  if (route.endpoint === 'chat.completions') {
    const messages = body.messages;
    if (messages === undefined) return fail('you must provide a messages parameter', 'messages', 'missing_required_parameter');
    if (!Array.isArray(messages) || messages.length === 0) return fail('messages must be a non-empty array', 'messages');
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (!isObject(m)) return fail(`messages[${i}] must be an object`, `messages[${i}]`);
      if (typeof m.role !== 'string' || m.role.length === 0)
        return fail(`messages[${i}].role must be a non-empty string`, `messages[${i}].role`);
      if (!validContent(m.content))
        return fail(
          `messages[${i}].content must be a string, null or an array of content parts with a string "type"`,
          `messages[${i}].content`,
        );
      promptChars += contentChars(m.content);
    }
    const remote = remoteMediaPart(messages);
    if (remote) return fail(`${remote} must be a data: URL (base64 inline); remote URLs are not fetched`, remote, 'remote_url_not_allowed');
    prefix = messages as ChatMessage[];
    imageParts = chatImageParts(messages);
  } else {
    const field = route.endpoint === 'completions' ? 'prompt' : 'input';
    if (body[field] === undefined) return fail(`you must provide a ${field} parameter`, field, 'missing_required_parameter');
    const text = textOrTokens(body[field]);
    if (!text.ok) return fail(`${field} must be a string, an array of strings, or an array of token ids`, field);
    promptChars = text.chars;
    if (route.endpoint === 'completions') prefix = text.text;
  }

  return {
    ok: true,
    value: {
      body,
      model,
      stream: stream === true,
      includeUsage: stream === true && isObject(options) && options.include_usage === true,
      promptChars,
      prefix,
      imageParts,
    },
  };
}
