/**
 * What must never reach a log line: API keys, credentials in headers, session tokens, passwords,
 * secrets and SAML responses. Redacted by key name at any depth and by value pattern in every string
 * (the message included), so a key pasted into an error message is caught as well as a `headers` object.
 */
export const REDACTED = '[REDACTED]';

/** Key names (lowercase, without `-` and `_`) whose values are always withheld. */
const SECRET_KEYS = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'apikey',
  'xapikey',
  'samlresponse',
  'maassession',
  'credentials',
  'privatekey',
]);
/** Suffixes that mark a secret whatever comes before: `adminToken`, `clientSecret`, `dbPassword`. */
const SECRET_SUFFIXES = ['token', 'secret', 'password', 'passwd', 'cookie'];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s));
}

// One pass over each string; the alternatives are cheap to reject, so a clean string costs one scan.
const SECRET_PATTERN = new RegExp(
  [
    // API keys: `sk-<8-char prefix>_<secret>` keeps the (listed, non-secret) prefix; other sk- keys go whole
    String.raw`\bsk-(?:([A-Za-z0-9]{8})_[A-Za-z0-9_-]+|[A-Za-z0-9_-]{8,})`,
    // Authorization header values
    String.raw`\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+`,
    // secrets in forms, query strings and cookie headers: SAMLResponse=…, password=…, maas_session=…
    String.raw`\b(SAMLResponse|[\w.-]*(?:password|passwd|secret|token|session))=[^&;,\s"']+`,
    // passwords in URLs: scheme://user:password@host
    String.raw`\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@`,
  ].join('|'),
  'gi',
);

export function redactText(text: string): string {
  return text.replace(SECRET_PATTERN, (match, keyPrefix?: string, scheme?: string, param?: string, userinfo?: string) => {
    if (match.toLowerCase().startsWith('sk-')) return keyPrefix ? `sk-${keyPrefix}_${REDACTED}` : `sk-${REDACTED}`;
    if (scheme) return `${scheme} ${REDACTED}`;
    if (param) return `${param}=${REDACTED}`;
    if (userinfo) return `${userinfo}${REDACTED}@`;
    return REDACTED;
  });
}

const MAX_DEPTH = 8;

/**
 * A JSON-ready copy of log fields with secrets withheld. Errors become `{ message, stack, code? }`,
 * bigints strings, byte arrays their length, cycles `[Circular]`.
 */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  return walk(fields, new Set(), 0) as Record<string, unknown>;
}

function walk(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'bigint') return String(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Object]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { message: redactText(value.message), stack: value.stack && redactText(value.stack), ...(code !== undefined ? { code } : {}) };
  }
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, ancestors, depth + 1));
    const source = typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value;
    if (source !== value) return walk(source, ancestors, depth);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) && v != null ? REDACTED : walk(v, ancestors, depth + 1);
    return out;
  } finally {
    ancestors.delete(value);
  }
}
