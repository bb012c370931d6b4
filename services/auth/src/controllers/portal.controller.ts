import { Body, Controller, Get, Header, Inject, Param, Post, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { PortalInputError, PortalService } from '../services/portal.service';
import { BrowserCaller } from '../services/session.service';
import { UserService } from '../services/user.service';
import { PORTAL_CSS, PORTAL_JS } from '../views/assets';
import { adminPage, portalPage } from '../views/pages';
import { AdminGuard, BrowserSessionGuard, Caller, HtmlPageFilter, PageError, pageUser, sendPage } from './browser';

/** The user portal: models, API keys (secret shown once), usage; and the administrators' page. */
@Controller('portal')
@UseFilters(HtmlPageFilter)
export class PortalController {
  constructor(
    private readonly portal: PortalService,
    private readonly users: UserService,
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
  ) {}

  private get apiBaseUrl(): string {
    return `${this.config.AUTH_PUBLIC_URL}/v1`;
  }

  @Get()
  @UseGuards(BrowserSessionGuard)
  async home(@Caller() caller: BrowserCaller, @Query('revoked') revoked: string | undefined, @Res() res: Response): Promise<void> {
    const overview = await this.portal.overview(caller);
    const flash = revoked
      ? { kind: 'ok' as const, text: `Key “${revoked.slice(0, 128)}” revoked. It stops working everywhere within a second.` }
      : undefined;
    sendPage(res, 200, portalPage({ user: pageUser(caller), overview, apiBaseUrl: this.apiBaseUrl, flash }));
  }

  @Post('keys')
  @UseGuards(BrowserSessionGuard)
  async createKey(
    @Caller() caller: BrowserCaller,
    @Body() form: { name?: unknown; expiresInDays?: unknown },
    @Res() res: Response,
  ): Promise<void> {
    try {
      const created = await this.portal.createKey(caller, form);
      sendPage(
        res,
        201,
        portalPage({ user: pageUser(caller), overview: await this.portal.overview(caller), apiBaseUrl: this.apiBaseUrl, created }),
      );
    } catch (err) {
      if (!(err instanceof PortalInputError)) throw err;
      const name = typeof form.name === 'string' ? form.name.slice(0, 128) : '';
      sendPage(
        res,
        400,
        portalPage({
          user: pageUser(caller),
          overview: await this.portal.overview(caller),
          apiBaseUrl: this.apiBaseUrl,
          flash: { kind: 'error', text: err.message },
          form: { name },
        }),
      );
    }
  }

  @Post('keys/:keyId/revoke')
  @UseGuards(BrowserSessionGuard)
  async revokeKey(@Caller() caller: BrowserCaller, @Param('keyId') keyId: string, @Res() res: Response): Promise<void> {
    try {
      const revoked = await this.portal.revokeKey(caller, keyId);
      res.redirect(303, `/portal?revoked=${encodeURIComponent(revoked.name ?? revoked.prefix)}`);
    } catch (err) {
      if (err instanceof PortalInputError) throw new PageError(404, 'No such key', err.message);
      throw err;
    }
  }

  @Get('admin')
  @UseGuards(BrowserSessionGuard, AdminGuard)
  async admin(@Caller() caller: BrowserCaller, @Query('done') done: string | undefined, @Res() res: Response): Promise<void> {
    sendPage(res, 200, adminPage(pageUser(caller), await this.portal.adminOverview(), this.config.PORTAL_TIME_ZONE, done?.slice(0, 200)));
  }

  @Post('admin/users/:userId')
  @UseGuards(BrowserSessionGuard, AdminGuard)
  async updateUser(
    @Caller() caller: BrowserCaller,
    @Param('userId') userId: string,
    @Body('action') action: unknown,
    @Res() res: Response,
  ): Promise<void> {
    if (action !== 'disable' && action !== 'enable' && action !== 'end-sessions')
      throw new PageError(400, 'Unknown action', 'Choose disable, enable or end sessions.');
    if (action === 'disable' && userId === caller.user.userId)
      throw new PageError(400, 'Not allowed', 'You cannot disable your own account.');
    const user = await this.users.update(
      { user: userId, ...(action === 'end-sessions' ? { endSessions: true } : { disabled: action === 'disable' }) },
      caller.user.userId,
    );
    const done =
      action === 'end-sessions' ? `Sessions of ${user.email} ended.` : `${user.email} ${action === 'disable' ? 'disabled' : 'enabled'}.`;
    res.redirect(303, `/portal/admin?done=${encodeURIComponent(done)}`);
  }

  @Get('assets/portal.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=86400')
  css(): string {
    return PORTAL_CSS;
  }

  @Get('assets/portal.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=86400')
  js(): string {
    return PORTAL_JS;
  }
}
