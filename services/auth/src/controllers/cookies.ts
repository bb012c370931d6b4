import type { CookieOptions, Request, Response } from 'express';
import type { AuthConfig } from '../auth.config';
import type { NewSession } from '../services/session.service';

/** Binds a login to the browser that started it (checked at the ACS). */
export const LOGIN_COOKIE = 'maas_login';

/** `Secure` whenever the browser came over https (req.secure honours X-Forwarded-Proto from trusted proxies only). */
export function setSessionCookie(res: Response, req: Request, config: AuthConfig, session: NewSession): void {
  res.cookie(config.AUTH_COOKIE_NAME, session.token, {
    httpOnly: true,
    secure: req.secure,
    sameSite: 'lax',
    path: '/',
    expires: session.expiresAt,
  });
}

/**
 * The ACS is reached by a cross-site POST from the IdP, which carries only SameSite=None cookies, and
 * browsers accept those only with Secure; over plain http (local testing) Lax is the best there is.
 */
export function loginBindingCookie(req: Request, ttlMs: number): CookieOptions {
  return { httpOnly: true, secure: req.secure, sameSite: req.secure ? 'none' : 'lax', path: '/auth/saml', maxAge: ttlMs };
}

export function clearCookie(res: Response, req: Request, name: string, path = '/'): void {
  res.clearCookie(name, { httpOnly: true, secure: req.secure, sameSite: 'lax', path });
}
