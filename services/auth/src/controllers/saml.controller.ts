import { Body, Controller, Get, Header, Inject, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { LogoutService } from '../services/logout.service';
import { SamlLoginService } from '../services/saml-login.service';
import { SignInLinkService } from '../services/sign-in-link.service';
import { SamlProtocol } from '../repositories/saml-protocol.repository';
import { chooserPage, messagePage, signInAgain } from '../views/pages';
import { HtmlPageFilter, PageError, readCookie, sendPage } from './browser';
import { loginBindingCookie, setSessionCookie, clearCookie, LOGIN_COOKIE } from './cookies';

/** SAML 2.0 service provider endpoints. */
@Controller('auth/saml')
@UseFilters(HtmlPageFilter)
export class SamlController {
  constructor(
    private readonly login: SamlLoginService,
    private readonly logout: LogoutService,
    private readonly saml: SamlProtocol,
    private readonly links: SignInLinkService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  @Get('metadata')
  @Header('Cache-Control', 'public, max-age=3600')
  metadata(@Res() res: Response): void {
    if (!this.saml.configured) throw new PageError(404, 'No SAML metadata', 'This service provider has no key configured yet.');
    res.type('application/samlmetadata+xml').send(this.saml.spMetadata());
  }

  /** `?idp=` (our chooser and links) or `?entityID=` (a discovery service's answer); `?next=` where to land. */
  @Get('login')
  async start(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const requested = [query.idp, query.entityID].find((v): v is string => typeof v === 'string' && v.length > 0);
    const outcome = await this.login.start(
      requested,
      typeof query.next === 'string' ? query.next : undefined,
      readCookie(req, LOGIN_COOKIE),
      req.ip,
    );
    switch (outcome.kind) {
      case 'redirect':
        res.cookie(LOGIN_COOKIE, outcome.browserNonce, loginBindingCookie(req, this.config.SAML_REQUEST_TTL));
        res.set('Cache-Control', 'no-store').redirect(302, outcome.url);
        return;
      case 'discovery':
        res.set('Cache-Control', 'no-store').redirect(302, outcome.url);
        return;
      case 'choose':
        sendPage(res, 200, chooserPage(outcome.idps, outcome.returnTo));
        return;
      case 'refused':
        if (outcome.retryAfterSeconds !== undefined) res.set('Retry-After', String(outcome.retryAfterSeconds));
        if (!this.saml.configured && this.links.enabled) {
          sendPage(
            res,
            outcome.status,
            messagePage(
              outcome.title,
              'No identity provider is configured here. Sign in with the one-time link npm start printed; start it again for a new link.',
            ),
          );
          return;
        }
        sendPage(res, outcome.status, messagePage(outcome.title, outcome.message));
    }
  }

  @Post('acs')
  async acs(@Body('SAMLResponse') samlResponse: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const result = await this.login.acs(typeof samlResponse === 'string' ? samlResponse : undefined, {
      browserNonce: readCookie(req, LOGIN_COOKIE),
      clientIp: req.ip,
      userAgent: req.headers['user-agent'],
    });
    if (!result.ok) {
      sendPage(res, result.status, messagePage('Sign-in failed', result.message, { action: signInAgain }));
      return;
    }
    setSessionCookie(res, req, this.config, result.session);
    clearCookie(res, req, LOGIN_COOKIE, '/auth/saml');
    res.redirect(303, result.returnTo);
  }

  /** Single logout over HTTP-Redirect: the IdP's LogoutResponse, or its own LogoutRequest. */
  @Get('slo')
  async slo(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const strings = Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const rawQuery = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
    const outcome = await this.logout.singleLogout({ rawQuery, query: strings });
    if (outcome.kind === 'redirect') {
      res.redirect(302, outcome.url);
      return;
    }
    if (outcome.kind === 'refused') {
      sendPage(res, 400, messagePage('Logout not completed', outcome.message));
      return;
    }
    if (outcome.kind === 'logged-out-unconfirmed') {
      sendPage(
        res,
        200,
        messagePage(
          'Signed out',
          'You have been signed out of open-maas. Your institution did not confirm that it ended its own session: close the browser to be sure.',
          { action: signInAgain },
        ),
      );
      return;
    }
    res.redirect(303, '/auth/logged-out');
  }
}
