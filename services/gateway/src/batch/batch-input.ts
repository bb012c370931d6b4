import { INFERENCE_ROUTES, InferenceRoute, parseInferenceRequest } from '../policy/openai-request';
import { estimateTokens } from '../policy/token-usage';

/** Endpoints a batch may target (OpenAI's batch API offers these and more). */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

export const routeOf = (endpoint: string): InferenceRoute | undefined =>
  (BATCH_ENDPOINTS as readonly string[]).includes(endpoint) ? INFERENCE_ROUTES.find((r) => r.path === endpoint) : undefined;

/** One request of an input file, checked. */
export interface BatchLine {
  readonly line: number;
  readonly customId: string;
  readonly model: string;
  readonly body: Record<string, unknown>;
}

/** OpenAI's batch error entry: `line` is 1-based. */
export interface BatchLineError {
  readonly code: string;
  readonly message: string;
  readonly param: string | null;
  readonly line: number | null;
}

export type ParsedBatchInput =
  | { ok: true; lines: BatchLine[]; inputTokens: number }
  | { ok: false; errors: BatchLineError[] };

export interface ModelCheck {
  /** Undefined when the model may be used, else why not. */
  (model: string): string | undefined;
}

/** Enough to tell a user what to fix without making a huge batch object. */
const MAX_ERRORS = 100;

/**
 * Checks a whole JSONL input file before anything runs: every line parses, has a unique
 * `custom_id`, `method` POST, the batch's `url`, and a body the endpoint accepts naming a usable model.
 */
export function parseBatchInput(data: Buffer, endpoint: BatchEndpoint, modelCheck: ModelCheck): ParsedBatchInput {
  const route = routeOf(endpoint)!;
  const errors: BatchLineError[] = [];
  const lines: BatchLine[] = [];
  const seen = new Set<string>();
  let inputTokens = 0;
  const text = data.toString('utf8');
  const raw = text.split('\n');
  const err = (line: number, code: string, message: string, param: string | null = null) => {
    if (errors.length < MAX_ERRORS) errors.push({ code, message: `line ${line}: ${message}`, param, line });
  };
  for (let i = 0; i < raw.length; i++) {
    const source = raw[i].trim();
    if (!source) continue;
    const n = i + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(source);
    } catch (e) {
      err(n, 'invalid_json_line', `not valid JSON (${(e as Error).message})`);
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      err(n, 'invalid_request', 'each line must be a JSON object');
      continue;
    }
    const o = obj as Record<string, unknown>;
    const customId = o.custom_id;
    if (typeof customId !== 'string' || customId.length === 0 || customId.length > 512) {
      err(n, 'missing_required_parameter', 'custom_id must be a non-empty string of at most 512 characters', 'custom_id');
      continue;
    }
    if (seen.has(customId)) {
      err(n, 'duplicate_custom_id', `custom_id "${customId}" appears more than once in the file`, 'custom_id');
      continue;
    }
    seen.add(customId);
    if (o.method !== 'POST') {
      err(n, 'invalid_method', `method must be "POST", not ${JSON.stringify(o.method ?? null)}`, 'method');
      continue;
    }
    if (o.url !== endpoint) {
      err(n, 'invalid_url', `url must be "${endpoint}" (the batch's endpoint), not ${JSON.stringify(o.url ?? null)}`, 'url');
      continue;
    }
    const parsed = parseInferenceRequest(route, Buffer.from(JSON.stringify(o.body ?? null)));
    if (!parsed.ok) {
      err(n, parsed.error.code, parsed.error.message, parsed.error.param ? `body.${parsed.error.param}` : 'body');
      continue;
    }
    if (parsed.value.stream) {
      err(n, 'invalid_value', 'streaming is not available in a batch', 'body.stream');
      continue;
    }
    const refused = modelCheck(parsed.value.model);
    if (refused) {
      err(n, 'model_not_found', refused, 'body.model');
      continue;
    }
    inputTokens += estimateTokens(parsed.value.promptChars);
    lines.push({ line: n, customId, model: parsed.value.model, body: parsed.value.body });
  }
  if (errors.length === 0 && lines.length === 0) errors.push({ code: 'empty_file', message: 'the input file has no requests', param: null, line: null });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, lines, inputTokens };
}

/** One result row, as written once per (batch, custom_id). */
export interface BatchResult {
  readonly customId: string;
  readonly line: number;
  readonly requestId: string;
  readonly statusCode: number | null;
  readonly body: unknown;
  readonly error: { code: string; message: string } | null;
}

export const succeeded = (r: Pick<BatchResult, 'statusCode'>) => r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

/** OpenAI's output line: `{id, custom_id, response: {status_code, request_id, body}, error}`. */
export function outputLine(r: BatchResult): string {
  return JSON.stringify({
    id: `batch_req_${r.requestId.replace(/[^A-Za-z0-9]/g, '').slice(-24)}`,
    custom_id: r.customId,
    response: r.statusCode === null ? null : { status_code: r.statusCode, request_id: r.requestId, body: r.body },
    error: r.error,
  });
}
