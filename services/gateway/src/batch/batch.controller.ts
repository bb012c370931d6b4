import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import busboy from 'busboy';
import { BodyError, HttpExchange, readBody } from '../services/http-exchange';
import { KeyAuthService } from '../services/key-auth.service';
import { ApiError } from '@maas/openai-wire';
import { batchError, BatchService } from './batch.service';

const FILES = '/v1/files';
const BATCHES = '/v1/batches';
const ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Room for the form's boundaries, headers and `purpose` beyond the file itself. */
const MULTIPART_OVERHEAD = 64 * 1024;

interface UploadForm {
  file?: { name: string; data: Buffer };
  purpose?: string;
  /** OpenAI's `expires_after[anchor]` and `expires_after[seconds]`, as sent. */
  expiresAfter: { anchor?: string; seconds?: string };
  /** The file part went past the limit: the rest of it was read and dropped. */
  tooLarge: boolean;
}

/** The `file` part and `purpose` field of a multipart form, streamed; a malformed form is a 400. */
function readForm(ex: HttpExchange, maxFileBytes: number): Promise<UploadForm> {
  return new Promise((resolve, reject) => {
    const form: UploadForm = { tooLarge: false, expiresAfter: {} };
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: ex.req.headers, limits: { files: 1, fileSize: maxFileBytes, fields: 16, fieldSize: 64 * 1024 } });
    } catch (err) {
      ex.req.resume();
      return reject(batchError(400, `the multipart body could not be read: ${(err as Error).message}`, 'invalid_body'));
    }
    parser.on('file', (name, stream, info) => {
      // A form cut short errors the part's stream as well as the parser; the parser's error answers it.
      stream.on('error', () => undefined);
      if (name !== 'file') return stream.resume();
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
      });
      stream.on('limit', () => {
        form.tooLarge = true;
        chunks.length = 0;
      });
      stream.on('end', () => {
        form.file = { name: info.filename ?? '', data: form.tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks, size) };
      });
    });
    parser.on('field', (name, value) => {
      if (name === 'purpose') form.purpose = value;
      else if (name === 'expires_after[anchor]') form.expiresAfter.anchor = value;
      else if (name === 'expires_after[seconds]') form.expiresAfter.seconds = value;
    });
    parser.on('close', () => resolve(form));
    parser.on('error', (err: Error) => {
      ex.req.unpipe(parser);
      ex.req.resume();
      reject(batchError(400, `the multipart body could not be read: ${err.message}`, 'invalid_body'));
    });
    ex.req.on('aborted', () => reject(new BodyError('aborted', 'client went away while sending the body')));
    ex.req.pipe(parser);
  });
}

/** Whether the data plane should hand this path to the batch API. */
export const isBatchPath = (path: string) =>
  path === FILES || path.startsWith(`${FILES}/`) || path === BATCHES || path.startsWith(`${BATCHES}/`);

