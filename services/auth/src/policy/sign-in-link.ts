/**
 * One-time sign-in links: a record names the account and holds only the SHA-256 of the link's token;
 * the link is good until its expiry, and only once (the record is deleted when it is redeemed).
 */

export interface SignInLinkRecord {
  /** Hex SHA-256 of the token in the link. */
  tokenSha256: string;
  email: string;
  displayName: string | null;
  /** The account is an administrator. */
  admin: boolean;
  expiresAt: number;
}

export type SignInLinkVerdict =
  { ok: true; record: SignInLinkRecord } | { ok: false; reason: 'no_link' | 'unreadable' | 'wrong_token' | 'expired' };

const EMAIL = /^[^@\s]+@[^@\s]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The tokens links carry: 256 bits, base64url. */
export const SIGN_IN_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The record in a link file, or undefined when it is not one. */
export function parseSignInLink(text: string): SignInLinkRecord | undefined {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const expiresAt = typeof raw.expiresAt === 'string' ? Date.parse(raw.expiresAt) : NaN;
  if (typeof raw.tokenSha256 !== 'string' || !SHA256_HEX.test(raw.tokenSha256)) return undefined;
  if (typeof raw.email !== 'string' || !EMAIL.test(raw.email) || !Number.isFinite(expiresAt)) return undefined;
  return {
    tokenSha256: raw.tokenSha256,
    email: raw.email.toLowerCase(),
    displayName: typeof raw.displayName === 'string' && raw.displayName.trim() ? raw.displayName.trim().slice(0, 200) : null,
    admin: raw.admin === true,
    expiresAt,
  };
}

/** Whether the link file's text accepts a token (given by its hash; `same` compares in constant time) at `now`. */
export function checkSignInLink(
  text: string | undefined,
  presentedSha256: string,
  same: (a: string, b: string) => boolean,
  now: number,
): SignInLinkVerdict {
  if (text === undefined) return { ok: false, reason: 'no_link' };
  const record = parseSignInLink(text);
  if (!record) return { ok: false, reason: 'unreadable' };
  if (!same(record.tokenSha256, presentedSha256)) return { ok: false, reason: 'wrong_token' };
  if (now >= record.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, record };
}
