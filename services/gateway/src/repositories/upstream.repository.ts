import * as http from 'node:http';
import * as https from 'node:https';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';

/** Why a request to a runtime produced no response; `retryable` when no byte of the response came. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: 'connect_failed' | 'connect_timeout' | 'first_byte_timeout' | 'reset' | 'aborted',
    /** The runtime may not have seen the request: another worker can take it. */
    readonly retryable: boolean,
    /** Failed on a kept-alive socket the runtime had closed: not the worker's fault. */
    readonly staleSocket = false,
  ) {
    super(message);
  }
}

export interface UpstreamCall {
  /** Resolves with the response head (body still streaming), rejects with UpstreamError. */
  readonly response: Promise<http.IncomingMessage>;
  /** Stops the request at any point (client gone, timeout); the socket is not reused. */
  abort(): void;
}

export interface UpstreamTarget {
  /** Worker base URL, without /v1. */
  readonly baseUrl: string;
  /** Path below the base, e.g. /v1/chat/completions. */
  readonly path: string;
  readonly body: Buffer;
  readonly headers: Record<string, string>;
  readonly connectTimeoutMs: number;
  /** Until response headers arrive. */
  readonly firstByteTimeoutMs: number;
}

interface ParsedBase {
  readonly module: typeof http | typeof https;
  readonly agent: http.Agent;
  readonly hostname: string;
  readonly port: number;
  readonly prefix: string;
  /** The Host header's value (the request's headers go as a raw list, which node:http leaves as given). */
  readonly host: string;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * One call: one promise, however many sends it takes (a kept-alive socket the runtime had closed is
 * tried once more on a new connection), and no closure per event beyond the request's own listeners.
 */
class Call implements UpstreamCall {
  readonly response: Promise<http.IncomingMessage>;
  private resolve!: (res: http.IncomingMessage) => void;
  private reject!: (err: UpstreamError) => void;
  private settled = false;
  private aborted = false;
  private req!: http.ClientRequest;
  private connectTimer: NodeJS.Timeout | undefined;
  private firstByteTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly base: ParsedBase,
    private readonly target: UpstreamTarget,
  ) {
    this.response = new Promise<http.IncomingMessage>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.response.catch(() => undefined);
    this.firstByteTimer = setTimeout(
      () => this.fail(new UpstreamError(`no response within ${target.firstByteTimeoutMs} ms`, 'first_byte_timeout', false)),
      target.firstByteTimeoutMs,
    );
    this.send(false);
  }

  /** Stops the request at any point (client gone, timeout); the socket is not reused. */
  abort(): void {
    this.aborted = true;
    if (!this.settled) this.fail(new UpstreamError('request aborted', 'aborted', false));
    else this.req.destroy();
  }

  private send(freshConnection: boolean): void {
    const { base, target } = this;
    const headers: string[] = ['host', base.host];
    for (const name in target.headers) headers.push(name, target.headers[name]);
    headers.push('content-length', String(target.body.length));
    const req = base.module.request({
      agent: freshConnection ? false : base.agent,
      hostname: base.hostname,
      port: base.port,
      path: base.prefix + target.path,
      method: 'POST',
      headers,
    });
    this.req = req;
    req.on('socket', (socket) => {
      if (!socket.connecting || req !== this.req) return;
      this.connectTimer = setTimeout(
        () => this.fail(new UpstreamError(`no connection within ${target.connectTimeoutMs} ms`, 'connect_timeout', true)),
        target.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(this.connectTimer));
    });
    req.on('response', (res) => {
      if (this.settled || req !== this.req) {
        res.destroy();
        return;
      }
      this.settled = true;
      clearTimeout(this.connectTimer);
      clearTimeout(this.firstByteTimer);
      this.resolve(res);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req !== this.req) return;
      const code = err.code ?? '';
      if (CONNECT_CODES.has(code)) return this.fail(new UpstreamError(`cannot connect: ${code}`, 'connect_failed', true));
      // A kept-alive socket the runtime had already closed (or that died with it) is not the worker's
      // verdict: tried once more at once on a new connection, which answers or fails as the worker really is.
      const stale = req.reusedSocket && code === 'ECONNRESET';
      if (stale && !freshConnection && !this.aborted && !this.settled) {
        clearTimeout(this.connectTimer);
        req.destroy();
        return this.send(true);
      }
      this.fail(new UpstreamError(`connection lost before the response: ${code || err.message}`, 'reset', true, stale));
    });
    req.end(target.body);
  }

  private fail(err: UpstreamError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.firstByteTimer);
    this.req.destroy();
    this.reject(err);
  }
}

/**
 * HTTP to model runtimes over kept-alive connections (one pool per process). Only the request
 * head and body go out here; the response body is handed back as a stream for the caller to pipe.
 */
@Injectable()
export class UpstreamRepository implements OnApplicationShutdown {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, scheduling: 'lifo' });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, scheduling: 'lifo' });
  private readonly bases = new Map<string, ParsedBase>();

  private base(baseUrl: string): ParsedBase {
    let b = this.bases.get(baseUrl);
    if (!b) {
      const u = new URL(baseUrl);
      const secure = u.protocol === 'https:';
      b = {
        module: secure ? https : http,
        agent: secure ? this.httpsAgent : this.httpAgent,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port) || (secure ? 443 : 80),
        prefix: u.pathname.replace(/\/$/, ''),
        host: u.host,
      };
      if (this.bases.size > 10_000) this.bases.clear();
      this.bases.set(baseUrl, b);
    }
    return b;
  }

  /**
   * Sends once; a kept-alive socket the runtime had already closed (or that died with it) is not the
   * worker's verdict, so that one failure is tried again at once on a new connection — which either
   * answers or fails as the worker really is (refused when it is gone, so the caller moves on).
   */
  send(target: UpstreamTarget): UpstreamCall {
    return new Call(this.base(target.baseUrl), target);
  }

  onApplicationShutdown(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
