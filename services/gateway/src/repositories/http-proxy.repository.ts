import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable } from '@nestjs/common';

/** Hop-by-hop headers (RFC 9110 §7.6.1) end at each hop; the rest travel unchanged. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface ProxyTarget {
  /** `http://host:port` of the service behind the gateway. */
  readonly origin: string;
  /** Path and query to ask it for. */
  readonly path: string;
  /** Request headers to send (already filtered and completed by the caller). */
  readonly headers: http.OutgoingHttpHeaders;
}

/** Request headers of the client minus hop-by-hop ones (and those `Connection` names). */
export function forwardableHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const named = new Set(
    String(req.headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim()),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Raw response headers minus hop-by-hop ones, as a flat list: every Set-Cookie survives as sent. */
function returnedHeaders(raw: string[], keepUpgrade = false): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) && !(keepUpgrade && (name === 'upgrade' || name === 'connection'))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** Plain HTTP reverse proxying: bodies streamed both ways, nothing buffered, websockets by `upgrade`. */
@Injectable()
export class HttpProxyRepository {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  /** Streams `req` to the target and its answer back; `onError` runs when nothing could be relayed. */
  forward(req: http.IncomingMessage, res: http.ServerResponse, target: ProxyTarget, onError: (message: string) => void): void {
    const url = new URL(target.origin);
    const up = http.request({
      host: url.hostname,
      port: url.port || 80,
      method: req.method,
      path: target.path,
      headers: target.headers,
      agent: this.agent,
    });
    up.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, returnedHeaders(answer.rawHeaders));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    up.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else onError(`${target.origin} cannot be reached: ${err.message}`);
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }

  /** Relays a websocket (or any HTTP upgrade) handshake, then bytes both ways. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: ProxyTarget): void {
    const url = new URL(target.origin);
    const headers = { ...target.headers, connection: 'Upgrade', upgrade: req.headers.upgrade ?? 'websocket' };
    const up = http.request({ host: url.hostname, port: url.port || 80, method: req.method, path: target.path, headers });
    up.on('upgrade', (answer, upSocket, upHead) => {
      const lines = [`HTTP/1.1 ${answer.statusCode ?? 101} ${answer.statusMessage ?? 'Switching Protocols'}`];
      const raw = returnedHeaders(answer.rawHeaders, true);
      for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.pipe(socket).pipe(upSocket);
      upSocket.on('error', () => socket.destroy());
      socket.on('error', () => upSocket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.on('close', () => socket.destroy());
    });
    up.on('response', (answer) => {
      // Refused the upgrade: pass its plain answer on and close.
      const raw = returnedHeaders(answer.rawHeaders);
      const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}`];
      for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\nconnection: close\r\n\r\n`);
      answer.pipe(socket);
    });
    up.on('error', () => {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
    up.end();
  }
}
