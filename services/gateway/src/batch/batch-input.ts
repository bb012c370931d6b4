import { INFERENCE_ROUTES, InferenceRoute, jsonNestingExceeds, MAX_JSON_NESTING, parseInferenceRequest } from '../policy/openai-request';
import { estimateTokens } from '../policy/token-usage';

/** Endpoints a batch may target (OpenAI's batch API offers these and more). */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

export const routeOf = (endpoint: string): InferenceRoute | undefined =>
  (BATCH_ENDPOINTS as readonly string[]).includes(endpoint) ? INFERENCE_ROUTES.find((r) => r.path === endpoint) : undefined;

/**
 * One request of an input file, checked. Its body stays in the file's bytes (`start`..`end`, see
 * `lineBody`): a running batch keeps one Buffer outside the JS heap instead of thousands of parsed
 * bodies in it, which every garbage collection pause of the gateway would have to walk.
 */
export interface BatchLine {
  readonly line: number;
  readonly customId: string;
  readonly model: string;
  /** Byte offsets of the line's JSON in the input file. */
  readonly start: number;
  readonly end: number;
}

/** OpenAI's batch error entry: `line` is 1-based. */
export interface BatchLineError {
  readonly code: string;
  readonly message: string;
  readonly param: string | null;
  readonly line: number | null;
}

export type ParsedBatchInput = { ok: true; lines: BatchLine[]; inputTokens: number } | { ok: false; errors: BatchLineError[] };

export interface ModelCheck {
  /** Undefined when the model may be used, else why not. */
  (model: string): string | undefined;
}

/** Enough to tell a user what to fix without making a huge batch object. */
const MAX_ERRORS = 100;

/** Requests one batch may hold (OpenAI's limit); the file's bytes are capped at upload (GATEWAY_FILE_MAX_BYTES). */
export const MAX_BATCH_REQUESTS = 50_000;

/**
 * The estimate a batch is held to before it runs (the key's pending-token ceiling): prompt text at
 * about four characters a token, a floor per message, a fixed cost per media part (their text is
 * not read), and the output the request allows (`max_completion_tokens` or `max_tokens`), or
 * `defaultOutputTokens` when it sets no cap.
 */
export const ESTIMATE = { tokensPerMessage: 4, tokensPerMediaPart: 1024, defaultOutputTokens: 1024 } as const;

const MEDIA_PARTS = new Set(['image_url', 'video_url', 'audio_url', 'input_audio']);

/** Estimated tokens of one checked request body: prompt and allowed output. */
export function estimateRequestTokens(body: Record<string, unknown>, promptChars: number): number {
  let prompt = estimateTokens(promptChars);
  if (Array.isArray(body.messages)) {
    for (const m of body.messages as unknown[]) {
      prompt += ESTIMATE.tokensPerMessage;
      const content = (m as { content?: unknown }).content;
      if (Array.isArray(content))
        for (const p of content) if (MEDIA_PARTS.has((p as { type?: unknown }).type as string)) prompt += ESTIMATE.tokensPerMediaPart;
    }
  }
  if (body.input !== undefined) return prompt; // embeddings produce no tokens
  const cap = body.max_completion_tokens ?? body.max_tokens;
  return prompt + (typeof cap === 'number' && cap > 0 ? cap : ESTIMATE.defaultOutputTokens);
}

/**
 * Error text quotes the client's input (JSON.parse's messages cut it anywhere, even inside a surrogate
 * pair): control characters and lone surrogates escaped, so PostgreSQL can store it and clients show it.
 */
