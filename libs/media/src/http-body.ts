import type { IncomingMessage } from 'node:http';
import { ApiError, tooLarge } from './api-error';
import { formatBytes } from './binary-input';

/** A file part of a multipart body. */
export interface FormFile {
  readonly bytes: Buffer;
  readonly filename: string;
  readonly type: string;
}

/** A parsed multipart/form-data body: repeated fields keep every value in order. */
export class FormBody {
  constructor(
    private readonly values: Map<string, string[]>,
    private readonly files: Map<string, FormFile>,
  ) {}

  field(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }

  fields(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  file(name: string): FormFile | undefined {
    return this.files.get(name);
  }

  /** A field that was sent as text where a file was expected still counts as present. */
  has(name: string): boolean {
    return this.values.has(name) || this.files.has(name);
  }
}

export type RequestBody =
  { readonly kind: 'json'; readonly json: Record<string, unknown> } | { readonly kind: 'multipart'; readonly form: FormBody };

export interface BodyLimits {
  /** Largest JSON body (base64 binaries inside count). */
  readonly json: number;
  /** Largest multipart body; omit to refuse multipart. */
  readonly multipart?: number;
  /** What the limit allows, for the 413's message: "an image of at most 20 MiB". */
  readonly allows?: string;
}

/** The whole request body, refused with a 413 as soon as it is known to exceed `limit`. */
export function readBody(req: IncomingMessage, limit: number, allows?: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const why = allows ? ` (${allows})` : '';
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(null, `request body is ${formatBytes(declared)}; the limit is ${formatBytes(limit)}${why}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        // Keep draining without storing so the client can read the 413 instead of a reset.
        req.resume();
        reject(tooLarge(null, `request body exceeds the limit of ${formatBytes(limit)}${why}`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size <= limit) resolve(Buffer.concat(chunks, size));
    });
    req.once('error', reject);
    req.once('aborted', () => reject(new ApiError(400, 'the client aborted the upload', 'invalid_request_error', null, 'aborted')));
  });
}

/** JSON or multipart/form-data, by Content-Type, each with its own size limit. */
export async function readRequestBody(req: IncomingMessage, limits: BodyLimits): Promise<RequestBody> {
  const contentType = String(req.headers['content-type'] ?? '');
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (mediaType === 'multipart/form-data' && limits.multipart !== undefined) {
    const raw = await readBody(req, limits.multipart, limits.allows);
    return { kind: 'multipart', form: await parseMultipart(raw, contentType) };
  }
  if (mediaType === 'application/json' || mediaType === '' || mediaType.endsWith('+json')) {
    const raw = await readBody(req, limits.json, limits.allows);
    return { kind: 'json', json: parseJsonObject(raw) };
  }
  const accepted = limits.multipart !== undefined ? 'application/json or multipart/form-data' : 'application/json';
  throw new ApiError(
    415,
    `Content-Type ${mediaType} is not supported here; send ${accepted}`,
    'invalid_request_error',
    null,
    'unsupported_content_type',
  );
}

export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, `request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  }
  return value as Record<string, unknown>;
}

/** Node's own multipart parser (undici's `Response.formData()`): no dependency for one format. */
export async function parseMultipart(raw: Buffer, contentType: string): Promise<FormBody> {
  let form: FormData;
  try {
    form = await new Response(asBodyBytes(raw), { headers: { 'content-type': contentType } }).formData();
  } catch (err) {
    throw new ApiError(
      400,
      `request body is not valid multipart/form-data: ${(err as Error).message}`,
      'invalid_request_error',
      null,
      'invalid_multipart',
    );
  }
  const values = new Map<string, string[]>();
  const files = new Map<string, FormFile>();
  const parts: [string, string | File][] = [];
  // forEach rather than entries(): the DOM typings some dependencies pull in lack the iterable.
  form.forEach((value, name) => parts.push([name, value as string | File]));
  for (const [name, value] of parts) {
    if (typeof value === 'string') {
      values.set(name, [...(values.get(name) ?? []), value]);
    } else if (!files.has(name)) {
      files.set(name, { bytes: Buffer.from(await value.arrayBuffer()), filename: value.name, type: value.type });
    }
  }
  return new FormBody(values, files);
}

/** A Buffer as fetch/Blob body bytes, without copying (Node's Buffers sit on plain ArrayBuffers). */
export function asBodyBytes(buffer: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength);
}
