import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { Logger } from '@maas/logging';
import { errorBody, errorType } from '@maas/platform';
import type { Endpoint, RoutingDecision } from '@maas/routing';
import { runtimeKeyFor } from '@maas/worker-agent';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import { describeLimit } from '../policy/key-limits';
import { InferenceRequest, InferenceRoute, parseInferenceRequest } from '../policy/openai-request';
import { withFormModel } from '../policy/media-request';
import { askForStreamUsage } from '../policy/stream-usage';
import { startEta } from '../policy/model-catalogue';
import {
  completionTextTokens,
  loadTokenizerSlice,
  promptTokens,
  TokenizerName,
  tokenizerFor,
  tokenizerLoaded,
} from '../policy/prompt-tokens';
import { RuntimeKind, unknownField, upstreamPriority } from '../policy/request-fields';
import { estimateTokens, ocrUsage, SseUsageTracker, transcriptionUsage, usageOfJsonBody } from '../policy/token-usage';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { UpstreamCall, UpstreamError, UpstreamRepository } from '../repositories/upstream.repository';
import type { RequestSpan } from './request-span';
import { RequestKind, RouteQuery, RoutingService } from './routing.service';
import { RequestRecord, UsageService } from './usage.service';
import { WorkerRegistryService } from './worker-registry.service';

const overhead = new Histogram({
  name: 'maas_gateway_dispatch_seconds',
  help: 'Gateway time from arrival to the upstream request (auth, body, routing), per attempt',
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1, 5, 30],
});
const retries = new Counter({
  name: 'maas_gateway_upstream_retries_total',
  help: 'Requests sent to another worker after a failure before any response byte',
  labelNames: ['reason'],
});
const held = new Counter({
  name: 'maas_gateway_held_requests_total',
  help: 'Requests that waited for capacity, by outcome',
  labelNames: ['outcome'],
});

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * The one way a request ends: the worker it is counted on is freed and its usage event recorded,
 * each once, whichever of the caller, the relay or a timer gets there first.
 */
export class Settlement {
  private worker: string | undefined;
  /** OpenAI's `x-ratelimit-*` headers of the key as they stood at admission (undefined before it). */
  rateLimitHeaders: Record<string, string> | undefined;

  constructor(
    readonly record: RequestRecord,
    private readonly routing: RoutingService,
    private readonly usage: UsageService,
  ) {}

  get settled(): boolean {
    return this.record.completed;
  }

  /** The request was sent to a worker: counted there until `leaveWorker` or `settle`. */
  enterWorker(workerId: string): void {
    this.leaveWorker();
    this.worker = workerId;
    this.record.workerId = workerId;
    this.routing.started(workerId, this.record.kind, this.record.requestId);
  }

  /** This attempt is over (the request may go to another worker). */
  leaveWorker(): void {
    if (this.worker === undefined) return;
    this.routing.finished(this.worker, this.record.kind);
    this.worker = undefined;
  }

  /**
   * Set before aborting a batch request the gateway sheds to make room for interactive work: it ends
   * unbilled (no tokens, `batch_shed`), since its line runs again in full.
   */
  shed = false;

  settle(status: number, errorCode: string | null): void {
    this.leaveWorker();
    if (this.shed) {
      this.record.promptTokens = 0;
      this.record.completionTokens = 0;
    }
    this.usage.complete(this.record, status, this.shed ? 'batch_shed' : errorCode);
  }
}

/** What a caller relays: an answer whose body streams (already being counted), or a JSON error. */
export type DispatchOutcome = DispatchAnswer | DispatchError | { readonly kind: 'gone' };

export interface DispatchAnswer {
  readonly kind: 'answer';
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  /**
   * The runtime's body as it comes. It ends when the answer is complete (a cut SSE stream ends with an
   * error event); it is destroyed with an error when a JSON body is cut, which the client must see as a
   * failed connection. The request is settled when it ends either way.
   */
  readonly body: Readable;
  /**
   * The gateway asked the runtime for a usage chunk the client did not ask for (`askStreamUsage`):
   * the caller drops it from the stream on the way back.
   */
  readonly usageAsked: boolean;
  /** Cuts the answer short with an error the client can read (gateway shutdown). */
  interrupt(message: string, code: string): void;
}

