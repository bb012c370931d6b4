import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { checkAssertion, RejectReason } from '../policy/assertion-policy';
import { mapProfile } from '../policy/attribute-mapping';
import { admitLogin } from '../policy/login-rate';
import { loginRoute } from '../policy/login-route';
import { safeReturnPath } from '../policy/return-to';
import { FederationMetadata, IdentityProviderInfo } from '../repositories/federation-metadata.repository';
import { SamlProtocol } from '../repositories/saml-protocol.repository';
import { SamlStateRepository } from '../repositories/saml-state.repository';
import { Tokens } from '../repositories/tokens';
import { AccountConflictError, IdentityNotLinkedError, UserRepository } from '../repositories/user.repository';
import { NewSession, SessionService } from './session.service';

const responses = new Counter({
  name: 'maas_saml_responses_total',
  help: 'SAML login responses received at the ACS, by outcome (accepted, or the reason for rejecting)',
  labelNames: ['outcome'],
});

const PURGE_AT_MOST_EVERY_MS = 10 * 60_000;
const PURGE_AT_LEAST_EVERY_MS = 1_000;
const RATE_WINDOW_MS = 60_000;
const RATE_MAX_TRACKED = 100_000;

export type LoginStart =
  | { kind: 'redirect'; url: string; browserNonce: string }
  | { kind: 'discovery'; url: string }
  | { kind: 'choose'; idps: { entityId: string; displayName: string }[]; returnTo: string }
  | { kind: 'refused'; status: number; title: string; message: string; retryAfterSeconds?: number };

export type LoginResult =
  { ok: true; session: NewSession; returnTo: string } | { ok: false; status: number; reason: RejectReason; message: string };

/** What the user is told for each refusal; the precise reason goes to the log only. */
const USER_MESSAGE: Partial<Record<RejectReason, string>> = {
  not_entitled: 'Your university account is not entitled to use this service. If you think it should be, contact the service desk.',
  missing_attribute:
    'Your university did not release the attributes this service needs (eduPersonPrincipalName or subject-id, and e-mail address). Ask your IdP administrator to release them.',
  account_disabled: 'This account has been disabled by an administrator.',
  account_conflict: 'Your e-mail address is already linked to another account. Contact the service desk.',
  identity_not_linked:
    'An account with your name or e-mail address already signs in through another institution. Ask the service desk to link this sign-in to it.',
  scope_mismatch: 'Your institution sent an identity that is not its own to vouch for. Contact your IdP administrator.',
  idp_status: 'Your university did not complete the sign-in.',
  unknown_in_response_to: 'This sign-in was not started here or has already been used. Please start again.',
  browser_mismatch: 'This sign-in was started in another browser. Please start again.',
  expired: 'The sign-in took too long. Please start again.',
};

export interface LoginContext {
  browserNonce: string | undefined;
  clientIp: string | undefined;
  userAgent: string | undefined;
}

