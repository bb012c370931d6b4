import * as http from 'node:http';
import { EngineEvent } from './engine-types';
import { ApiError } from './openai-requests';

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The HTTP error a failed engine request turns into. */
export function failureError(event: Extract<EngineEvent, { type: 'failed' }>): ApiError {
  switch (event.reason) {
    case 'too-long':
      return new ApiError(400, event.message, 'invalid_request_error', null, 'context_length_exceeded');
    case 'crashed':
      return new ApiError(503, event.message, 'server_error', null, 'engine_dead');
    default:
      return new ApiError(500, event.message, 'server_error', null, 'internal_error');
  }
}

/** The request body as JSON; a 400 in OpenAI's shape if it is not. */
export function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new ApiError(400, 'request body is not valid JSON', 'invalid_request_error', null, 'invalid_json'));
      }
    });
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  const error =
    err instanceof ApiError
      ? err
      : new ApiError(500, err instanceof Error ? err.message : String(err), 'server_error', null, 'internal_error');
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, error.status, error.toJSON(), error.headers);
}
