import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Logger } from '@maas/logging';
import { runtimeKeyRefusal } from '@maas/openai-wire';
import { ApiError, isCancellation } from './api-error';
import { RuntimeMetrics } from './runtime-metrics';

export interface RouteContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly url: URL;
  /** Path parameters of a pattern route (`(?<id>…)`). */
  readonly params: Record<string, string>;
  /** The caller's `X-Request-Id` (so a gateway can follow a job) or a new one; echoed back. */
  readonly requestId: string;
  /** Fires when the client disconnects before the answer is complete, or the server gives up on it. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string | RegExp;
  /** Engine work (counted in /metrics and logged at info) rather than a probe. */
  readonly metered?: boolean;
  handle(ctx: RouteContext): Promise<void> | void;
}

export interface RuntimeServerOptions {
  readonly routes: readonly Route[];
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly logger: Logger;
  readonly metrics?: RuntimeMetrics;
  /** How long close() lets requests in flight finish before cancelling them. */
  readonly shutdownGraceMs?: number;
  /** vLLM's --api-key: every path but /health and /metrics then needs `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

export interface RuntimeServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets work in flight finish (up to the grace period), then cancels the rest. */
  close(): Promise<void>;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(
  res: http.ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
  headers: http.OutgoingHttpHeaders = {},
): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError(500, err instanceof Error ? err.message : String(err), 'server_error', null, 'engine_error');
}

function sendError(res: http.ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  // An oversized upload, or one without the key, may still be streaming in: answer, then close rather than drain it all.
  const close = error.status === 413 || error.status === 401 ? { connection: 'close' } : {};
  sendJson(res, error.status, error.toJSON(), { ...error.headers, ...close });
}

function match(route: Route, path: string): Record<string, string> | undefined {
  if (typeof route.path === 'string') return route.path === path ? {} : undefined;
  const m = route.path.exec(path);
  return m && m[0] === path ? { ...(m.groups ?? {}) } : undefined;
}

/** A small HTTP server for an engine runtime: routing, OpenAI-shaped errors, cancellation on disconnect, metrics. */
export async function startRuntimeServer(options: RuntimeServerOptions): Promise<RuntimeServer> {
  const { logger, metrics } = options;
  const inFlight = new Set<AbortController>();
  let closing = false;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://runtime');
    const method = req.method ?? 'GET';
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    const route = options.routes.find((r) => r.method === method && match(r, url.pathname) !== undefined);
    const log = logger.child({ request_id: requestId });
    const controller = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) controller.abort('client disconnected');
    };
    res.once('close', onClose);
    inFlight.add(controller);
    let status = 500;
    try {
      const refusal = options.apiKey ? runtimeKeyRefusal(url.pathname, req.headers.authorization, options.apiKey) : undefined;
      if (refusal) throw refusal;
      if (!route) {
        const allowed = [...new Set(options.routes.filter((r) => match(r, url.pathname) !== undefined).map((r) => r.method))];
        throw allowed.length > 0
          ? new ApiError(
              405,
              `${method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}`,
              'invalid_request_error',
              null,
              'method_not_allowed',
            )
          : new ApiError(404, `no route for ${method} ${url.pathname}`, 'invalid_request_error', null, 'not_found');
      }
      if (closing && route.metered) throw new ApiError(503, 'the runtime is shutting down', 'server_error', null, 'shutting_down');
      await route.handle({ req, res, url, params: match(route, url.pathname) ?? {}, requestId, signal: controller.signal, log });
      status = res.statusCode;
    } catch (err) {
      if (isCancellation(err) && controller.signal.aborted) {
        status = 499;
        log.info('request cancelled', { path: url.pathname, reason: String(controller.signal.reason) });
        if (!res.headersSent && !res.destroyed)
          sendError(res, new ApiError(503, `request cancelled: ${String(controller.signal.reason)}`, 'server_error', null, 'cancelled'));
      } else {
        const error = toApiError(err);
        status = error.status;
        if (status >= 500) log.error('request failed', { path: url.pathname, status, error: error.message });
        sendError(res, error);
      }
    } finally {
      res.off('close', onClose);
      inFlight.delete(controller);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (route?.metered) {
        metrics?.observeRequest(url.pathname, status, seconds);
        log.info('request', { method, path: url.pathname, status, ms: Math.round(seconds * 1000) });
      }
    }
  };

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  // Long recordings upload slowly and decode for minutes; Node's 5-minute default would cut them off.
  server.requestTimeout = 30 * 60 * 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    close: async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + (options.shutdownGraceMs ?? 10_000);
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const controller of inFlight) controller.abort('runtime stopping');
      await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await stopped;
    },
  };
}
