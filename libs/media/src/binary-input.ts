import { invalidParam, tooLarge } from './api-error';
import { MediaKind, MediaType, sniffMediaType } from './media-type';

/** What one binary field accepts. */
export interface MediaRule {
  readonly kind: MediaKind;
  /** Largest decoded size in bytes; more is a 413 naming the field. */
  readonly maxBytes: number;
  /** Accepted types (sniffed); anything else is a 400 naming the field. */
  readonly types: readonly string[];
}

export interface DecodedMedia {
  readonly bytes: Buffer;
  readonly type: MediaType;
  /** The type the client declared (data: URL or multipart part), kept for logs only. */
  readonly declared?: string;
  /** The client's file name (multipart), if any. */
  readonly filename?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;
const DATA_URL = /^data:([^,]*?),/i;

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}

/** Bytes that `length` base64 characters (no whitespace) decode to. */
export function base64DecodedLength(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** The JSON body size that carries a binary of `maxBytes` base64-encoded, plus room for the other fields. */
export function jsonBodyLimit(maxBytes: number, slack = 1024 * 1024): number {
  return Math.ceil(maxBytes / 3) * 4 + slack;
}

/**
 * A binary JSON field: raw base64 (standard or URL-safe alphabet, line breaks allowed) or a
 * `data:<mime>;base64,` URL. Remote URLs are refused: runtimes do not fetch on a client's behalf.
 */
export function decodeMediaField(value: unknown, field: string, rule: MediaRule): DecodedMedia {
  if (typeof value !== 'string') {
    throw invalidParam(
      field,
      `\`${field}\` must be a base64 string or a data:<type>;base64, URL, got ${value === undefined ? 'nothing' : typeof value}`,
      value === undefined ? 'missing_required_parameter' : 'invalid_type',
    );
  }
  let payload = value;
  let declared: string | undefined;
  const dataUrl = DATA_URL.exec(value.slice(0, 256));
  if (dataUrl) {
    const params = dataUrl[1].split(';').map((p) => p.trim());
    if (!params.slice(1).some((p) => p.toLowerCase() === 'base64')) {
      throw invalidParam(
        field,
        `\`${field}\` is a data: URL without ";base64": only base64-encoded data URLs are accepted`,
        'invalid_base64',
      );
    }
    declared = params[0] || undefined;
    payload = value.slice(dataUrl[0].length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value.slice(0, 16))) {
    throw invalidParam(
      field,
      `\`${field}\` is a URL; this runtime does not fetch remote files: send the bytes base64-encoded or as a data: URL`,
      'unsupported_url',
    );
  }
  const compact = /\s/.test(payload) ? payload.replace(/\s+/g, '') : payload;
  if (compact.length === 0) throw invalidParam(field, `\`${field}\` is empty`, 'empty_file');
  if (
    compact.length % 4 === 1 ||
    !(BASE64.test(compact) || BASE64_URL.test(compact)) ||
    (compact.includes('=') && compact.length % 4 !== 0)
  ) {
    throw invalidParam(field, `\`${field}\` is not valid base64`, 'invalid_base64');
  }
  const size = base64DecodedLength(compact);
  if (size > rule.maxBytes) throw tooLarge(field, `\`${field}\` is ${formatBytes(size)}; the limit is ${formatBytes(rule.maxBytes)}`);
  return checkMedia(Buffer.from(compact, 'base64'), field, rule, declared);
}

/** Bytes that arrived as they are (a multipart file): size limit and sniffed type. */
export function checkMedia(bytes: Buffer, field: string, rule: MediaRule, declared?: string, filename?: string): DecodedMedia {
  if (bytes.length === 0) throw invalidParam(field, `\`${field}\` is empty`, 'empty_file');
  if (bytes.length > rule.maxBytes)
    throw tooLarge(field, `\`${field}\` is ${formatBytes(bytes.length)}; the limit is ${formatBytes(rule.maxBytes)}`);
  const type = sniffMediaType(bytes);
  if (!type || type.kind !== rule.kind || !rule.types.includes(type.mime)) {
    const seen = type ? type.mime : declared ? `unrecognised bytes (declared ${declared})` : 'unrecognised bytes';
    throw invalidParam(
      field,
      `\`${field}\` has an unsupported media type: ${seen}; supported: ${rule.types.join(', ')}`,
      'unsupported_media_type',
    );
  }
  return { bytes, type, ...(declared ? { declared } : {}), ...(filename ? { filename } : {}) };
}
