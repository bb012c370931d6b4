import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The claims of a token, as djangorestframework-jwt puts them. */
export interface TokenClaims {
  readonly username: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  /** When the first token of this chain was issued (a refresh keeps it). */
  readonly orig_iat: number;
  readonly jti: string;
}

export type TokenCheck =
  { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly why: 'malformed' | 'signature' | 'expired' };

const b64 = (v: Buffer | string) => Buffer.from(v).toString('base64url');

/** HS256 JWTs signed with a secret of the simulator's own. */
export class TokenIssuer {
  private readonly secret = randomBytes(32);

  constructor(private readonly ttlSeconds: number) {}

  issue(username: string, nowMs: number, origIat = Math.floor(nowMs / 1000)): string {
    const claims: TokenClaims = {
      username,
      exp: Math.floor(nowMs / 1000 + this.ttlSeconds),
      orig_iat: origIat,
      jti: randomBytes(8).toString('hex'),
    };
    const head = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
    return `${head}.${this.sign(head)}`;
  }

  check(token: string, nowMs: number): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, why: 'malformed' };
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, why: 'signature' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { ok: false, why: 'malformed' };
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) return { ok: false, why: 'expired' };
    return { ok: true, claims };
  }

  private sign(head: string): string {
    return createHmac('sha256', this.secret).update(head).digest('base64url');
  }
}
