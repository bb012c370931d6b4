import type { InferenceRequest, InferenceRoute } from './openai-request';

/**
 * Span attributes of a /v1 request by OpenTelemetry's semantic conventions: HTTP server spans and
 * GenAI (`gen_ai.*`, https://opentelemetry.io/docs/specs/semconv/gen-ai/). Pure: the span lives in
 * services/request-span.ts.
 */
export type SpanAttributes = Record<string, string | number | boolean | string[]>;

const COLLECTIONS = ['models', 'batches', 'files'];
const STATIC_ROUTES = new Set([
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/ocr',
  '/v1/audio/transcriptions',
  '/v1/usage',
  '/v1/models',
  '/v1/batches',
  '/v1/files',
]);

/**
 * `http.route`: the path with its identifiers replaced (`/v1/files/{id}/content`), so span names stay
 * few; undefined for a path the gateway does not serve (the span is then named by its method alone).
 */
export function httpRoute(path: string): string | undefined {
  if (STATIC_ROUTES.has(path)) return path;
  const parts = path.split('/'); // ['', 'v1', collection, id, ...rest]
  if (parts.length < 4 || parts[1] !== 'v1' || !COLLECTIONS.includes(parts[2]) || !parts[3]) return undefined;
  if (parts[2] === 'models') return '/v1/models/{model}';
  if (parts.length > 5) return undefined;
  return ['', 'v1', parts[2], '{id}', ...parts.slice(4)].join('/');
}

/** `gen_ai.operation.name` of an endpoint; OCR and transcription produce text from media. */
export function genAiOperation(endpoint: InferenceRoute['endpoint']): string {
  switch (endpoint) {
    case 'chat.completions':
      return 'chat';
    case 'completions':
      return 'text_completion';
    case 'embeddings':
      return 'embeddings';
    default:
      return 'generate_content';
  }
}

const number = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** What the client asked for: model and sampling parameters, where given. */
export function requestAttributes(route: InferenceRoute, request: Pick<InferenceRequest, 'model' | 'stream' | 'body'>): SpanAttributes {
  const b = request.body;
  const maxTokens = number(b.max_tokens) ? b.max_tokens : b.max_completion_tokens;
  const out: SpanAttributes = {
    'gen_ai.operation.name': genAiOperation(route.endpoint),
    'gen_ai.request.model': request.model,
  };
  if (number(maxTokens)) out['gen_ai.request.max_tokens'] = maxTokens;
  if (number(b.temperature)) out['gen_ai.request.temperature'] = b.temperature;
  if (number(b.top_p)) out['gen_ai.request.top_p'] = b.top_p;
  if (number(b.frequency_penalty)) out['gen_ai.request.frequency_penalty'] = b.frequency_penalty;
  if (number(b.presence_penalty)) out['gen_ai.request.presence_penalty'] = b.presence_penalty;
  if (number(b.seed)) out['gen_ai.request.seed'] = b.seed;
  if (number(b.n) && b.n !== 1) out['gen_ai.request.choice.count'] = b.n;
  if (typeof b.stop === 'string') out['gen_ai.request.stop_sequences'] = [b.stop];
  else if (Array.isArray(b.stop) && b.stop.every((s) => typeof s === 'string')) out['gen_ai.request.stop_sequences'] = b.stop as string[];
  if (request.stream) out['maas.request.stream'] = true;
  return out;
}

/** How the request ended, as the gateway accounted it (the same figures as its usage event). */
export interface AccountedRequest {
  readonly endpoint: InferenceRoute['endpoint'];
  readonly requestId: string;
  /** The model named in the request ('' when the body never got that far). */
  readonly model: string;
  /** The model name the worker was asked for (its own, when the registry renames it). */
  readonly servedModel?: string;
  readonly workerId: string | null;
  readonly kind: 'interactive' | 'batch';
  readonly status: number;
  readonly errorCode: string | null;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly countedBy: 'runtime' | 'gateway';
  readonly ttftMs: number | null;
  readonly latencyMs: number;
}

/**
 * Usage, worker and outcome. TTFT and TPOT are in seconds, named after the GenAI server metrics
 * (`gen_ai.server.time_to_first_token`, `gen_ai.server.time_per_output_token`); TPOT is known only
 * for streamed responses with more than one output token.
 */
export function accountedAttributes(r: AccountedRequest): SpanAttributes {
  const out: SpanAttributes = {
    'gen_ai.operation.name': genAiOperation(r.endpoint),
    'gen_ai.usage.input_tokens': r.promptTokens,
    'gen_ai.usage.output_tokens': r.completionTokens,
    'http.response.status_code': r.status,
    'maas.request.id': r.requestId,
    'maas.request.kind': r.kind,
    'maas.usage.counted_by': r.countedBy,
  };
  if (r.model) out['gen_ai.request.model'] = r.model;
  if (r.status < 400 && r.workerId) out['gen_ai.response.model'] = r.servedModel ?? r.model;
  if (r.workerId) out['maas.worker.id'] = r.workerId;
  if (r.errorCode) out['error.type'] = r.errorCode;
  else if (r.status >= 400) out['error.type'] = String(r.status);
  if (r.ttftMs !== null) {
    out['gen_ai.server.time_to_first_token'] = r.ttftMs / 1000;
    if (r.completionTokens > 1)
      out['gen_ai.server.time_per_output_token'] = Math.max(0, r.latencyMs - r.ttftMs) / 1000 / (r.completionTokens - 1);
  }
  return out;
}
