import { Injectable } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { FederationMetadata } from '../repositories/federation-metadata.repository';
import { RedirectMessage, SamlProtocol } from '../repositories/saml-protocol.repository';
import { BrowserCaller, SessionService } from './session.service';

export type SloOutcome =
  { kind: 'logged-out' } | { kind: 'logged-out-unconfirmed' } | { kind: 'redirect'; url: string } | { kind: 'refused'; message: string };

/** Local logout, and SAML single logout with the IdP when it offers it. */
@Injectable()
export class LogoutService {
  constructor(
    private readonly sessions: SessionService,
    private readonly federation: FederationMetadata,
    private readonly saml: SamlProtocol,
    private readonly logger: Logger,
  ) {}

  /** Ends the session here; returns the IdP's logout URL when the IdP can end its own session too. */
  async logout(caller: BrowserCaller): Promise<{ idpLogoutUrl?: string }> {
    await this.sessions.end(caller.session);
    const { idpEntityId, nameId, sessionIndex } = caller.session;
    const idp = idpEntityId ? this.federation.get(idpEntityId) : undefined;
    if (!idp || !nameId || !this.saml.configured) return {};
    const request = this.saml.logoutRequest(idp, nameId, sessionIndex);
    if (request) this.logger.info('logout request sent', { requestId: request.id, idp: idp.entityId, sessionId: caller.session.sessionId });
    return request ? { idpLogoutUrl: request.url } : {};
  }

  /** The SLO endpoint: the IdP's answer to our LogoutRequest, or its own LogoutRequest. */
  async singleLogout(message: RedirectMessage): Promise<SloOutcome> {
    const issuer = this.saml.redirectIssuer(message);
    const idp = issuer ? this.federation.get(issuer) : undefined;
    if (!idp) {
      this.logger.warn('logout message rejected', { reason: 'unknown_idp', issuer });
      return { kind: 'refused', message: 'The logout message did not come from a trusted identity provider.' };
    }
    if (message.query.SAMLResponse) {
      // Our session already ended before the request went out; the answer only decides what the page says.
      try {
        const { inResponseTo } = await this.saml.verifyLogoutResponse(idp, message);
        this.logger.info('identity provider confirmed logout', { idp: idp.entityId, inResponseTo });
        return { kind: 'logged-out' };
      } catch (err) {
        this.logger.warn('logout response not accepted', { reason: (err as Error).message, idp: idp.entityId });
        return { kind: 'logged-out-unconfirmed' };
      }
    }
    try {
      const request = await this.saml.verifyLogoutRequest(idp, message);
      if (request.nameId) await this.sessions.endForIdpSubject(idp.entityId, request.nameId, request.sessionIndexes);
      return { kind: 'redirect', url: this.saml.logoutResponse(idp, request.requestInfo, message.query.RelayState) };
    } catch (err) {
      this.logger.warn('logout message rejected', { reason: (err as Error).message, idp: idp.entityId });
      return { kind: 'refused', message: 'The logout message could not be verified.' };
    }
  }
}
