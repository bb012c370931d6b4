import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errorBody } from '@maas/platform';
import type { Cancellation } from './dispatch.service';
import { RequestSpan } from './request-span';

/**
 * The client going away, as dispatch listens for it: the AbortSignal shape without an AbortController
 * and its EventTarget per request (the hot path's largest allocation after the sockets'). Listeners run
 * once, in the order added; one added after the abort never runs, as with an AbortSignal.
 */
export class ClientGone implements Cancellation {
  aborted = false;
  private listeners: (() => void)[] = [];

  /** Every listener runs once at most, so `once` changes nothing. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.aborted) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i !== -1) this.listeners.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({});

/** One /v1 request and its response, with the client's disconnect turned into a callback. */
export class HttpExchange {
  /** Set when the client went away before the response was complete. */
  clientGone = false;
  private onGone?: () => void;
  /** Cuts the request short with an error the client can read (set while a response is being relayed). */
  interrupt?: (message: string, code: string) => void;
  /** The client's address (the peer, or `X-Forwarded-For` behind a trusted proxy); set by the controller. */
  clientAddress: string | undefined;
  /** The client's own `X-Request-Id`, kept for tracing only (usage is keyed on `requestId`, the gateway's). */
  clientRequestId: string | undefined;
  private limits: OutgoingHttpHeaders | undefined;
  private limitSource: (() => OutgoingHttpHeaders) | undefined;

  /** OpenAI's `x-ratelimit-*` headers of the calling key, sent with every response (set once the key is known). */
  get rateLimitHeaders(): OutgoingHttpHeaders {
    if (this.limits === undefined) this.limits = this.limitSource ? this.limitSource() : NO_HEADERS;
    return this.limits;
  }

  set rateLimitHeaders(headers: OutgoingHttpHeaders) {
    this.limits = headers;
  }

  /**
   * The key's headers as they stand when a response needs them, if none are set before: a request
   * that is admitted gets those of its admission instead, so most never compute these.
   */
  rateLimitHeadersFrom(source: () => OutgoingHttpHeaders): void {
    this.limits = undefined;
    this.limitSource = source;
  }

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    /** Epoch ms at arrival. */
    readonly startedAt: number,
    /** Monotonic ms at arrival. */
    readonly t0: number,
  ) {
    this.clientAddress = req.socket.remoteAddress;
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.onGone?.();
    });
  }

  /** Runs `fn` when the client disconnects (now, if it already has); replaces the previous callback. */
  whenGone(fn: () => void): void {
    this.onGone = fn;
    if (this.clientGone) fn();
  }

  sendJson(status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    if (this.res.headersSent || this.clientGone) return;
    const text = JSON.stringify(body);
    this.res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': this.requestId,
      ...this.rateLimitHeaders,
      ...headers,
    });
    this.res.end(text);
  }

  /** OpenAI's error shape, which the SDKs turn into their error classes. */
  sendError(status: number, message: string, code: string | null, param: string | null = null, headers: OutgoingHttpHeaders = {}): void {
    RequestSpan.of(this.req)?.answeredError(code);
    this.sendJson(status, errorBody(status, message, code, param), headers);
  }
}

export class BodyError extends Error {
  constructor(
    readonly reason: 'too_large' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request body up to `maxBytes`; refuses at once when Content-Length already says it is larger. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      reject(new BodyError('too_large', `request body of ${declared} bytes is larger than the limit of ${maxBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.resume();
        reject(new BodyError('too_large', `request body is larger than the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('aborted', () => reject(new BodyError('aborted', 'client went away while sending the body')));
    req.once('error', () => reject(new BodyError('aborted', 'client went away while sending the body')));
  });
}

/**
 * Reads and drops the rest of a refused body (up to `maxBytes`, for at most `timeoutMs`), so a client
 * still uploading gets to read the error instead of a broken pipe; larger bodies are cut at once.
 */
export function discardBody(req: IncomingMessage, maxBytes: number, timeoutMs = 10_000): Promise<void> {
  if (req.complete || req.destroyed || Number(req.headers['content-length']) > maxBytes) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, timeoutMs);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}
