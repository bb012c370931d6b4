import { Inject, Injectable } from '@nestjs/common';
import { sessionDigest, type SessionVerifyReply } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import type { NameId } from '../policy/assertion-policy';
import { needsTouch, sessionStatus, SessionStatus } from '../policy/session-policy';
import { SessionEntity, tokenHashOf } from '../repositories/session.entity';
import { SessionRepository } from '../repositories/session.repository';
import { Tokens } from '../repositories/tokens';
import { UserEntity } from '../repositories/user.entity';
import { UserRepository } from '../repositories/user.repository';

export interface NewSession {
  /** The cookie value; shown to the browser once, stored only hashed. */
  token: string;
  sessionId: string;
  expiresAt: Date;
}

export interface SamlSessionInfo {
  /** Null for a session from a one-time sign-in link. */
  idpEntityId: string | null;
  nameId: NameId | null;
  sessionIndex: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

/** The caller of a portal request: an active session and its (enabled) user. */
export interface BrowserCaller {
  session: SessionEntity;
  user: UserEntity;
  isAdmin: boolean;
}

export type ResolvedSession =
  { ok: true; caller: BrowserCaller } | { ok: false; reason: Exclude<SessionStatus, 'active'> | 'unknown' | 'disabled' };

/** How long ended sessions stay listed before they are deleted. */
const KEEP_ENDED_MS = 7 * 86_400_000;

/** Server-side browser sessions: revocable at any time, only a hash of the cookie stored. */
@Injectable()
export class SessionService {
  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly sessions: SessionRepository,
    private readonly users: UserRepository,
    private readonly tokens: Tokens,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(user: UserEntity, saml: SamlSessionInfo): Promise<NewSession> {
    const token = this.tokens.create();
    const now = this.clock.now();
    const expiresAt = new Date(now + this.config.AUTH_SESSION_TTL);
    const sessionId = this.tokens.uuid();
    await this.sessions.insert({
      tokenHash: tokenHashOf(sessionDigest(token)),
      sessionId,
      userId: user.userId,
      csrfToken: this.tokens.create(),
      idpEntityId: saml.idpEntityId,
      nameId: saml.nameId,
      sessionIndex: saml.sessionIndex,
      clientIp: saml.clientIp,
      userAgent: saml.userAgent?.slice(0, 512) ?? null,
      createdAt: new Date(now),
      lastSeenAt: new Date(now),
      expiresAt,
      revokedAt: null,
    });
    return { token, sessionId, expiresAt };
  }

  async resolve(token: string | undefined): Promise<ResolvedSession> {
    if (!token || token.length > 256) return { ok: false, reason: 'unknown' };
    return this.resolveDigest(sessionDigest(token));
  }

  /** A session from its cookie's digest: how the gateway asks over NATS, which never carries the cookie. */
  async resolveDigest(digest: string): Promise<ResolvedSession> {
    const hash = tokenHashOf(digest);
    const session = await this.sessions.byTokenHash(hash);
    if (!session) return { ok: false, reason: 'unknown' };
    const now = this.clock.now();
    const status = sessionStatus(
      { expiresAt: session.expiresAt.getTime(), lastSeenAt: session.lastSeenAt.getTime(), revokedAt: session.revokedAt?.getTime() ?? null },
      now,
      this.config.AUTH_SESSION_IDLE,
    );
    if (status !== 'active') return { ok: false, reason: status };
    const user = await this.users.byId(session.userId);
    if (!user) return { ok: false, reason: 'unknown' };
    if (user.disabledAt) return { ok: false, reason: 'disabled' };
    if (needsTouch(session.lastSeenAt.getTime(), now)) {
      this.sessions
        .touch(hash, new Date(now))
        .catch((err) => this.logger.warn('could not record session use', { sessionId: session.sessionId, err }));
    }
    return { ok: true, caller: { session, user, isAdmin: user.roles.includes('admin') } };
  }

  /** `verifyDigest` for a cookie auth itself was sent (its forward-auth endpoint). */
  verify(token: string): Promise<SessionVerifyReply> {
    return token.length > 256 ? Promise.resolve({ valid: false, reason: 'unknown' }) : this.verifyDigest(sessionDigest(token));
  }

  /** The NATS view of `resolve`, for the gateway, from the cookie's digest. */
  async verifyDigest(digest: string): Promise<SessionVerifyReply> {
    const resolved = await this.resolveDigest(digest);
    if (!resolved.ok) return { valid: false, reason: resolved.reason };
    const { session, user } = resolved.caller;
    return {
      valid: true,
      sessionId: session.sessionId,
      expiresAt: session.expiresAt.toISOString(),
      user: { userId: user.userId, email: user.email, displayName: user.displayName, roles: user.roles as ('user' | 'admin')[] },
    };
  }

  async end(session: SessionEntity): Promise<void> {
    await this.sessions.revoke(session.tokenHash, new Date(this.clock.now()));
    this.logger.info('session ended', { sessionId: session.sessionId, userId: session.userId });
  }

  async endAllOf(userId: string): Promise<number> {
    const n = await this.sessions.revokeForUser(userId, new Date(this.clock.now()));
    this.logger.info('sessions ended', { userId, sessions: n });
    return n;
  }

  async endForIdpSubject(idpEntityId: string, nameId: string, sessionIndexes: string[]): Promise<number> {
    const n = await this.sessions.revokeForIdpSubject(idpEntityId, nameId, sessionIndexes, new Date(this.clock.now()));
    this.logger.info('sessions ended by the identity provider', { idp: idpEntityId, sessions: n });
    return n;
  }

  activeCount(userId: string): Promise<number> {
    return this.sessions.activeForUser(userId, new Date(this.clock.now())).then((s) => s.length);
  }

  async purge(): Promise<void> {
    await this.sessions.purgeEnded(new Date(this.clock.now() - KEEP_ENDED_MS));
  }

  /** Constant-time check of a form's CSRF token against the session's. */
  csrfMatches(session: SessionEntity, presented: unknown): boolean {
    return typeof presented === 'string' && this.tokens.same(presented, session.csrfToken);
  }
}
