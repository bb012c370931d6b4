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

// Field names repeat from line to line: each is judged once (up to a bound, against unbounded key sets).
const judged = new Map<string, boolean>();

export function isSecretKey(key: string): boolean {
  let secret = judged.get(key);
  if (secret === undefined) {
    const k = key.toLowerCase().replace(/[-_]/g, '');
    secret = SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s));
    if (judged.size < 10_000) judged.set(key, secret);
  }
  return secret;
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

/** Every secret pattern needs one of these: most strings are let through after a few quick scans. */
const MAYBE_SECRET = /sk-|bearer|basic/i;

export function redactText(text: string): string {
  if (!text.includes('=') && !text.includes('@') && !MAYBE_SECRET.test(text)) return text;
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
 * Log fields made JSON-ready with secrets withheld: Errors become `{ message, stack, code? }`, bigints
 * strings, byte arrays their length, cycles `[Circular]`. Copy on write: an object with nothing to
 * change comes back as it is, so the common line (a few plain fields) allocates nothing here.
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
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return walk((value as { toJSON(): unknown }).toJSON(), ancestors, depth);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const changed = walk(value[i], ancestors, depth + 1);
        if (changed !== value[i] && !copy) copy = value.slice(0, i);
        copy?.push(changed);
      }
      return copy ?? value;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const v = record[keys[i]];
      const changed = v != null && isSecretKey(keys[i]) ? REDACTED : walk(v, ancestors, depth + 1);
      if (changed !== v && !copy) {
        copy = {};
        for (let j = 0; j < i; j++) copy[keys[j]] = record[keys[j]];
      }
      if (copy) copy[keys[i]] = changed;
    }
    return copy ?? value;
  } finally {
    ancestors.delete(value);
  }
}
