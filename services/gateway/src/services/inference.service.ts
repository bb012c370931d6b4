import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { Logger } from '@maas/logging';
import { formatBytes } from '@maas/media';
import { errorBody, errorType } from '@maas/platform';
import type { Endpoint } from '@maas/routing';
import { runtimeKeyFor } from '@maas/worker-agent';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import { describeLimit } from '../policy/key-limits';
import { InferenceRequest, InferenceRoute, parseInferenceRequest } from '../policy/openai-request';
import { withFormModel } from '../policy/media-request';
import { estimateTokens, ocrUsage, SseUsageTracker, transcriptionUsage, usageOfJsonBody } from '../policy/token-usage';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { UpstreamCall, UpstreamError, UpstreamRepository } from '../repositories/upstream.repository';
import { BodyError, discardBody, HttpExchange, readBody } from './http-exchange';
import { KeyAuthService } from './key-auth.service';
import { RequestSpan } from './request-span';
import { RoutingService } from './routing.service';
import { RequestRecord, UsageService } from './usage.service';
import { WorkerRegistryService } from './worker-registry.service';

const overhead = new Histogram({
  name: 'maas_gateway_dispatch_seconds',
  help: 'Gateway time from arrival to the upstream request (auth, body, routing), per attempt',
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1, 5, 30],
});
const retries = new Counter({ name: 'maas_gateway_upstream_retries_total', help: 'Requests sent to another worker after a failure before any response byte', labelNames: ['reason'] });
const held = new Counter({ name: 'maas_gateway_held_requests_total', help: 'Requests that waited for capacity, by outcome', labelNames: ['outcome'] });

type Pick = { kind: 'picked'; endpoint: Endpoint } | { kind: 'none'; reason: string; waitedMs: number } | { kind: 'gone' };

const ERROR_BODY_LIMIT = 64 * 1024;
/** An oversized body up to this size is read to its end before the 413, so the client sees the answer. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * The proxied OpenAI endpoints: authenticate, check the body, apply the key's limits, pick a worker
 * (holding the request while capacity starts), relay the runtime's answer byte for byte, and
 * account the request exactly once.
 */
