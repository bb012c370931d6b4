import { Controller, Get, Inject, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError, errorType } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { LogoutService } from '../services/logout.service';
import { BrowserCaller, SessionService } from '../services/session.service';
import { logoutConfirmPage, messagePage } from '../views/pages';
import { html } from '../views/html';
import { BrowserSessionGuard, Caller, HtmlPageFilter, pageUser, readSessionCookie, sendPage } from './browser';
import { clearSessionCookie } from './cookies';

/** Signing out, and the session check a reverse proxy asks before passing a user on (Open WebUI). */
@Controller('auth')
export class SessionController {
  constructor(
    private readonly sessions: SessionService,
    private readonly logouts: LogoutService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  @Get('logout')
  @UseFilters(HtmlPageFilter)
  async confirm(@Req() req: Request, @Res() res: Response): Promise<void> {
    const resolved = await this.sessions.resolve(readSessionCookie(req, this.config.AUTH_COOKIE_NAME));
    sendPage(res, 200, resolved.ok ? logoutConfirmPage(pageUser(resolved.caller)) : messagePage('Signed out', 'You are not signed in.'));
  }

  @Post('logout')
  @UseFilters(HtmlPageFilter)
  @UseGuards(BrowserSessionGuard)
  async logout(@Caller() caller: BrowserCaller, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { idpLogoutUrl } = await this.logouts.logout(caller);
    clearSessionCookie(res, req, this.config);
    res.redirect(303, idpLogoutUrl ?? '/auth/logged-out');
  }

  @Get('logged-out')
  @UseFilters(HtmlPageFilter)
  loggedOut(@Res() res: Response): void {
    sendPage(
      res,
      200,
      messagePage('Signed out', 'You have been signed out.', {
        action: html`<p><a class="button" href="/auth/saml/login">Sign in again</a></p>`,
      }),
    );
  }

  /**
   * Forward-auth for the gateway: 200 with the user (JSON, and X-Maas-User-* headers, the name
   * percent-encoded since headers are Latin-1) when the cookie is an active session, else 401.
   */
  @Get('session')
  async session(@Req() req: Request, @Res() res: Response): Promise<void> {
    const token = readSessionCookie(req, this.config.AUTH_COOKIE_NAME);
    const reply = token ? await this.sessions.verify(token) : { valid: false as const, reason: 'unknown' as const };
    if (!reply.valid || !reply.user)
      throw new ApiError(401, `no active session (${reply.reason ?? 'unknown'})`, errorType(401), null, 'session_required');
    res
      .set({
        'Cache-Control': 'no-store',
        'X-Maas-User-Id': reply.user.userId,
        'X-Maas-User-Email': reply.user.email,
        'X-Maas-User-Name': encodeURIComponent(reply.user.displayName ?? reply.user.email),
        'X-Maas-User-Roles': reply.user.roles.join(','),
      })
      .json(reply);
  }
}
