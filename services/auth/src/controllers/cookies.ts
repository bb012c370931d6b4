import type { CookieOptions, Request, Response } from 'express';
import type { AuthConfig } from '../auth.config';
import type { NewSession } from '../services/session.service';

/** Binds a login to the browser that started it (checked at the ACS). */
export const LOGIN_COOKIE = 'maas_login';

/**
 * The session cookie's name: over https `__Host-<name>`, which browsers accept only with `Secure`,
 * `Path=/` and no `Domain`, so no other host (the chat UI's, a sibling subdomain) can set, shadow or
 * receive it. Over plain http (local testing) browsers refuse that prefix, so the bare name.
 */
export function sessionCookieName(req: Request, config: AuthConfig): string {
  return req.secure ? `__Host-${config.AUTH_COOKIE_NAME}` : config.AUTH_COOKIE_NAME;
}

/**
 * Host-only (no `Domain`), `HttpOnly`, `SameSite=Lax`; `Secure` whenever the browser came over https
 * (req.secure honours X-Forwarded-Proto from trusted proxies only).
 */
export function setSessionCookie(res: Response, req: Request, config: AuthConfig, session: NewSession): void {
  res.cookie(sessionCookieName(req, config), session.token, {
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

/** Signing out clears the session cookie under the name it was set with (and the bare one a plain-http visit may have left). */
export function clearSessionCookie(res: Response, req: Request, config: AuthConfig): void {
  clearCookie(res, req, config.AUTH_COOKIE_NAME);
  if (req.secure) clearCookie(res, req, sessionCookieName(req, config));
}