@Injectable()
export class InferenceService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly keys: KeyAuthService,
    private readonly registry: WorkerRegistryService,
    private readonly routing: RoutingService,
    private readonly upstream: UpstreamRepository,
    private readonly usage: UsageService,
    private readonly logger: Logger,
  ) {}

  async handle(route: InferenceRoute, ex: HttpExchange): Promise<void> {
    const body = readBody(ex.req, this.maxBody(route));
    body.catch(() => undefined);
    const auth = await this.keys.authenticate(ex.req.headers.authorization, ex.clientAddress);
    if (!auth.ok) {
      ex.sendError(auth.status, auth.message, auth.code, null, auth.status === 503 ? { 'retry-after': '2' } : {});
      return;
    }
    const record = this.usage.begin(ex.requestId, route, auth.key, ex.startedAt, ex.t0, endUserOf(ex.req, auth.key.trusted));
    ex.rateLimitHeaders = this.usage.limitHeaders(auth.key);
    record.span = RequestSpan.claim(ex.req);
    try {
      await this.serve(route, ex, record, body);
    } catch (err) {
      this.logger.error('request failed unexpectedly', { requestId: ex.requestId, err });
      this.fail(ex, record, 500, 'internal error in the gateway', 'internal_error');
    } finally {
      // Whatever happened, the request is accounted once (complete() ignores repeats).
      if (!record.completed && (ex.res.writableEnded || ex.clientGone)) {
        this.usage.complete(record, ex.clientGone ? 499 : ex.res.statusCode, ex.clientGone ? 'client_closed_request' : null);
      }
    }
  }

  /**
   * One request of a batch, for the key that created it: the same body checks, routing, retries,
   * relay and usage event as interactive traffic, with `kind: 'batch'` and no interactive limits.
   */
  async handleBatch(route: InferenceRoute, ex: HttpExchange, key: VerifiedKey): Promise<void> {
    const body = readBody(ex.req, this.maxBody(route));
    body.catch(() => undefined);
    const record = this.usage.begin(ex.requestId, route, key, ex.startedAt, ex.t0, undefined, 'batch');
    try {
      await this.serve(route, ex, record, body);
    } catch (err) {
      this.logger.error('batch request failed unexpectedly', { requestId: ex.requestId, err });
      this.fail(ex, record, 500, 'internal error in the gateway', 'internal_error');
    } finally {
      if (!record.completed && (ex.res.writableEnded || ex.clientGone)) {
        this.usage.complete(record, ex.clientGone ? 499 : ex.res.statusCode, ex.clientGone ? 'client_closed_request' : null);
      }
    }
  }

  private async serve(route: InferenceRoute, ex: HttpExchange, record: RequestRecord, body: Promise<Buffer>): Promise<void> {
    let raw: Buffer;
    try {
      raw = await body;
    } catch (err) {
      if (err instanceof BodyError && err.reason === 'too_large') {
        await discardBody(ex.req, DISCARD_LIMIT);
        return this.fail(ex, record, 413, `${err.message} (${route.path} accepts at most ${formatBytes(this.maxBody(route))})`, 'request_too_large', null, { connection: 'close' });
      }
      return this.usage.complete(record, 499, 'client_closed_request');
    }
    const parsed = parseInferenceRequest(route, raw, ex.req.headers['content-type']);
    if (!parsed.ok) {
      if (parsed.error.model) record.model = parsed.error.model;
      return this.fail(ex, record, 400, parsed.error.message, parsed.error.code, parsed.error.param);
    }
    const request = parsed.value;
    record.model = request.model;
    record.stream = request.stream;
    record.promptChars = request.promptChars;
    record.span?.requested(route, request);

    if (!record.key.allowsModel(request.model)) {
      return this.fail(ex, record, 403, `this API key may not use model "${request.model}"`, 'model_not_allowed', 'model');
    }
    const known = this.registry.knownModel(request.model);
    if (!known) {
      return this.fail(ex, record, 404, `the model "${request.model}" does not exist or no worker serves it`, 'model_not_found', 'model');
    }
    if (!known.capabilities.has(route.capability)) {
      return this.fail(ex, record, 400, `model "${request.model}" does not offer ${route.capability} (it offers ${[...known.capabilities].join(', ')})`, 'unsupported_model_capability', 'model');
    }
    // Batch work has its own per-key ceiling (pending tokens at creation), not the interactive ones.
    const refused = record.kind === 'batch' ? undefined : await this.usage.admit(record);
    ex.rateLimitHeaders = this.usage.limitHeaders(record.key, record.kind);
    if (refused) {
      return this.fail(ex, record, 429, describeLimit(refused), `${refused.limit}_exceeded`, null, { 'retry-after': String(refused.retryAfterSeconds) });
    }
    // Chat with images to an OCR model goes to OCR runtimes (they read the images), whatever else serves the name.
    const routed = request.imageParts > 0 && route.capability === 'chat' && known.capabilities.has('ocr') ? { ...route, capability: 'ocr' as const } : route;
    await this.forward(routed, ex, record, request, raw);
  }

  private async forward(route: InferenceRoute, ex: HttpExchange, record: RequestRecord, request: InferenceRequest, raw: Buffer): Promise<void> {
    const exclude = new Set<string>();
    const holdUntil = ex.t0 + this.config.GATEWAY_HOLD_TIMEOUT;
    const attempts = this.config.GATEWAY_UPSTREAM_ATTEMPTS;
    let lastError: UpstreamError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const pick = await this.pick(route, ex, record, request, exclude, holdUntil);
      if (pick.kind === 'gone') return this.usage.complete(record, 499, 'client_closed_request');
      if (pick.kind === 'none') {
        const failed = lastError ? `; ${exclude.size || 1} failed for this request (last: ${lastError.message})` : '';
        const waited = pick.waitedMs >= 1 ? `; waited ${(pick.waitedMs / 1000).toFixed(1)} s for capacity` : '';
        return this.fail(ex, record, 503, `${pick.reason}${failed}${waited}`, 'no_capacity', null, { 'retry-after': '5' });
      }
      const endpoint = pick.endpoint;
      record.workerId = endpoint.id;
      this.logger.debug('routed', { requestId: ex.requestId, workerId: endpoint.id, attempt });
      const call = this.send(route, ex, record, request, raw, endpoint);
      ex.whenGone(() => call.abort());
      let response: IncomingMessage;
      try {
        response = await call.response;
      } catch (err) {
        this.routing.finished(endpoint.id, record.kind);
        if (ex.clientGone) return this.usage.complete(record, 499, 'client_closed_request');
        const e = err as UpstreamError;
        if (!e.retryable) {
          return this.fail(ex, record, 504, `worker ${endpoint.id} did not answer: ${e.message}`, 'upstream_timeout');
        }
        lastError = e;
        if (!e.staleSocket) {
          this.routing.markFailed(endpoint.id);
          exclude.add(endpoint.id);
        }
        retries.inc({ reason: e.code });
        this.logger.warn('worker unreachable; retrying elsewhere', { requestId: ex.requestId, workerId: endpoint.id, error: e.message, attempt });
        continue;
      }
      const status = response.statusCode ?? 502;
      if ((status === 502 || status === 503) && attempt < attempts) {
        // The runtime refused before doing any work (still loading, overloaded, crashed): another worker may take it.
        response.resume();
        this.routing.finished(endpoint.id, record.kind);
        this.routing.markFailed(endpoint.id);
        exclude.add(endpoint.id);
        retries.inc({ reason: `status_${status}` });
        this.logger.warn('worker refused the request; retrying elsewhere', { requestId: ex.requestId, workerId: endpoint.id, status, attempt });
        continue;
      }
      this.routing.succeeded(endpoint.id);
      return this.relay(ex, record, response, call, endpoint.id);
    }
    this.fail(ex, record, 502, `no worker for "${request.model}" could be reached after ${attempts} attempts (last: ${lastError?.message ?? 'refused'})`, 'upstream_unreachable');
  }

  /** Routes, holding the request while the model has no ready worker but may soon (starting, or served recently). */
  private async pick(route: InferenceRoute, ex: HttpExchange, record: RequestRecord, request: InferenceRequest, exclude: ReadonlySet<string>, holdUntil: number): Promise<Pick> {
    const query = { model: request.model, capability: route.capability, prefix: request.prefix, sessionKey: record.key.keyId, kind: record.kind };
    const heldSince = this.clock.monotonic();
    for (;;) {
      const decision = this.routing.route(query, exclude);
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
      // Wake on a worker becoming ready, and at least every second (failure marks expire, states change).
      const wait = this.registry.waitForCapacity(request.model, Math.min(1000, holdUntil - now));
      ex.whenGone(wait.cancel);
      await wait.done;
      if (ex.clientGone) {
        held.inc({ outcome: 'client_gone' });
        return { kind: 'gone' };
      }
    }
  }

  private send(route: InferenceRoute, ex: HttpExchange, record: RequestRecord, request: InferenceRequest, raw: Buffer, endpoint: Endpoint): UpstreamCall {
    const upstreamId = this.registry.worker(endpoint.id)?.models.get(request.model)?.upstreamId;
    const renamed = upstreamId && upstreamId !== request.model ? upstreamId : undefined;
    const body = !renamed ? raw : request.form ? withFormModel(raw, request.form, renamed) : Buffer.from(JSON.stringify({ ...request.body, model: renamed }));
    const headers: Record<string, string> = {
      // A multipart body goes on as it came, boundary included.
      'content-type': request.form ? String(ex.req.headers['content-type']) : 'application/json',
      accept: request.stream ? 'text/event-stream' : route.media ? String(ex.req.headers.accept ?? '*/*') : 'application/json',
      'x-request-id': ex.requestId,
    };
    // the worker's runtime demands its own key (maas worker --launch); the client's key never goes upstream
    if (this.config.MAAS_WORKER_KEY_SECRET) headers.authorization = `Bearer ${runtimeKeyFor(this.config.MAAS_WORKER_KEY_SECRET, endpoint.id)}`;
    // The client's trace, when tracing here is off; with it on, the http instrumentation puts this request's span instead.
    const traceparent = ex.req.headers.traceparent;
    if (typeof traceparent === 'string') headers.traceparent = traceparent;
    record.span?.sentAs(renamed ?? request.model);
    this.routing.started(endpoint.id, record.kind, ex.requestId);
    const elapsed = this.clock.monotonic() - ex.t0;
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

  /** Relays the runtime's response as it comes, reading usage on the side; ends with exactly one usage event. */
  private relay(ex: HttpExchange, record: RequestRecord, up: IncomingMessage, call: UpstreamCall, workerId: string): void {
    const status = up.statusCode ?? 502;
    const contentType = up.headers['content-type'] ?? 'application/json';
    if (status >= 400) return this.relayError(ex, record, up, status, workerId);

    const sse = contentType.includes('text/event-stream');
    const headers: OutgoingHttpHeaders = { ...ex.rateLimitHeaders, 'content-type': contentType, 'x-request-id': ex.requestId };
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
    if (ex.clientGone) {
      call.abort();
      this.routing.finished(workerId, record.kind);
      return this.usage.complete(record, 499, 'client_closed_request');
    }
    ex.res.writeHead(status, headers);

    const tracker = sse ? new SseUsageTracker() : undefined;
    const chunks: Buffer[] = [];
    let ended = false;
    const finish = (outcome: number, code: string | null) => {
      if (ended) return;
      ended = true;
      clearTimeout(idleTimer);
      ex.interrupt = undefined;
      this.routing.finished(workerId, record.kind);
      this.count(record, tracker, chunks, contentType);
      this.usage.complete(record, outcome, code);
    };
    const midStream = (message: string, code: string) => {
      if (ended) return;
      if (!ex.res.writableEnded && !ex.clientGone) {
        if (sse) ex.res.end(`data: ${JSON.stringify(errorBody(502, message, code))}\n\n`);
        else ex.res.destroy(); // a JSON body cut short cannot be repaired: the client sees the connection fail
      }
      finish(502, code);
      call.abort();
      this.logger.warn('response cut short', { requestId: ex.requestId, workerId, code, message });
    };
    // One timer per response: silence fires it; the total limit is checked on every chunk (and
    // when the silence timer fires), so a silent response overshoots the total by at most the idle limit.
    const deadline = ex.t0 + this.totalTimeout(record.route);
    const overTime = () => midStream(`the request exceeded the ${this.totalTimeout(record.route)} ms limit`, 'request_timeout');
    const idleTimer = setTimeout(() => {
      if (this.clock.monotonic() >= deadline) overTime();
      else midStream(`the worker sent nothing for ${this.config.GATEWAY_IDLE_TIMEOUT} ms`, 'upstream_idle_timeout');
    }, Math.min(this.config.GATEWAY_IDLE_TIMEOUT, Math.max(1, deadline - this.clock.monotonic())));
    ex.interrupt = midStream;
    ex.whenGone(() => {
      finish(499, 'client_closed_request');
      call.abort();
    });

    up.on('data', (chunk: Buffer) => {
      if (ended) return;
      if (this.clock.monotonic() >= deadline) return overTime();
      idleTimer.refresh();
      if (tracker) {
        if (tracker.push(chunk) && record.ttftMs === null) record.ttftMs = this.clock.monotonic() - ex.t0;
      } else {
        chunks.push(chunk);
      }
      if (!ex.res.write(chunk)) {
        up.pause();
        ex.res.once('drain', () => up.resume());
      }
    });
    up.on('end', () => {
      if (ended) return;
      ex.res.end();
      finish(status, tracker?.error ? 'runtime_error_event' : null);
    });
    up.on('error', () => undefined); // 'close' below decides
    up.on('close', () => {
      if (!up.complete) midStream(`worker ${workerId} closed the connection before the response was complete`, 'upstream_disconnected');
    });
  }

  /** Token counts: the runtime's usage when it gave one, else the gateway's estimate. */
  private count(record: RequestRecord, tracker: SseUsageTracker | undefined, chunks: Buffer[], contentType: string): void {
    if (record.route.media) return this.countMedia(record, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), contentType);
    let usage = tracker?.usage;
    let completionChars = 0;
    if (!tracker && chunks.length > 0) {
      const last = usageOfJsonBody(chunks[chunks.length - 1]);
      const found = last.usage ? last : usageOfJsonBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      usage = found.usage;
      completionChars = found.completionChars;
    }
    if (usage) {
      record.promptTokens = usage.promptTokens;
      record.completionTokens = usage.completionTokens;
      record.countedBy = 'runtime';
    } else {
      record.promptTokens = estimateTokens(record.promptChars);
      record.completionTokens = tracker ? tracker.textEvents : estimateTokens(completionChars);
      record.countedBy = 'gateway';
    }
  }

  /** OCR and transcription usage, by the rules documented in policy/token-usage.ts. */
  private countMedia(record: RequestRecord, body: Buffer, contentType: string): void {
    const usage = record.route.endpoint === 'ocr' ? ocrUsage(body) : transcriptionUsage(record.audioSeconds, body, contentType);
    record.promptTokens = usage?.promptTokens ?? 0;
    record.completionTokens = usage?.completionTokens ?? 0;
    record.countedBy = usage && (!('counted' in usage) || usage.counted) ? 'runtime' : 'gateway';
  }

  private maxBody(route: InferenceRoute): number {
    if (route.endpoint === 'ocr') return this.config.GATEWAY_MAX_BODY_OCR;
    if (route.endpoint === 'audio.transcriptions') return this.config.GATEWAY_MAX_BODY_TRANSCRIPTION;
    return this.config.GATEWAY_MAX_BODY_BYTES;
  }

  private totalTimeout(route: InferenceRoute): number {
    if (route.endpoint === 'ocr') return this.config.GATEWAY_TOTAL_TIMEOUT_OCR;
    if (route.endpoint === 'audio.transcriptions') return this.config.GATEWAY_TOTAL_TIMEOUT_TRANSCRIPTION;
    return this.config.GATEWAY_TOTAL_TIMEOUT;
  }

  /** A runtime error answer: passed on when already OpenAI-shaped, wrapped into that shape when not. */
  private relayError(ex: HttpExchange, record: RequestRecord, up: IncomingMessage, status: number, workerId: string): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.routing.finished(workerId, record.kind);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: { error?: { message?: unknown; code?: unknown }; message?: unknown; detail?: unknown } | undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const code = typeof parsed?.error?.code === 'string' ? parsed.error.code : 'upstream_error';
      if (parsed?.error && typeof parsed.error.message === 'string') {
        ex.sendJson(status, { ...parsed, error: { type: errorType(status), param: null, code: null, ...parsed.error } });
      } else {
        const message = typeof parsed?.message === 'string' ? parsed.message : typeof parsed?.detail === 'string' ? parsed.detail : text.slice(0, 500) || `worker answered ${status}`;
        ex.sendError(status, message, 'upstream_error');
      }
      this.usage.complete(record, status, code);
    };
    up.on('data', (c: Buffer) => {
      if (size < ERROR_BODY_LIMIT) chunks.push(c);
      size += c.length;
    });
    up.on('end', finish);
    up.on('error', () => undefined);
    up.on('close', finish);
  }

  private fail(ex: HttpExchange, record: RequestRecord, status: number, message: string, code: string, param: string | null = null, headers: OutgoingHttpHeaders = {}): void {
    ex.sendError(status, message, code, param, headers);
    this.usage.complete(record, status, code);
  }
}

/** The end user a trusted key (Open WebUI's) acts for, from the headers it forwards. */
function endUserOf(req: IncomingMessage, trusted: boolean): string | undefined {
  if (!trusted) return undefined;
  const v = req.headers['x-openwebui-user-email'];
  // Lower-cased: the same person must not be billed under two spellings of one address.
  return typeof v === 'string' && v.length > 0 && v.length <= 320 ? v.trim().toLowerCase() : undefined;
}
