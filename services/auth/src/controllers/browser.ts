import {
  ArgumentsHost,
  Catch,
  CanActivate,
  createParamDecorator,
  ExceptionFilter,
  ExecutionContext,
  HttpException,
  Inject,
  Injectable,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { BusRequestError } from '@maas/nats';
import { Logger } from '@maas/logging';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { BrowserCaller, SessionService } from '../services/session.service';
import { PAGE_HEADERS, PageUser } from '../views/html';
import { messagePage, signInAgain } from '../views/pages';

/** An error shown to a person as an HTML page. */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** The page needs a session; the browser is sent to sign in and brought back here. */
export class LoginRequired extends Error {
  constructor(readonly returnTo: string) {
    super('login required');
  }
}

export type BrowserRequest = Request & { caller?: BrowserCaller };

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The session cookie: `__Host-<name>` as set over https, else `<name>` as set over plain http. */
export function readSessionCookie(req: Request, name: string): string | undefined {
  return readCookie(req, `__Host-${name}`) ?? readCookie(req, name);
}

export function sendPage(res: Response, status: number, body: string): void {
  res.status(status).set(PAGE_HEADERS).send(body);
}

export function pageUser(caller: BrowserCaller): PageUser {
  return {
    displayName: caller.user.displayName ?? caller.user.email,
    email: caller.user.email,
    isAdmin: caller.isAdmin,
    csrfToken: caller.session.csrfToken,
  };
}

/** The session behind a portal request, set by BrowserSessionGuard. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): BrowserCaller => {
  const caller = ctx.switchToHttp().getRequest<BrowserRequest>().caller;
  if (!caller) throw new Error('Caller used without BrowserSessionGuard');
  return caller;
});

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Requires an active session (else: sign in and come back). On state-changing requests it also
 * requires the session's CSRF token in the form, and a same-origin Origin/Referer when the browser sends one.
 */
@Injectable()
export class BrowserSessionGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly logger: Logger,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<BrowserRequest>();
    const resolved = await this.sessions.resolve(readSessionCookie(req, this.config.AUTH_COOKIE_NAME));
    if (!resolved.ok) {
      if (UNSAFE.has(req.method))
        throw new PageError(401, 'Signed out', 'Your session has ended. Sign in again and repeat what you were doing.');
      throw new LoginRequired(req.originalUrl);
    }
    if (UNSAFE.has(req.method)) {
      const origin = req.headers.origin ?? (req.headers.referer ? safeOrigin(req.headers.referer) : undefined);
      const expected = new URL(this.config.AUTH_PUBLIC_URL).origin;
      if (origin !== undefined && origin !== expected) {
        this.logger.warn('cross-site form rejected', { origin, expected, path: req.path, sessionId: resolved.caller.session.sessionId });
        throw new PageError(403, 'Request refused', 'This form was sent from another site.');
      }
      if (!this.sessions.csrfMatches(resolved.caller.session, (req.body as Record<string, unknown> | undefined)?._csrf)) {
        this.logger.warn('form without a valid CSRF token rejected', { path: req.path, sessionId: resolved.caller.session.sessionId });
        throw new PageError(403, 'Request refused', 'This form has expired. Reload the page and try again.');
      }
    }
    req.caller = resolved.caller;
    return true;
  }
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}

/** Administrators only (after BrowserSessionGuard). */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    if (!ctx.switchToHttp().getRequest<BrowserRequest>().caller?.isAdmin)
      throw new PageError(403, 'Not allowed', 'This page is for administrators.');
    return true;
  }
}

/** Errors on browser pages become small HTML pages (the JSON error shape is for API clients). */
@Catch()
export class HtmlPageFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<BrowserRequest>();
    if (res.headersSent) return void res.end();
    if (exception instanceof LoginRequired) {
      res.redirect(303, `/auth/saml/login?next=${encodeURIComponent(exception.returnTo)}`);
      return;
    }
    const user = req.caller ? pageUser(req.caller) : undefined;
    if (exception instanceof PageError) {
      sendPage(
        res,
        exception.status,
        messagePage(exception.title, exception.message, { user, action: exception.status === 401 ? signInAgain : undefined }),
      );
      return;
    }
    if (exception instanceof BusRequestError || (exception as Error)?.name === 'NatsError') {
      this.logger.warn('platform service unavailable for a page', { path: req.path, err: (exception as Error).message });
      sendPage(
        res,
        502,
        messagePage('Temporarily unavailable', 'A platform service did not answer. Please try again in a moment.', { user }),
      );
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      sendPage(res, exception.getStatus(), messagePage('Request refused', exception.message, { user }));
      return;
    }
    this.logger.error('page failed', { path: req.path, err: exception as Error });
    sendPage(res, 500, messagePage('Something went wrong', 'The page could not be shown. Please try again.', { user }));
  }
}
