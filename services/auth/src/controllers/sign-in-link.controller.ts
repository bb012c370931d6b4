import { Body, Controller, Get, Inject, Param, Post, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { SignInLinkService } from '../services/sign-in-link.service';
import { messagePage, signInLinkPage } from '../views/pages';
import { HtmlPageFilter, PageError, sendPage } from './browser';
import { setSessionCookie } from './cookies';

/**
 * One-time sign-in links. Opening one shows a button; only the POST it sends redeems the link, so a
 * chat app or mail scanner that fetches the link to preview it does not use it up.
 */
@Controller('auth/one-time')
@UseFilters(HtmlPageFilter)
export class SignInLinkController {
  constructor(
    private readonly links: SignInLinkService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  @Get(':token')
  confirm(@Param('token') token: string, @Res() res: Response): void {
    if (!this.links.enabled) throw new PageError(404, 'Not found', 'One-time sign-in links are not enabled here.');
    sendPage(res, 200, signInLinkPage(token));
  }

  @Post()
  async redeem(@Body('token') token: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const result = await this.links.redeem(typeof token === 'string' ? token : undefined, {
      clientIp: req.ip,
      userAgent: req.headers['user-agent'],
    });
    if (!result.ok) {
      sendPage(res, result.status, messagePage('Sign-in link not accepted', result.message));
      return;
    }
    setSessionCookie(res, req, this.config, result.session);
    res.redirect(303, '/portal');
  }
}