/** SP-initiated SAML login: sending AuthnRequests and accepting (or refusing) the responses. */
@Injectable()
export class SamlLoginService implements OnModuleInit, OnApplicationShutdown {
  private purgeTimer?: NodeJS.Timeout;
  private readonly loginWindows = new Map<string, { startedAt: number; count: number }>();

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly federation: FederationMetadata,
    private readonly saml: SamlProtocol,
    private readonly state: SamlStateRepository,
    private readonly users: UserRepository,
    private readonly sessions: SessionService,
    private readonly tokens: Tokens,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Unanswered requests are deleted on a timer: logins that never come back must not pile up rows. */
  onModuleInit(): void {
    const every = Math.min(PURGE_AT_MOST_EVERY_MS, Math.max(PURGE_AT_LEAST_EVERY_MS, this.config.SAML_REQUEST_TTL));
    this.purgeTimer = setInterval(() => void this.purge(), every);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purgeTimer);
  }

  get enabled(): boolean {
    return this.saml.configured;
  }

  async start(
    requestedIdp: string | undefined,
    next: string | undefined,
    browserNonce: string | undefined,
    clientIp?: string,
  ): Promise<LoginStart> {
    const returnTo = safeReturnPath(next);
    if (!this.saml.configured) {
      return {
        kind: 'refused',
        status: 503,
        title: 'Sign-in is not configured',
        message: 'No identity provider has been configured for this service yet.',
      };
    }
    const admitted = admitLogin(
      this.loginWindows,
      clientIp ?? 'unknown',
      { perWindow: this.config.AUTH_LOGIN_RATE_LIMIT, windowMs: RATE_WINDOW_MS, maxTracked: RATE_MAX_TRACKED },
      this.clock.now(),
    );
    if (!admitted.ok) {
      this.logger.warn('login rate limit reached', { clientIp, limitPerMinute: this.config.AUTH_LOGIN_RATE_LIMIT });
      const retryAfterSeconds = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
      return {
        kind: 'refused',
        status: 429,
        title: 'Too many sign-in attempts',
        message: `Too many sign-ins were started from your address. Try again in ${retryAfterSeconds} s.`,
        retryAfterSeconds,
      };
    }
    const idps = this.federation.list();
    const returnUrl = new URL(this.config.endpoints.login);
    returnUrl.searchParams.set('next', returnTo);
    const route = loginRoute({
      requested: requestedIdp,
      known: (id) => this.federation.get(id) !== undefined,
      count: idps.length,
      onlyIdp: idps[0]?.entityId,
      discoveryUrl: this.config.SAML_DISCOVERY_URL,
      spEntityId: this.config.SAML_SP_ENTITY_ID,
      returnUrl: returnUrl.toString(),
    });
    switch (route.kind) {
      case 'none':
        return {
          kind: 'refused',
          status: 503,
          title: 'Sign-in is unavailable',
          message: 'No identity provider metadata is loaded at the moment. Please try again later.',
        };
      case 'unknown-idp':
        this.logger.warn('login for an unknown identity provider', { idp: route.entityId });
        return {
          kind: 'refused',
          status: 400,
          title: 'Unknown institution',
          message: 'The institution you chose is not one this service trusts.',
        };
      case 'discovery':
        return { kind: 'discovery', url: route.url };
      case 'choose':
        return { kind: 'choose', idps: idps.map((i) => ({ entityId: i.entityId, displayName: i.displayName })), returnTo };
      case 'idp': {
        const idp = this.federation.get(route.entityId)!;
        const { id, url } = this.saml.loginRequest(idp);
        const nonce = browserNonce && /^[A-Za-z0-9_-]{43}$/.test(browserNonce) ? browserNonce : this.tokens.create();
        const now = this.clock.now();
        await this.state.savePending({
          requestId: id,
          idpEntityId: idp.entityId,
          browserHash: this.tokens.hash(nonce),
          returnTo,
          createdAt: new Date(now),
          expiresAt: new Date(now + this.config.SAML_REQUEST_TTL),
        });
        this.logger.info('authn request sent', { requestId: id, idp: idp.entityId, signed: idp.wantsSignedRequests });
        return { kind: 'redirect', url, browserNonce: nonce };
      }
    }
  }

  /** The ACS: every check, in an order that gives each attack its own logged reason. */
  async acs(samlResponse: string | undefined, ctx: LoginContext): Promise<LoginResult> {
    const result = await this.evaluate(samlResponse ?? '', ctx);
    responses.inc({ outcome: result.ok ? 'accepted' : result.reason });
    return result;
  }

  private refuse(reason: RejectReason, detail: string, ctx: LoginContext, idp?: string): LoginResult {
    this.logger.warn('saml response rejected', { reason, detail, idp, clientIp: ctx.clientIp });
    const status =
      reason === 'not_entitled' || reason === 'account_disabled' || reason === 'identity_not_linked' || reason === 'scope_mismatch'
        ? 403
        : 400;
    return {
      ok: false,
      status,
      reason,
      message: USER_MESSAGE[reason] ?? 'The sign-in response could not be accepted. Please start again.',
    };
  }

  private async evaluate(samlResponse: string, ctx: LoginContext): Promise<LoginResult> {
    if (!this.saml.configured) return this.refuse('unknown_idp', 'SAML is not configured', ctx);
    const issuer = this.saml.claimedIssuer(samlResponse);
    const idp: IdentityProviderInfo | undefined = issuer ? this.federation.get(issuer) : undefined;
    if (!idp)
      return this.refuse(
        issuer ? 'unknown_idp' : 'malformed',
        issuer ? `issuer ${issuer} is not a trusted IdP` : 'no readable Issuer',
        ctx,
        issuer ?? undefined,
      );

    const verified = await this.saml.verifyResponse(idp, samlResponse);
    if (!verified.ok) return this.refuse(verified.reason, verified.detail, ctx, idp.entityId);
    const facts = verified.facts;
    const now = this.clock.now();
    const verdict = checkAssertion(
      facts,
      {
        idpEntityId: idp.entityId,
        spEntityId: this.config.SAML_SP_ENTITY_ID,
        acsUrl: this.config.endpoints.acs,
        skewMs: this.config.SAML_CLOCK_SKEW,
      },
      now,
    );
    if (!verdict.ok) return this.refuse(verdict.reason, verdict.detail, ctx, idp.entityId);

    // Replay first: a replayed response would otherwise show up as an unknown InResponseTo.
    if (await this.state.assertionSeen(idp.entityId, verdict.assertionId)) {
      return this.refuse('replayed', `assertion ${verdict.assertionId} was already used`, ctx, idp.entityId);
    }
    // Every check that needs no state change comes before any: a post that fails them (another browser,
    // a stale request) must not burn the user's genuine assertion or their pending login.
    const pending = await this.state.peekPending(verdict.requestId);
    if (!pending)
      return this.refuse(
        'unknown_in_response_to',
        `InResponseTo ${verdict.requestId} is not a request we sent (or it was already answered)`,
        ctx,
        idp.entityId,
      );
    if (pending.expiresAt.getTime() <= now)
      return this.refuse('expired', `request ${pending.requestId} expired at ${pending.expiresAt.toISOString()}`, ctx, idp.entityId);
    if (pending.idpEntityId !== idp.entityId) {
      return this.refuse(
        'wrong_idp_for_request',
        `request ${pending.requestId} went to ${pending.idpEntityId}, answered by ${idp.entityId}`,
        ctx,
        idp.entityId,
      );
    }
    // Login CSRF: the browser finishing the login must be the one that started it.
    if (!ctx.browserNonce || !this.tokens.hash(ctx.browserNonce).equals(pending.browserHash)) {
      return this.refuse('browser_mismatch', 'the login-binding cookie is missing or belongs to another login', ctx, idp.entityId);
    }
    // Now claim both, each in one statement: of two concurrent posts, one wins.
    if (!(await this.state.markAssertionUsed(idp.entityId, verdict.assertionId, new Date(verdict.notOnOrAfter)))) {
      return this.refuse('replayed', `assertion ${verdict.assertionId} was already used`, ctx, idp.entityId);
    }
    if (!(await this.state.takePending(verdict.requestId))) {
      return this.refuse(
        'unknown_in_response_to',
        `request ${verdict.requestId} was answered by another response meanwhile`,
        ctx,
        idp.entityId,
      );
    }

    const mapped = mapProfile(
      facts.attributes,
      {
        eppn: this.config.SAML_ATTR_EPPN,
        subjectId: this.config.SAML_ATTR_SUBJECT_ID,
        pairwiseId: this.config.SAML_ATTR_PAIRWISE_ID,
        mail: this.config.SAML_ATTR_MAIL,
        displayName: this.config.SAML_ATTR_DISPLAY_NAME,
        affiliation: this.config.SAML_ATTR_AFFILIATION,
      },
      { userAffiliations: this.config.AUTH_USER_AFFILIATIONS, admins: this.config.AUTH_ADMINS },
      { entityId: idp.entityId, scopes: idp.scopes, sole: this.federation.list().length === 1 },
      { allowEmailOnly: this.config.AUTH_ALLOW_EMAIL_ONLY },
    );
    if (!mapped.ok) return this.refuse(mapped.reason, mapped.detail, ctx, idp.entityId);
    if (mapped.dropped.length)
      this.logger.warn('scoped attribute values outside the IdP scopes dropped', { idp: idp.entityId, values: mapped.dropped });

    let user;
    try {
      user = await this.users.signIn(mapped.profile, idp.entityId, new Date(now));
    } catch (err) {
      if (err instanceof AccountConflictError) return this.refuse('account_conflict', err.message, ctx, idp.entityId);
      if (err instanceof IdentityNotLinkedError) return this.refuse('identity_not_linked', err.message, ctx, idp.entityId);
      throw err;
    }
    if (user.disabledAt) return this.refuse('account_disabled', `${user.userId} is disabled`, ctx, idp.entityId);

    const session = await this.sessions.create(user, {
      idpEntityId: idp.entityId,
      nameId: facts.nameId,
      sessionIndex: facts.sessionIndex,
      clientIp: ctx.clientIp ?? null,
      userAgent: ctx.userAgent ?? null,
    });
    this.logger.info('user logged in', {
      userId: user.userId,
      idp: idp.entityId,
      roles: user.roles,
      sessionId: session.sessionId,
      assertionId: verdict.assertionId,
    });
    return { ok: true, session, returnTo: pending.returnTo };
  }

  private async purge(): Promise<void> {
    const now = this.clock.now();
    try {
      await this.state.purgeExpired(new Date(now));
      await this.sessions.purge();
    } catch (err) {
      this.logger.warn('could not purge expired SAML state', { err: (err as Error).message });
    }
  }
}
