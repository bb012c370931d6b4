import type { IncomingMessage, ServerResponse } from 'node:http';
import { Context, context, contextFromHttpHeaders, Span, SpanKind, SpanStatusCode, trace, tracer, tracingEnabled } from '@maas/telemetry';
import { AccountedRequest, accountedAttributes, httpRoute, requestAttributes } from '../policy/trace-attributes';
import type { InferenceRequest, InferenceRoute } from '../policy/openai-request';
import type { RequestRecord } from './usage.service';

const spans = new WeakMap<IncomingMessage, RequestSpan>();

/**
 * The server span of one /v1 request: HTTP attributes when it arrives, GenAI attributes as the
 * request is parsed and accounted. A request that is accounted (a usage event) ends its span when it
 * is accounted, with the same figures; any other ends it when the response closes. Exists only while
 * tracing is on: with it off, `serve` just serves and every other call finds no span.
 */
export class RequestSpan {
  private accounted = false;
  private servedModel?: string;
  private errorCode?: string;

  private constructor(
    private readonly span: Span,
    /** The trace context of this request, for work done on its behalf after it ends (its usage event). */
    readonly context: Context,
  ) {}

  /**
   * Runs `serve` inside the request's server span, child of the client's `traceparent` if any. The
   * parent comes from the headers, not the active context: the http instrumentation leaves /v1 to
   * this span and suppresses tracing around requests it leaves alone.
   */
  static serve(req: IncomingMessage, res: ServerResponse, serve: () => void): void {
    if (!tracingEnabled()) return serve();
    const parent = contextFromHttpHeaders(req.headers);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = httpRoute(path);
    const method = req.method ?? 'GET';
    const address = req.socket.localAddress;
    const span = tracer().startSpan(
      route ? `${method} ${route}` : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': path,
          'url.scheme': 'http',
          ...(route ? { 'http.route': route } : {}),
          'network.protocol.version': req.httpVersion,
          ...(address ? { 'server.address': address, 'server.port': req.socket.localPort ?? 0 } : {}),
          // The socket's peer: behind a proxy that is the proxy, not the client (X-Forwarded-For is the gateway's policy to trust).
          ...(req.socket.remoteAddress ? { 'network.peer.address': req.socket.remoteAddress } : {}),
          ...(typeof req.headers['user-agent'] === 'string' ? { 'user_agent.original': req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    const traced = new RequestSpan(span, trace.setSpan(parent, span));
    spans.set(req, traced);
    res.once('close', () => traced.closed(res));
    context.with(traced.context, serve);
  }

  /** The span of a request about to be accounted: from now on the accounting ends it. */
  static claim(req: IncomingMessage): RequestSpan | undefined {
    const traced = spans.get(req);
    if (traced) traced.accounted = true;
    return traced;
  }

  /** The span of a request, if traced: to note an error answer's code. */
  static of(req: IncomingMessage): RequestSpan | undefined {
    return spans.get(req);
  }

  /** The request's model and parameters, once its body is parsed. */
  requested(route: InferenceRoute, request: InferenceRequest): void {
    this.span.setAttributes(requestAttributes(route, request));
  }

  /** The model name the worker is asked for. */
  sentAs(model: string): void {
    this.servedModel = model;
  }

  /** The OpenAI error code the gateway answered with. */
  answeredError(code: string | null): void {
    if (code) this.errorCode = code;
  }

  /** Ends the span with the request's accounting (the figures of its usage event): usage, worker, TTFT/TPOT, outcome. */
  accountedAs(record: RequestRecord, status: number, errorCode: string | null, latencyMs: number): void {
    const r: AccountedRequest = {
      endpoint: record.route.endpoint,
      requestId: record.requestId,
      model: record.model,
      servedModel: this.servedModel,
      workerId: record.workerId,
      kind: record.kind,
      status,
      errorCode,
      promptTokens: record.promptTokens,
      completionTokens: record.completionTokens,
      countedBy: record.countedBy,
      ttftMs: record.ttftMs,
      latencyMs,
    };
    this.span.setAttributes(accountedAttributes(r));
    // Epoch ms: the moment the first token reached the gateway.
    if (r.ttftMs !== null)
      this.span.addEvent('gen_ai.first_token', { 'gen_ai.server.time_to_first_token': r.ttftMs / 1000 }, record.startedAt + r.ttftMs);
    if (status >= 400) this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode ?? `HTTP ${status}` });
    this.span.end();
  }

  private closed(res: ServerResponse): void {
    if (this.accounted) return;
    const finished = res.writableFinished;
    this.span.setAttribute('http.response.status_code', res.statusCode);
    const failed = !finished || res.statusCode >= 400;
    if (failed) {
      const code = this.errorCode ?? (finished ? String(res.statusCode) : 'client_closed_request');
      this.span.setAttribute('error.type', code);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
    this.span.end();
  }
}
