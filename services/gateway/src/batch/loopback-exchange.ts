import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { HttpExchange } from '../services/http-exchange';

/** What the data plane answered to an in-process request; `statusCode` null when the answer was cut. */
export interface LoopbackAnswer {
  readonly statusCode: number | null;
  readonly body: Buffer;
}

/** Collects a response in memory; enough of ServerResponse for the data plane's relay. */
class BufferedResponse extends Writable {
  statusCode = 200;
  headersSent = false;
  readonly chunks: Buffer[] = [];

  writeHead(status: number, _headers?: OutgoingHttpHeaders): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    cb();
  }
}

/**
 * A request that never touches a socket, so batch work takes the very same path through
 * InferenceService (routing, retries, relay, usage) as a client's request.
 */
export function loopbackExchange(requestId: string, body: Buffer, startedAt: number, t0: number): { exchange: HttpExchange; answer: Promise<LoopbackAnswer> } {
  const req = Readable.from([body], { objectMode: false }) as unknown as IncomingMessage;
  Object.assign(req, { headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, socket: { remoteAddress: undefined }, method: 'POST' });
  const res = new BufferedResponse();
  const answer = new Promise<LoopbackAnswer>((resolve) => {
    res.once('close', () => resolve({ statusCode: res.writableFinished ? res.statusCode : null, body: Buffer.concat(res.chunks) }));
  });
  return { exchange: new HttpExchange(req, res as unknown as ServerResponse, requestId, startedAt, t0), answer };
}
