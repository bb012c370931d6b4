/** Where to send the browser after login: only a path on this site, never another origin. */

export const DEFAULT_RETURN = '/portal';

export function safeReturnPath(candidate: unknown): string {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > 512) return DEFAULT_RETURN;
  // "//host" and "/\host" are protocol-relative to browsers; control characters can split headers.
  if (
    !candidate.startsWith('/') ||
    candidate.startsWith('//') ||
    candidate.startsWith('/\\') ||
    /[\u0000-\u001f\u007f\\]/.test(candidate)
  ) {
    return DEFAULT_RETURN;
  }
  if (candidate.startsWith('/auth/')) return DEFAULT_RETURN;
  return candidate;
}
