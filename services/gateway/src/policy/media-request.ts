import { isUsableModelName } from '@maas/contracts';
import { ApiError, AUDIO_TYPES, decodeMediaField, IMAGE_TYPES, MediaKind, sniffMediaType } from '@maas/media';

/** What a model name must be (the ledger, the metrics and the routing rely on it). */
export const MODEL_NAME_RULE = 'model must be a non-empty string of at most 256 characters without control characters';

/** Where the `model` value sits in a multipart body, so it can be swapped for the worker's upstream name. */
export interface FormModel {
  readonly start: number;
  readonly end: number;
}

export type MediaCheck =
  | { ok: true; model: string; form?: FormModel; fields?: readonly string[] }
  | { ok: false; model?: string; message: string; param: string | null; code: string };

/** The binary field of each media endpoint, and what it must hold. */
export interface MediaField {
  /** Accepted field names, first is the documented one (`/v1/ocr` also takes OpenAI's `file`). */
  readonly names: readonly string[];
  readonly kind: MediaKind;
}

export const OCR_FIELD: MediaField = { names: ['image', 'file'], kind: 'image' };
export const TRANSCRIPTION_FIELD: MediaField = { names: ['file'], kind: 'audio' };

const TYPES: Record<MediaKind, readonly string[]> = { image: IMAGE_TYPES, audio: AUDIO_TYPES };
/** The body limit already bounds the size; the runtime applies its own file limit. */
const NO_SIZE_LIMIT = Number.MAX_SAFE_INTEGER;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkModel(model: unknown): MediaCheck | undefined {
  if (model === undefined || model === null || model === '')
    return { ok: false, message: 'you must provide a model parameter', param: 'model', code: 'missing_required_parameter' };
  if (!isUsableModelName(model)) return { ok: false, message: MODEL_NAME_RULE, param: 'model', code: 'invalid_value' };
  return undefined;
}

function fromApiError(err: unknown, model: string): MediaCheck {
  if (err instanceof ApiError) return { ok: false, model, message: err.message, param: err.param, code: err.code ?? 'invalid_value' };
  throw err;
}

/**
 * A JSON body of `/v1/ocr` or `/v1/audio/transcriptions`: the model, and the binary decoded far
 * enough to refuse bad base64 or a type no runtime reads, naming the field (the runtime re-checks).
 */
export function checkMediaJson(body: Record<string, unknown>, field: MediaField): MediaCheck {
  const bad = checkModel(body.model);
  if (bad) return bad;
  const model = body.model as string;
  const name = field.names.find((n) => body[n] !== undefined) ?? field.names[0];
  try {
    decodeMediaField(body[name], name, { kind: field.kind, maxBytes: NO_SIZE_LIMIT, types: TYPES[field.kind] });
  } catch (err) {
    return fromApiError(err, model);
  }
  return { ok: true, model };
}

interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly start: number;
  readonly end: number;
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The parts of a multipart body as offsets into it: only part headers are read, file bytes are
 * skipped by a native search for the next delimiter, so the body goes upstream untouched.
 */
function multipartParts(raw: Buffer, boundary: string): Part[] | undefined {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body without the leading CRLF.
  let at = raw.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2)) ? delimiter.length - 2 : raw.indexOf(delimiter);
  if (at === -1) return undefined;
  if (at !== delimiter.length - 2) at += delimiter.length;
  const parts: Part[] = [];
  for (;;) {
    if (raw[at] === 0x2d && raw[at + 1] === 0x2d) return parts; // "--": the closing delimiter
    const headEnd = raw.indexOf(HEADER_END, at);
    if (headEnd === -1) return undefined;
    const head = raw.subarray(at, headEnd).toString('latin1');
    const start = headEnd + HEADER_END.length;
    const end = raw.indexOf(delimiter, start);
    if (end === -1) return undefined;
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) parts.push({ name, ...(filename !== undefined ? { filename } : {}), start, end });
    at = end + delimiter.length;
  }
}

/**
 * A multipart body of `/v1/ocr` or `/v1/audio/transcriptions`: finds `model` and sniffs the
 * file's first bytes; the body itself is passed on byte for byte.
 */
export function checkMediaForm(raw: Buffer, boundary: string, field: MediaField): MediaCheck {
  const parts = multipartParts(raw, boundary);
  if (!parts)
    return { ok: false, message: 'request body is not valid multipart/form-data for its boundary', param: null, code: 'invalid_multipart' };
  const modelPart = parts.find((p) => p.name === 'model');
  const model = modelPart ? raw.toString('utf8', modelPart.start, modelPart.end) : undefined;
  const bad = checkModel(model);
  if (bad) return bad;
  const file = parts.find((p) => field.names.includes(p.name));
  const name = file?.name ?? field.names[0];
  const rule = { kind: field.kind, maxBytes: NO_SIZE_LIMIT, types: TYPES[field.kind] };
  try {
    if (!file) decodeMediaField(undefined, name, rule);
    else if (file.filename === undefined && file.end - file.start < 64 * 1024 * 1024) {
      // A form field (no file name) carries base64 text, as in the JSON form.
      decodeMediaField(raw.toString('latin1', file.start, file.end), name, rule);
    } else {
      const type = sniffMediaType(raw.subarray(file.start, Math.min(file.end, file.start + 64)));
      if (file.end === file.start) return { ok: false, model, message: `\`${name}\` is empty`, param: name, code: 'empty_file' };
      if (!type || type.kind !== field.kind) {
        return {
          ok: false,
          model,
          message: `\`${name}\` has an unsupported media type: ${type?.mime ?? 'unrecognised bytes'}; supported: ${TYPES[field.kind].join(', ')}`,
          param: name,
          code: 'unsupported_media_type',
        };
      }
    }
  } catch (err) {
    return fromApiError(err, model!);
  }
  return { ok: true, model: model!, form: { start: modelPart!.start, end: modelPart!.end }, fields: parts.map((p) => p.name) };
}

/** The multipart body with `model` replaced (a worker that serves the model under another name). */
export function withFormModel(raw: Buffer, form: FormModel, model: string): Buffer {
  return Buffer.concat([raw.subarray(0, form.start), Buffer.from(model, 'utf8'), raw.subarray(form.end)]);
}

/** Images in a chat request (`image_url` parts): such a request to an OCR model goes to an OCR runtime. */
export function chatImageParts(messages: readonly unknown[]): number {
  let n = 0;
  for (const m of messages) {
    if (!isObject(m) || !Array.isArray(m.content)) continue;
    for (const part of m.content) if (isObject(part) && part.type === 'image_url') n += 1;
  }
  return n;
}
