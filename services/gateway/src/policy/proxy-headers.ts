/**
 * What the web proxy forwards to Open WebUI and auth of the headers a browser sent: no cookie of the
 * platform's reaches Open WebUI (it would hold the portal session), and `X-Forwarded-Host` is
 * believed only from a trusted proxy.
 */

/** The platform's cookies: the session cookie, the login binding and any other `maas_…`, with or without a `__Host-`/`__Secure-` prefix. */
export function isOwnCookie(name: string, sessionCookie: string): boolean {
  const bare = name.replace(/^__(?:Host|Secure)-/, '');
  return bare === sessionCookie.replace(/^__(?:Host|Secure)-/, '') || bare.startsWith('maas_');
}

/** A `Cookie` header without the platform's cookies; undefined when nothing is left. */
export function withoutOwnCookies(header: string | string[] | undefined, sessionCookie: string): string | undefined {
  if (header === undefined) return undefined;
  const kept = (Array.isArray(header) ? header.join('; ') : header)
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !isOwnCookie(c.split('=', 1)[0].trim(), sessionCookie));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** `X-Forwarded-Host` to send on: a trusted proxy's as it gave it, otherwise the request's own `Host`. */
export function forwardedHost(
  given: string | string[] | undefined,
  host: string | undefined,
  fromTrustedProxy: boolean,
): string | undefined {
  if (fromTrustedProxy && typeof given === 'string' && given !== '') return given;
  return host;
}
