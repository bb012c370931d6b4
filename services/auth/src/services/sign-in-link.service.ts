import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { checkSignInLink, SIGN_IN_TOKEN } from '../policy/sign-in-link';
import { SignInLinkRepository } from '../repositories/sign-in-link.repository';
import { Tokens } from '../repositories/tokens';
import { AccountConflictError, UserRepository } from '../repositories/user.repository';
import { NewSession, SessionService } from './session.service';

export type SignInLinkResult = { ok: true; session: NewSession } | { ok: false; status: number; message: string };

const GONE = 'This sign-in link has expired or has already been used. Links work once: start the platform again (npm start) for a new one.';

/** Signing in with a one-time link, where no identity provider is configured (the quick start without SimpleSAMLphp). */
@Injectable()
export class SignInLinkService {
  constructor(
    private readonly links: SignInLinkRepository,
    private readonly users: UserRepository,
    private readonly sessions: SessionService,
    private readonly tokens: Tokens,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.links.enabled;
  }

  async redeem(token: string | undefined, ctx: { clientIp: string | undefined; userAgent: string | undefined }): Promise<SignInLinkResult> {
    if (!this.links.enabled) return { ok: false, status: 404, message: 'One-time sign-in links are not enabled here.' };
    if (!token || !SIGN_IN_TOKEN.test(token)) return { ok: false, status: 400, message: 'This is not a sign-in link.' };
    const now = this.clock.now();
    const verdict = checkSignInLink(this.links.read(), this.tokens.hash(token).toString('hex'), (a, b) => this.tokens.same(a, b), now);
    if (!verdict.ok) {
      this.logger.warn('one-time sign-in link refused', { reason: verdict.reason, clientIp: ctx.clientIp });
      return { ok: false, status: 410, message: GONE };
    }
    if (!this.links.claim()) {
      this.logger.warn('one-time sign-in link refused', { reason: 'already_used', clientIp: ctx.clientIp });
      return { ok: false, status: 410, message: GONE };
    }
    const { record } = verdict;
    let user;
    try {
      user = await this.users.upsertFromLogin(
        {
          userId: record.email,
          email: record.email,
          eppn: null,
          displayName: record.displayName,
          affiliations: [],
          roles: record.admin ? ['user', 'admin'] : ['user'],
        },
        null,
        new Date(now),
      );
    } catch (err) {
      if (err instanceof AccountConflictError) return { ok: false, status: 409, message: `${record.email} belongs to another account.` };
      throw err;
    }
    if (user.disabledAt) return { ok: false, status: 403, message: 'This account has been disabled by an administrator.' };
    const session = await this.sessions.create(user, {
      idpEntityId: null,
      nameId: null,
      sessionIndex: null,
      clientIp: ctx.clientIp ?? null,
      userAgent: ctx.userAgent ?? null,
    });
    this.logger.info('user logged in', { userId: user.userId, via: 'one-time link', roles: user.roles, sessionId: session.sessionId });
    return { ok: true, session };
  }
}
