import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SessionUser } from './session-cache';

/**
 * Open WebUI on a hostname of its own (GATEWAY_WEBUI_HOST): the portal's session cookie is host-only
 * and never reaches it. A signed-in user gets there by a hand-off: on the portal host the gateway
 * mints a short-lived one-time code naming the user, the browser carries it to the chat host, and
 * the gateway there exchanges it for a chat-host cookie of its own. Both are signed tokens with a
 * purpose, so a code is not a cookie and neither is the portal's session. Pure: time and nonces
 * come in as parameters.
 */
export type HandoffPurpose = 'code' | 'chat';

export interface HandoffClaims {
  readonly purpose: HandoffPurpose;
  readonly user: SessionUser;
  /** Expiry, ms since the epoch. */
  readonly exp: number;
  /** Unique per token: what makes a code usable once. */
  readonly nonce: string;
  /** A code: the state the chat host gave the browser that asked (its state cookie must match). */
  readonly state?: string;
  /** A code: when the portal session ends (the chat cookie never outlives it). */
  readonly sessionExp?: number;
}

/** The path on the portal host that starts a hand-off, and the one on the chat host that finishes it. */
export const PORTAL_HANDOFF_PATH = '/webui/handoff';
export const CHAT_HANDOFF_PATH = '/_maas/handoff';
/** A code is redeemed at once by the redirect that carries it; this only covers a slow network. */
export const HANDOFF_CODE_TTL_MS = 60_000;

const mac = (payload: string, secret: Buffer) => createHmac('sha256', secret).update(payload).digest('base64url');

export function signHandoff(claims: HandoffClaims, secret: Buffer): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${mac(payload, secret)}`;
}

/** The claims of a token signed with `secret` for `purpose` and not expired at `now`; undefined otherwise. */
export function verifyHandoff(token: string, secret: Buffer, purpose: HandoffPurpose, now: number): HandoffClaims | undefined {
  if (token.length > 4096) return undefined;
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = Buffer.from(mac(payload, secret), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let claims: HandoffClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as HandoffClaims;
  } catch {
    return undefined;
  }
  if (claims.purpose !== purpose || typeof claims.exp !== 'number' || now >= claims.exp || typeof claims.nonce !== 'string')
    return undefined;
  const u = claims.user as Partial<SessionUser> | undefined;
  if (!u || typeof u.email !== 'string' || !Array.isArray(u.roles)) return undefined;
  return claims;
}

/** Codes already redeemed, until they expire: a code works once (on this gateway). */
export class RedeemedCodes {
  private readonly until = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  /** True the first time a nonce is redeemed before `exp`; false after. */
  redeem(nonce: string, exp: number, now: number): boolean {
    for (const [n, e] of this.until) {
      if (e > now && this.until.size < this.maxEntries) break; // insertion order ≈ expiry order: stop at the first live one
      this.until.delete(n);
    }
    if (this.until.has(nonce)) return false;
    this.until.set(nonce, exp);
    return true;
  }
}

/** Where a hand-off may send the browser back to: a path on the chat host, never another origin (`//evil`, `/\evil`). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\r\n]/.test(next)) return '/';
  return next;
}

/** A Host header (or forwarded host) compared as browsers do: lower-cased, without a trailing dot. */
export function sameHost(a: string | undefined, configured: string): boolean {
  if (!a) return false;
  const norm = (h: string) =>
    h
      .trim()
      .toLowerCase()
      .replace(/\.(?=(:\d+)?$)/, '');
  const host = norm(a);
  const want = norm(configured);
  // A configured name without a port matches on any port (the gateway may sit behind a proxy on 443).
  return host === want || (!want.includes(':') && host.replace(/:\d+$/, '') === want);
}

/**
 * The chat host's own cookie: host-only, HttpOnly, SameSite=Lax; `__Host-` and `Secure` over https.
 * `maxAgeSeconds` 0 clears it.
 */
export function chatCookie(name: string, value: string, https: boolean, maxAgeSeconds: number): string {
  const full = https ? `__Host-${name}` : name;
  return `${full}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${https ? '; Secure' : ''}`;
}