const printable = (text: string) =>
  text.replace(
    /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Lines of a JSONL buffer as [1-based number, text, start, end], decoded one at a time (no copy of the whole file). */
function* jsonlLines(data: Buffer): Generator<[number, string, number, number]> {
  let n = 0;
  for (let from = 0; from < data.length;) {
    let to = data.indexOf(10, from);
    if (to === -1) to = data.length;
    n += 1;
    yield [n, data.toString('utf8', from, to), from, to];
    from = to + 1;
  }
}

/** The request body of a checked line, parsed from the input file's bytes. */
export function lineBody(data: Buffer, line: Pick<BatchLine, 'start' | 'end'>): Record<string, unknown> {
  return (JSON.parse(data.toString('utf8', line.start, line.end)) as { body: Record<string, unknown> }).body;
}

/** The checks of one input file, line by line: what `parseBatchInput` and `parseBatchInputAsync` run. */
class BatchInputCheck {
  private readonly route: InferenceRoute;
  private readonly errors: BatchLineError[] = [];
  private readonly lines: BatchLine[] = [];
  private readonly seen = new Set<string>();
  private inputTokens = 0;
  private overLimit = false;

  constructor(
    private readonly endpoint: BatchEndpoint,
    private readonly modelCheck: ModelCheck,
  ) {
    this.route = routeOf(endpoint)!;
  }

  private err(line: number, code: string, message: string, param: string | null = null): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ code, message: `line ${line}: ${printable(message)}`, param, line });
  }

  line(n: number, text: string, start: number, end: number): void {
    const source = text.trim();
    if (!source) return;
    if (this.lines.length >= MAX_BATCH_REQUESTS) {
      if (!this.overLimit)
        this.errors.push({
          code: 'too_many_requests',
          message: `a batch holds at most ${MAX_BATCH_REQUESTS} requests; line ${n} is one more`,
          param: null,
          line: n,
        });
      this.overLimit = true;
      return;
    }
    if (jsonNestingExceeds(Buffer.from(source, 'utf8')))
      return this.err(n, 'invalid_json_line', `nests arrays and objects deeper than ${MAX_JSON_NESTING} levels`);
    let obj: unknown;
    try {
      obj = JSON.parse(source);
    } catch (e) {
      return this.err(n, 'invalid_json_line', `not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      return this.err(n, 'invalid_request', 'each line must be a JSON object');
    const o = obj as Record<string, unknown>;
    const customId = o.custom_id;
    if (typeof customId !== 'string' || customId.length === 0 || customId.length > 512) {
      return this.err(n, 'missing_required_parameter', 'custom_id must be a non-empty string of at most 512 characters', 'custom_id');
    }
    if (customId.includes('\u0000')) return this.err(n, 'invalid_value', 'custom_id must not contain NUL characters', 'custom_id');
    if (this.seen.has(customId))
      return this.err(n, 'duplicate_custom_id', `custom_id "${customId}" appears more than once in the file`, 'custom_id');
    this.seen.add(customId);
    if (o.method !== 'POST')
      return this.err(n, 'invalid_method', `method must be "POST", not ${JSON.stringify(o.method ?? null)}`, 'method');
    if (o.url !== this.endpoint) {
      return this.err(
        n,
        'invalid_url',
        `url must be "${this.endpoint}" (the batch's endpoint), not ${JSON.stringify(o.url ?? null)}`,
        'url',
      );
    }
    const parsed = parseInferenceRequest(this.route, Buffer.from(JSON.stringify(o.body ?? null)));
    if (!parsed.ok) return this.err(n, parsed.error.code, parsed.error.message, parsed.error.param ? `body.${parsed.error.param}` : 'body');
    if (parsed.value.stream) return this.err(n, 'invalid_value', 'streaming is not available in a batch', 'body.stream');
    const refused = this.modelCheck(parsed.value.model);
    if (refused) return this.err(n, 'model_not_found', refused, 'body.model');
    this.inputTokens += estimateRequestTokens(parsed.value.body, parsed.value.promptChars);
    this.lines.push({ line: n, customId, model: parsed.value.model, start, end });
  }

  result(): ParsedBatchInput {
    if (this.errors.length === 0 && this.lines.length === 0)
      this.errors.push({ code: 'empty_file', message: 'the input file has no requests', param: null, line: null });
    return this.errors.length > 0 ? { ok: false, errors: this.errors } : { ok: true, lines: this.lines, inputTokens: this.inputTokens };
  }
}

/**
 * Checks a whole JSONL input file before anything runs: every line parses, has a unique
 * `custom_id`, `method` POST, the batch's `url`, and a body the endpoint accepts naming a usable model.
 */
export function parseBatchInput(data: Buffer, endpoint: BatchEndpoint, modelCheck: ModelCheck): ParsedBatchInput {
  const check = new BatchInputCheck(endpoint, modelCheck);
  for (const [n, text, start, end] of jsonlLines(data)) check.line(n, text, start, end);
  return check.result();
}

/**
 * `parseBatchInput` that hands the event loop back every `sliceMs`: a 50 MB file takes a few hundred
 * milliseconds to check, which interactive requests on the same gateway must not wait for.
 */
export async function parseBatchInputAsync(
  data: Buffer,
  endpoint: BatchEndpoint,
  modelCheck: ModelCheck,
  sliceMs = 5,
): Promise<ParsedBatchInput> {
  const check = new BatchInputCheck(endpoint, modelCheck);
  let sliceStart = performance.now();
  for (const [n, text, start, end] of jsonlLines(data)) {
    check.line(n, text, start, end);
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return check.result();
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