export interface DispatchError {
  readonly kind: 'error';
  readonly status: number;
  /** OpenAI's error shape: the gateway's own, or the runtime's passed on. */
  readonly body: { readonly error: object };
  readonly code: string | null;
  readonly headers: OutgoingHttpHeaders;
}

/** How a caller says it no longer wants the answer: an AbortSignal's shape, which an AbortSignal also has. */
export interface Cancellation {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface DispatchInput {
  readonly settlement: Settlement;
  readonly raw: Buffer;
  readonly contentType?: string;
  readonly accept?: string;
  readonly traceparent?: string;
  /**
   * A streamed chat or completion asks the runtime for its usage whether the client did or not
   * (policy/stream-usage.ts): set for clients' requests, whose usage chunk the caller then strips.
   */
  readonly askStreamUsage?: boolean;
  /** Aborted when the caller no longer wants the answer (the client went away). */
  readonly signal: Cancellation;
}

type Pick = { kind: 'picked'; endpoint: Endpoint } | { kind: 'none'; reason: string; waitedMs: number } | { kind: 'gone' };

/**
 * One request, whoever asked (a client over HTTP, or a batch line): check the body and the key's
 * access, admit it against the key's limits, route it (holding it while capacity starts), send it,
 * retry elsewhere while nothing was answered, and count the answer as it streams. Nothing here
 * writes HTTP: the caller gets a `DispatchOutcome` to relay, and the request is settled exactly once.
 */
@Injectable()
export class DispatchService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: WorkerRegistryService,
    private readonly routing: RoutingService,
    private readonly upstream: UpstreamRepository,
    private readonly usage: UsageService,
    private readonly logger: Logger,
  ) {}

  /** Tokenizers whose tables are loading, a slice per event-loop turn. */
  private readonly warming = new Set<TokenizerName>();

  /** Starts the accounting of a request; every way it ends goes through the returned settlement. */
  begin(
    requestId: string,
    route: InferenceRoute,
    key: VerifiedKey,
    startedAt: number,
    t0: number,
    opts: { endUser?: string; kind?: RequestKind; span?: RequestSpan } = {},
  ): Settlement {
    const record = this.usage.begin(requestId, route, key, startedAt, t0, opts.endUser, opts.kind ?? 'interactive');
    record.span = opts.span;
    return new Settlement(record, this.routing, this.usage);
  }

  /** OpenAI's `x-ratelimit-*` headers of the request's key, as they stand. */
  limitHeaders(settlement: Settlement): Record<string, string> {
    return this.usage.limitHeaders(settlement.record.key, settlement.record.kind);
  }

  async dispatch(input: DispatchInput): Promise<DispatchOutcome> {
    try {
      return await this.serve(input);
    } catch (err) {
      this.logger.error('request failed unexpectedly', { requestId: input.settlement.record.requestId, err });
      return this.fail(input.settlement, 500, 'internal error in the gateway', 'internal_error');
    }
  }

  private async serve(input: DispatchInput): Promise<DispatchOutcome> {
    const { settlement } = input;
    let { raw } = input;
    const record = settlement.record;
    const route = record.route;
    const parsed = parseInferenceRequest(route, raw, input.contentType, { gatewayPriority: record.kind === 'batch' });
    if (!parsed.ok) {
      if (parsed.error.model) record.model = parsed.error.model;
      return this.fail(settlement, 400, parsed.error.message, parsed.error.code, parsed.error.param);
    }
    let request = parsed.value;
    let usageAsked = false;
    if (input.askStreamUsage && request.stream && !request.includeUsage) {
      const asked = askForStreamUsage(route, request.body, raw);
      if (asked.strip) {
        usageAsked = true;
        raw = asked.raw;
        // A body the gateway serialises again (a renamed model, a priority) carries the option too.
        const options = request.body.stream_options as Record<string, unknown> | undefined;
        request = { ...request, body: { ...request.body, stream_options: { ...options, include_usage: true } } };
      }
    }
    record.model = request.model;
    record.stream = request.stream;
    record.promptChars = request.promptChars;
    record.span?.requested(route, request);

    if (!record.key.allowsModel(request.model)) {
      return this.fail(settlement, 403, `this API key may not use model "${request.model}"`, 'model_not_allowed', 'model');
    }
    const known = this.registry.knownModel(request.model);
    if (!known) {
      return this.fail(settlement, 404, `the model "${request.model}" does not exist or no worker serves it`, 'model_not_found', 'model');
    }
    // a catalogue model no worker has described yet has no capabilities to check
    if (known.capabilities.size > 0 && !known.capabilities.has(route.capability)) {
      return this.fail(
        settlement,
        400,
        `model "${request.model}" does not offer ${route.capability} (it offers ${[...known.capabilities].join(', ')})`,
        'unsupported_model_capability',
        'model',
      );
    }
    // Batch work has its own per-key ceiling (pending tokens at creation), not the interactive ones.
    const refused = record.kind === 'batch' ? undefined : await this.usage.admit(record);
    settlement.rateLimitHeaders = this.usage.limitHeaders(record.key, record.kind);
    if (refused) {
      return this.fail(settlement, 429, describeLimit(refused), `${refused.limit}_exceeded`, null, {
        'retry-after': String(refused.retryAfterSeconds),
      });
    }
    // Chat with images to an OCR model goes to OCR runtimes (they read the images), whatever else serves the name.
    const routed =
      request.imageParts > 0 && route.capability === 'chat' && known.capabilities.has('ocr')
        ? { ...route, capability: 'ocr' as const }
        : route;
    return this.forward(routed, raw === input.raw ? input : { ...input, raw }, request, usageAsked);
  }

  private async forward(
    route: InferenceRoute,
    input: DispatchInput,
    request: InferenceRequest,
    usageAsked: boolean,
  ): Promise<DispatchOutcome> {
    const { settlement, signal } = input;
    const record = settlement.record;
    const exclude = new Set<string>();
    const holdUntil = record.t0 + this.config.GATEWAY_HOLD_TIMEOUT;
    const attempts = this.config.GATEWAY_UPSTREAM_ATTEMPTS;
    const query: RouteQuery = {
      model: request.model,
      capability: route.capability,
      prefix: request.prefix,
      sessionKey: record.key.keyId,
      kind: record.kind,
    };
    let lastError: UpstreamError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // A worker free now (the usual case) is taken at once; holding is for when none is.
      const first = signal.aborted ? undefined : this.routing.route(query, exclude);
      const pick: Pick =
        first?.outcome === 'picked'
          ? { kind: 'picked', endpoint: first.endpoint }
          : await this.pick(query, request, exclude, holdUntil, signal, first);
      if (pick.kind === 'gone') return this.gone(settlement);
      if (pick.kind === 'none') {
        const failed = lastError ? `; ${exclude.size || 1} failed for this request (last: ${lastError.message})` : '';
        const waited = pick.waitedMs >= 1 ? `; waited ${(pick.waitedMs / 1000).toFixed(1)} s for capacity` : '';
        const eta = startEta(this.registry.catalogueEntry(request.model), pick.waitedMs);
        return this.fail(settlement, 503, `${pick.reason}${failed}${waited}${eta.message}`, 'no_capacity', null, {
          'retry-after': String(eta.retryAfterSeconds),
        });
      }
      const endpoint = pick.endpoint;
      this.logger.debug('routed', { requestId: record.requestId, workerId: endpoint.id, attempt });
      // The fields this runtime kind takes (policy/request-fields.ts); `priority` of a batch request is the gateway's, set in send.
      const runtime = this.registry.worker(endpoint.id)?.registration.runtime.kind ?? 'openai-compatible';
      const fields = request.formFields ? Object.fromEntries(request.formFields.map((f) => [f, true])) : request.body;
      const foreign = unknownField(route.endpoint, fields, runtime, record.kind === 'batch' ? ['priority'] : []);
      if (foreign) {
        const message = `${foreign} is not supported by the ${runtime} runtime serving "${request.model}"`;
        return this.fail(settlement, 400, message, 'unsupported_parameter', foreign);
      }
      const call = this.send(route, input, request, endpoint, runtime);
      const abort = () => call.abort();
      signal.addEventListener('abort', abort, { once: true });
      let response: IncomingMessage;
      try {
        response = await call.response;
      } catch (err) {
        signal.removeEventListener('abort', abort);
        settlement.leaveWorker();
        if (signal.aborted) return this.gone(settlement);
        const e = err as UpstreamError;
        if (!e.retryable) {
          return this.fail(settlement, 504, `worker ${endpoint.id} did not answer: ${e.message}`, 'upstream_timeout');
        }
        lastError = e;
        if (!e.staleSocket) {
          this.routing.markFailed(endpoint.id);
          exclude.add(endpoint.id);
        }
        retries.inc({ reason: e.code });
        this.logger.warn('worker unreachable; retrying elsewhere', {
          requestId: record.requestId,
          workerId: endpoint.id,
          error: e.message,
          attempt,
        });
        continue;
      }
      signal.removeEventListener('abort', abort);
      const status = response.statusCode ?? 502;
      if ((status === 502 || status === 503) && attempt < attempts) {
        // The runtime refused before doing any work (still loading, overloaded, crashed): another worker may take it.
        response.resume();
        settlement.leaveWorker();
        this.routing.markFailed(endpoint.id);
        exclude.add(endpoint.id);
        retries.inc({ reason: `status_${status}` });
        this.logger.warn('worker refused the request; retrying elsewhere', {
          requestId: record.requestId,
          workerId: endpoint.id,
          status,
          attempt,
        });
        continue;
      }
      this.routing.succeeded(endpoint.id);
      if (status >= 400) return this.upstreamError(settlement, response, status);
      return this.answer(settlement, response, call, endpoint.id, signal, request, usageAsked);
    }
    return this.fail(
      settlement,
      502,
      `no worker for "${request.model}" could be reached after ${attempts} attempts (last: ${lastError?.message ?? 'refused'})`,
      'upstream_unreachable',
    );
  }

  /**
   * Routes, holding the request while the model has no ready worker but may soon (starting, in the
   * catalogue, or served recently); a held request counts as pending demand for its model meanwhile.
   */
  private async pick(
    query: RouteQuery,
    request: InferenceRequest,
    exclude: ReadonlySet<string>,
    holdUntil: number,
    signal: Cancellation,
    first: RoutingDecision | undefined,
  ): Promise<Pick> {
    let release: (() => void) | undefined;
    try {
      return await this.hold(query, request, exclude, holdUntil, signal, first, () => (release ??= this.registry.hold(request.model)));
    } finally {
      release?.();
    }
  }

  /** `first`: the decision already taken for this attempt (routing it again would count it twice). */
  private async hold(
    query: RouteQuery,
    request: InferenceRequest,
    exclude: ReadonlySet<string>,
    holdUntil: number,
    signal: Cancellation,
    first: RoutingDecision | undefined,
    pending: () => void,
  ): Promise<Pick> {
    const heldSince = this.clock.monotonic();
    let taken = !signal.aborted;
    for (;;) {
      if (signal.aborted) return { kind: 'gone' };
      const decision = taken ? first : this.routing.route(query, exclude);
      taken = false;
      if (decision?.outcome === 'picked') {
        if (this.clock.monotonic() - heldSince > 1) held.inc({ outcome: 'served' });
        return { kind: 'picked', endpoint: decision.endpoint };
      }
      const reason = decision?.reason ?? `every worker for "${request.model}" failed for this request`;
      const now = this.clock.monotonic();
      if (now >= holdUntil || !this.registry.knownModel(request.model)) {
        if (now - heldSince > 1) held.inc({ outcome: 'timed_out' });
        return { kind: 'none', reason, waitedMs: now - heldSince };
      }
      pending();
      // Wake on a worker becoming ready, and at least every second (failure marks expire, states change).
      const wait = this.registry.waitForCapacity(request.model, Math.min(1000, holdUntil - now));
      signal.addEventListener('abort', wait.cancel, { once: true });
      await wait.done;
      signal.removeEventListener('abort', wait.cancel);
      if (signal.aborted) {
        held.inc({ outcome: 'client_gone' });
        return { kind: 'gone' };
      }
    }
  }

  private send(
    route: InferenceRoute,
    input: DispatchInput,
    request: InferenceRequest,
    endpoint: Endpoint,
    runtime: RuntimeKind,
  ): UpstreamCall {
    const { settlement, raw } = input;
    const record = settlement.record;
    const upstreamId = this.registry.worker(endpoint.id)?.models.get(request.model)?.upstreamId;
    const renamed = upstreamId && upstreamId !== request.model ? upstreamId : undefined;
    // vLLM's `priority` is the gateway's: batch work at GATEWAY_BATCH_PRIORITY where the runtime schedules by it, else none.
    const priority = request.form ? null : upstreamPriority(runtime, record.kind, this.config.GATEWAY_BATCH_PRIORITY);
    const reprioritised = !request.form && (request.body.priority ?? null) !== priority;
    const body =
      !renamed && !reprioritised
        ? raw
        : request.form
          ? withFormModel(raw, request.form, renamed!)
          : Buffer.from(JSON.stringify({ ...request.body, model: renamed ?? request.model, priority: priority ?? undefined }));
    const headers: Record<string, string> = {
      // A multipart body goes on as it came, boundary included.
      'content-type': request.form ? String(input.contentType) : 'application/json',
      accept: request.stream ? 'text/event-stream' : route.media ? (input.accept ?? '*/*') : 'application/json',
      'x-request-id': record.requestId,
    };
    // the worker's runtime demands its own key (maas worker --launch); the client's key never goes upstream
    if (this.config.MAAS_WORKER_KEY_SECRET)
      headers.authorization = `Bearer ${runtimeKeyFor(this.config.MAAS_WORKER_KEY_SECRET, endpoint.id)}`;
    // The client's trace, when tracing here is off; with it on, the http instrumentation puts this request's span instead.
    if (input.traceparent !== undefined) headers.traceparent = input.traceparent;
    record.span?.sentAs(renamed ?? request.model);
    settlement.enterWorker(endpoint.id);
    const elapsed = this.clock.monotonic() - record.t0;
    overhead.observe(elapsed / 1000);
    record.queueMs = elapsed;
    const remaining = Math.max(1, this.totalTimeout(route) - elapsed);
    return this.upstream.send({
      baseUrl: endpoint.url,
      path: route.path,
      body,
      headers,
      connectTimeoutMs: this.config.GATEWAY_CONNECT_TIMEOUT,
      firstByteTimeoutMs: request.stream ? Math.min(this.config.GATEWAY_FIRST_BYTE_TIMEOUT, remaining) : remaining,
    });
  }

  /** The runtime's answer as a stream the caller relays, counted on the way; settled when it ends, is cut, or the caller goes. */
  private answer(
    settlement: Settlement,
    up: IncomingMessage,
    call: UpstreamCall,
    workerId: string,
    signal: Cancellation,
    request: InferenceRequest,
    usageAsked: boolean,
  ): DispatchOutcome {
    const record = settlement.record;
    if (!record.route.media) this.warmTokenizer(request.model);
    const status = up.statusCode ?? 502;
    const contentType = up.headers['content-type'] ?? 'application/json';
    const sse = contentType.includes('text/event-stream');
    const headers: OutgoingHttpHeaders = { 'content-type': contentType };
    const audioSeconds = up.headers['x-audio-duration-seconds'];
    if (typeof audioSeconds === 'string') {
      headers['x-audio-duration-seconds'] = audioSeconds;
      record.audioSeconds = Number(audioSeconds) >= 0 ? Number(audioSeconds) : undefined;
    }
    if (sse) {
      headers['cache-control'] = 'no-cache';
      headers['x-accel-buffering'] = 'no';
    } else if (up.headers['content-length']) {
      headers['content-length'] = up.headers['content-length'];
    }
    if (signal.aborted) {
      call.abort();
      return this.gone(settlement);
    }

    const tracker = sse ? new SseUsageTracker() : undefined;
    const chunks: Buffer[] = [];
    let ended = false;
    const body = new Readable({ read: () => up.resume() });
    const finish = (outcome: number, code: string | null) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onGone);
      this.count(record, tracker, chunks, contentType, request);
      settlement.settle(outcome, code);
    };
    const midStream = (message: string, code: string) => {
      if (ended) return;
      if (!signal.aborted) {
        if (sse) {
          body.push(`data: ${JSON.stringify(errorBody(502, message, code))}\n\n`);
          body.push(null);
        } else {
          body.destroy(new Error(message)); // a JSON body cut short cannot be repaired: the client sees the connection fail
        }
      }
      finish(502, code);
      call.abort();
      this.logger.warn('response cut short', { requestId: record.requestId, workerId, code, message });
    };
    const onGone = () => {
      call.abort(); // first: the runtime stops generating before the gateway counts what was sent
      finish(499, 'client_closed_request');
      body.destroy();
    };
    // One timer per response, for silence and the total limit: a chunk only notes its time (no timer
    // work per chunk); when the timer fires before the worker has been silent for the idle limit, it
    // is set again for the rest. The total limit is also checked on every chunk, so a silent response
    // overshoots it by at most the idle limit.
    const limit = this.totalTimeout(record.route);
    const deadline = record.t0 + limit;
    const idleLimit = this.config.GATEWAY_IDLE_TIMEOUT;
    const overTime = () => midStream(`the request exceeded the ${limit} ms limit`, 'request_timeout');
    let lastChunkAt = this.clock.monotonic();
    const wake = () => {
      const now = this.clock.monotonic();
      if (now >= deadline) return overTime();
      const quiet = now - lastChunkAt;
      if (quiet >= idleLimit) return midStream(`the worker sent nothing for ${idleLimit} ms`, 'upstream_idle_timeout');
      timer = setTimeout(wake, Math.max(1, Math.min(idleLimit - quiet, deadline - now)));
    };
    let timer = setTimeout(wake, Math.max(1, Math.min(idleLimit, deadline - lastChunkAt)));
    signal.addEventListener('abort', onGone, { once: true });

    up.on('data', (chunk: Buffer) => {
      if (ended) return;
      const now = this.clock.monotonic();
      if (now >= deadline) return overTime();
      lastChunkAt = now;
      if (tracker) {
        if (tracker.push(chunk) && record.ttftMs === null) record.ttftMs = now - record.t0;
      } else {
        chunks.push(chunk);
      }
      if (!body.push(chunk)) up.pause();
    });
    up.on('end', () => {
      if (ended) return;
      body.push(null);
      finish(status, tracker?.error ? 'runtime_error_event' : null);
    });
    up.on('error', () => undefined); // 'close' below decides
    up.on('close', () => {
      if (!up.complete) midStream(`worker ${workerId} closed the connection before the response was complete`, 'upstream_disconnected');
    });
    return { kind: 'answer', status, headers, body, usageAsked: usageAsked && sse, interrupt: midStream };
  }

  /** Token counts: the runtime's usage when it gave one, else the gateway's own (the model's tokenizer, policy/prompt-tokens.ts). */
  private count(
    record: RequestRecord,
    tracker: SseUsageTracker | undefined,
    chunks: Buffer[],
    contentType: string,
    request: InferenceRequest,
  ): void {
    if (record.route.media) return this.countMedia(record, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), contentType);
    let usage = tracker?.usage;
    let completionChars = 0;
    let completionText: string | undefined;
    if (!tracker && chunks.length > 0) {
      const last = usageOfJsonBody(chunks[chunks.length - 1]);
      const found = last.usage ? last : usageOfJsonBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      usage = found.usage;
      completionChars = found.completionChars;
      completionText = found.completionText;
    }
    if (usage) {
      record.promptTokens = usage.promptTokens;
      record.completionTokens = usage.completionTokens;
      record.countedBy = 'runtime';
    } else {
      const tokenizer = tokenizerFor(this.config.GATEWAY_TOKENIZERS, request.model);
      record.promptTokens = promptTokens(record.route, request.body, tokenizer);
      // A stream's text chunks: one token each as runtimes send them; a whole answer: its text through the tokenizer.
      record.completionTokens = tracker
        ? tracker.textEvents
        : completionText !== undefined
          ? completionTextTokens(completionText, tokenizer)
          : estimateTokens(completionChars);
      record.countedBy = 'gateway';
    }
  }

  /**
   * Loads the model's tokenizer while answers stream (a slice per event-loop turn, from the first answer
   * on), so counting one without usage does not stall the event loop for the whole table.
   */
  private warmTokenizer(model: string): void {
    const name = tokenizerFor(this.config.GATEWAY_TOKENIZERS, model);
    if (this.warming.has(name) || tokenizerLoaded(name)) return;
    this.warming.add(name);
    const step = () => void (loadTokenizerSlice(name) ? this.warming.delete(name) : setImmediate(step));
    setImmediate(step);
  }

  /** OCR and transcription usage, by the rules documented in policy/token-usage.ts. */
  private countMedia(record: RequestRecord, body: Buffer, contentType: string): void {
    const usage = record.route.endpoint === 'ocr' ? ocrUsage(body) : transcriptionUsage(record.audioSeconds, body, contentType);
    record.promptTokens = usage?.promptTokens ?? 0;
    record.completionTokens = usage?.completionTokens ?? 0;
    record.countedBy = usage && (!('counted' in usage) || usage.counted) ? 'runtime' : 'gateway';
  }

  totalTimeout(route: InferenceRoute): number {
    if (route.endpoint === 'ocr') return this.config.GATEWAY_TOTAL_TIMEOUT_OCR;
    if (route.endpoint === 'audio.transcriptions') return this.config.GATEWAY_TOTAL_TIMEOUT_TRANSCRIPTION;
    return this.config.GATEWAY_TOTAL_TIMEOUT;
  }

  /** A runtime error answer: passed on when already OpenAI-shaped, wrapped into that shape when not. */
  private upstreamError(settlement: Settlement, up: IncomingMessage, status: number): Promise<DispatchOutcome> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: { error?: { message?: unknown; code?: unknown }; message?: unknown; detail?: unknown } | undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const code = typeof parsed?.error?.code === 'string' ? parsed.error.code : 'upstream_error';
        settlement.settle(status, code);
        if (parsed?.error && typeof parsed.error.message === 'string') {
          resolve({
            kind: 'error',
            status,
            code,
            headers: {},
            body: { ...parsed, error: { type: errorType(status), param: null, code: null, ...parsed.error } },
          });
        } else {
          const message =
            typeof parsed?.message === 'string'
              ? parsed.message
              : typeof parsed?.detail === 'string'
                ? parsed.detail
                : text.slice(0, 500) || `worker answered ${status}`;
          resolve({ kind: 'error', status, code: 'upstream_error', headers: {}, body: errorBody(status, message, 'upstream_error', null) });
        }
      };
      up.on('data', (c: Buffer) => {
        if (size < ERROR_BODY_LIMIT) chunks.push(c);
        size += c.length;
      });
      up.on('end', finish);
      up.on('error', () => undefined);
      up.on('close', finish);
    });
  }

  /** The gateway's own error answer; the request is settled with it. */
  fail(
    settlement: Settlement,
    status: number,
    message: string,
    code: string,
    param: string | null = null,
    headers: OutgoingHttpHeaders = {},
  ): DispatchError {
    settlement.settle(status, code);
    return { kind: 'error', status, code, headers, body: errorBody(status, message, code, param) };
  }

  /** The caller went away before an answer: settled as the client closing the request. */
  gone(settlement: Settlement): DispatchOutcome {
    settlement.settle(499, 'client_closed_request');
    return { kind: 'gone' };
  }
}
