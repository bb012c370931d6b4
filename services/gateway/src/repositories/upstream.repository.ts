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
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

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
    let current = this.sendOnce(target, false);
    let aborted = false;
    const response = current.response.catch((err: unknown) => {
      if (aborted || !(err instanceof UpstreamError) || !err.staleSocket) throw err;
      current = this.sendOnce(target, true);
      return current.response;
    });
    response.catch(() => undefined);
    return {
      response,
      abort: () => {
        aborted = true;
        current.abort();
      },
    };
  }

  private sendOnce(target: UpstreamTarget, freshConnection: boolean): UpstreamCall {
    const base = this.base(target.baseUrl);
    let settled = false;
    let req!: http.ClientRequest;
    let abort = () => undefined as void;
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const firstByteTimer = setTimeout(
        () => fail(new UpstreamError(`no response within ${target.firstByteTimeoutMs} ms`, 'first_byte_timeout', false)),
        target.firstByteTimeoutMs,
      );
      const fail = (err: UpstreamError) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(firstByteTimer);
        req.destroy();
        reject(err);
      };
      abort = () => {
        if (!settled) fail(new UpstreamError('request aborted', 'aborted', false));
        else req.destroy();
      };
      req = base.module.request({
        agent: freshConnection ? false : base.agent,
        hostname: base.hostname,
        port: base.port,
        path: base.prefix + target.path,
        method: 'POST',
        headers: { ...target.headers, 'content-length': String(target.body.length) },
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () => fail(new UpstreamError(`no connection within ${target.connectTimeoutMs} ms`, 'connect_timeout', true)),
          target.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('response', (res) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(firstByteTimer);
        resolve(res);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        if (CONNECT_CODES.has(code)) fail(new UpstreamError(`cannot connect: ${code}`, 'connect_failed', true));
        else
          fail(
            new UpstreamError(
              `connection lost before the response: ${code || err.message}`,
              'reset',
              true,
              req.reusedSocket && code === 'ECONNRESET',
            ),
          );
      });
      req.end(target.body);
    });
    response.catch(() => undefined);
    return { response, abort: () => abort() };
  }

  onApplicationShutdown(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
