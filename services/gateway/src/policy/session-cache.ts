import { sessionDigest } from '@maas/contracts';

/** A browser user as auth vouched for them. */
export interface SessionUser {
  readonly email: string;
  readonly displayName: string | null;
  readonly roles: readonly string[];
}

export type SessionVerdict = { valid: true; user: SessionUser; expiresAt?: number } | { valid: false };

/**
 * Session verdicts remembered briefly: valid ones for `ttlMs` (never past the session's own expiry),
 * refused ones for `negativeTtlMs`, so a sign-out or revocation reaches the gateway within seconds.
 * Kept by the cookie's digest, never the cookie. Time is passed in; nothing here does I/O.
 */
export class SessionCache {
  private readonly entries = new Map<string, { verdict: SessionVerdict; until: number }>();

  constructor(private readonly spec: { ttlMs: number; negativeTtlMs: number; maxEntries: number }) {}

  get(token: string, now: number): SessionVerdict | undefined {
    const digest = sessionDigest(token);
    const e = this.entries.get(digest);
    if (!e) return undefined;
    if (now < e.until) return e.verdict;
    this.entries.delete(digest);
    return undefined;
  }

  store(token: string, verdict: SessionVerdict, now: number): void {
    const ttl = verdict.valid ? this.spec.ttlMs : this.spec.negativeTtlMs;
    const until = Math.min(now + ttl, verdict.valid && verdict.expiresAt !== undefined ? verdict.expiresAt : Infinity);
    const digest = sessionDigest(token);
    this.entries.delete(digest);
    this.entries.set(digest, { verdict, until });
    if (this.entries.size > this.spec.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}

/** The value of one cookie from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}