/** OpenAI's `/v1/files` and `/v1/batches` on the data plane: authenticate, parse, one service call. */
@Injectable()
export class BatchController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: KeyAuthService,
    private readonly batches: BatchService,
    private readonly logger: Logger,
  ) {}

  async handle(ex: HttpExchange, path: string, query: URLSearchParams): Promise<void> {
    const method = ex.req.method ?? 'GET';
    const auth = await this.keys.authenticate(ex.req.headers.authorization, ex.clientAddress);
    if (!auth.ok) {
      ex.req.resume();
      return ex.sendError(auth.status, auth.message, auth.code, null, auth.headers);
    }
    const key = auth.key;
    const parts = path.split('/').slice(2); // ['files' | 'batches', id?, action?]
    const [resource, id, action] = parts;
    if (id !== undefined && !ID.test(id)) return this.notAllowed(ex, `unknown request URL: ${method} ${path}`, 404);
    try {
      if (resource === 'files') {
        if (id === undefined && method === 'POST') return ex.sendJson(200, await this.upload(ex, key));
        ex.req.resume();
        if (id === undefined && method === 'GET')
          return ex.sendJson(
            200,
            await this.batches.listFiles(key, queryText(query, 'after'), limitOf(query, 10_000), queryText(query, 'purpose')),
          );
        if (id !== undefined && action === undefined && method === 'GET') return ex.sendJson(200, await this.batches.file(key, id));
        if (id !== undefined && action === undefined && method === 'DELETE')
          return ex.sendJson(200, await this.batches.deleteFile(key, id));
        if (id !== undefined && action === 'content' && method === 'GET')
          return this.sendContent(ex, await this.batches.fileContent(key, id));
      } else {
        if (id === undefined && method === 'POST') return ex.sendJson(200, await this.batches.create(key, await this.jsonBody(ex)));
        ex.req.resume();
        if (id === undefined && method === 'GET')
          return ex.sendJson(200, await this.batches.list(key, queryText(query, 'after'), limitOf(query, 100)));
        if (id !== undefined && action === undefined && method === 'GET') return ex.sendJson(200, await this.batches.get(key, id));
        if (id !== undefined && action === 'cancel' && method === 'POST') return ex.sendJson(200, await this.batches.cancel(key, id));
      }
      this.notAllowed(ex, `unknown request URL: ${method} ${path}`, 404);
    } catch (err) {
      if (err instanceof ApiError) return ex.sendError(err.status, err.message, err.code, err.param, err.headers);
      if (err instanceof BodyError)
        return ex.sendError(
          err.reason === 'too_large' ? 413 : 400,
          err.message,
          err.reason === 'too_large' ? 'request_too_large' : 'invalid_body',
        );
      this.logger.error('batch API call failed', { requestId: ex.requestId, path, err });
      ex.sendError(500, 'internal error in the gateway', 'internal_error');
    }
  }

  private notAllowed(ex: HttpExchange, message: string, status: number): void {
    ex.req.resume();
    ex.sendError(status, message, 'unknown_url');
  }

  /**
   * Reads the multipart form as it streams in (busboy), keeping only the file part's chunks and joining
   * them once: parsing a whole buffered form at the end took ~200 ms of event loop for a 48 MB file,
   * which every interactive request on this gateway waited for.
   */
  private async upload(ex: HttpExchange, key: Parameters<BatchService['uploadFile']>[0]) {
    const contentType = ex.req.headers['content-type'] ?? '';
    if (!contentType.startsWith('multipart/form-data'))
      throw batchError(400, 'POST /v1/files takes multipart/form-data with "file" and "purpose"', 'invalid_content_type');
    const max = this.config.GATEWAY_FILE_MAX_BYTES;
    const declared = Number(ex.req.headers['content-length']);
    if (declared > max + MULTIPART_OVERHEAD) {
      ex.req.resume();
      throw new BodyError('too_large', `request body of ${declared} bytes is larger than the limit of ${max} bytes`);
    }
    const form = await readForm(ex, max);
    if (!form.file) throw batchError(400, 'the "file" part is missing', 'missing_required_parameter', 'file');
    if (form.tooLarge) throw new BodyError('too_large', `the file is larger than the limit of ${max} bytes`);
    if (form.purpose === undefined) throw batchError(400, 'the "purpose" field is missing', 'missing_required_parameter', 'purpose');
    return this.batches.uploadFile(key, form.file.name, form.purpose, form.file.data, form.expiresAfter);
  }

  private async jsonBody(ex: HttpExchange): Promise<Record<string, unknown>> {
    const raw = await readBody(ex.req, 1024 * 1024);
    try {
      const v = JSON.parse(raw.toString('utf8'));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
    } catch {
      // answered below
    }
    throw batchError(400, 'the body must be a JSON object', 'invalid_json');
  }

  private sendContent(ex: HttpExchange, data: Buffer): void {
    if (ex.res.headersSent) return;
    ex.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'x-request-id': ex.requestId });
    ex.res.end(data);
  }
}

/** A text query parameter: at most 256 characters, no control characters (PostgreSQL stores no NUL). */
function queryText(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw batchError(400, `${name} must be at most 256 characters without control characters`, 'invalid_value', name);
  }
  return value;
}

function limitOf(query: URLSearchParams, max: number): number {
  const n = Number(query.get('limit') ?? 20);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : 20;
}
