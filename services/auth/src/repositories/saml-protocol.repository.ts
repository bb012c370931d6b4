import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import * as samlify from 'samlify';
import { SignedXml } from 'xml-crypto';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { OID } from '../policy/attribute-mapping';
import type { AssertionFacts, NameId, RejectReason } from '../policy/assertion-policy';
import type { IdentityProviderInfo } from './federation-metadata.repository';
import { validateSamlSchema } from './saml-schema';
import {
  child,
  children,
  descendants,
  escapeXml,
  NS,
  parseXml,
  readAssertionFacts,
  readStatus,
  STATUS_SUCCESS,
  weakSignatureAlgorithm,
  XmlError,
} from './saml-xml';

const BINDING = samlify.Constants.namespace.binding;
const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const MAX_RESPONSE_BYTES = 512 * 1024;

export type VerifiedResponse = { ok: true; facts: AssertionFacts } | { ok: false; reason: RejectReason; detail: string };

/** What an IdP's LogoutRequest asks us to end. */
export interface IdpLogoutRequest {
  id: string;
  nameId: string | null;
  sessionIndexes: string[];
}

/** Query parameters of a redirect-binding message, raw (as sent) and decoded. */
export interface RedirectMessage {
  rawQuery: string;
  query: Record<string, string>;
}

const fail = (reason: RejectReason, detail: string): VerifiedResponse => ({ ok: false, reason, detail });

/** The exact bytes a redirect-binding signature covers: the three parameters as they were encoded on the wire. */
export function signedOctets(rawQuery: string, kind: 'SAMLRequest' | 'SAMLResponse'): string {
  const raw = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) raw.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return [kind, 'RelayState', 'SigAlg']
    .filter((k) => raw.has(k))
    .map((k) => `${k}=${raw.get(k)}`)
    .join('&');
}

/** Our SP metadata: discovery response endpoint, UI name, keys, SLO, ACS and the attributes we need, by OID. */
function spMetadataXml(c: AuthConfig, certBody: string): string {
  const requested: [string, string, boolean][] = [
    ['eduPersonPrincipalName', OID.eduPersonPrincipalName, true],
    ['mail', OID.mail, true],
    ['displayName', OID.displayName, false],
    ['eduPersonAffiliation', OID.eduPersonAffiliation, false],
  ];
  const key = (use: string) =>
    `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  const name = escapeXml(c.SAML_SP_DISPLAY_NAME);
  return (
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" xmlns:mdui="${NS.mdui}" xmlns:idpdisc="${NS.idpdisc}" ` +
    `ID="_${randomUUID()}" entityID="${escapeXml(c.SAML_SP_ENTITY_ID)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:Extensions>` +
    `<idpdisc:DiscoveryResponse Binding="urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol" Location="${escapeXml(c.endpoints.login)}" index="1"/>` +
    `<mdui:UIInfo><mdui:DisplayName xml:lang="en">${name}</mdui:DisplayName></mdui:UIInfo>` +
    `</md:Extensions>` +
    key('signing') +
    key('encryption') +
    `<md:SingleLogoutService Binding="${BINDING.redirect}" Location="${escapeXml(c.endpoints.slo)}"/>` +
    `<md:NameIDFormat>${TRANSIENT}</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="${BINDING.post}" Location="${escapeXml(c.endpoints.acs)}" index="0" isDefault="true"/>` +
    `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">${name}</md:ServiceName>` +
    requested
      .map(
        ([friendly, oid, required]) =>
          `<md:RequestedAttribute FriendlyName="${friendly}" Name="${oid}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" isRequired="${required}"/>`,
      )
      .join('') +
    `</md:AttributeConsumingService>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

const certBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

/**
 * The SAML 2.0 protocol through samlify: SP metadata (signed), AuthnRequests and LogoutRequests over
 * HTTP-Redirect, and login responses checked down to a verified assertion — schema, status,
 * XML signature (response or assertion) with the IdP's key, decryption. Whether the verified
 * assertion is acceptable is the assertion policy's call.
 */
@Injectable()
export class SamlProtocol implements OnModuleInit {
  private readonly key: string;
  private readonly cert: string;
  /** samlify checks that AuthnRequestsSigned matches the IdP's WantAuthnRequestsSigned, so one SP per choice. */
  private readonly sp: { signed: samlify.ServiceProviderInstance; unsigned: samlify.ServiceProviderInstance } | undefined;
  private readonly idps = new WeakMap<IdentityProviderInfo, samlify.IdentityProviderInstance>();
  private metadata?: string;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.key = config.SAML_SP_KEY_FILE?.text ?? '';
    this.cert = config.SAML_SP_CERT_FILE?.text ?? '';
    if (!this.key || !this.cert) return;
    const sp = (signed: boolean) =>
      samlify.ServiceProvider({
        entityID: config.SAML_SP_ENTITY_ID,
        authnRequestsSigned: signed,
        wantAssertionsSigned: true,
        wantLogoutRequestSigned: true,
        wantLogoutResponseSigned: true,
        privateKey: this.key,
        signingCert: this.cert,
        encPrivateKey: this.key,
        encryptCert: this.cert,
        requestSignatureAlgorithm: RSA_SHA256,
        nameIDFormat: [TRANSIENT],
        allowCreate: true,
        assertionConsumerService: [{ Binding: BINDING.post, Location: config.endpoints.acs }],
        singleLogoutService: [{ Binding: BINDING.redirect, Location: config.endpoints.slo }],
      });
    this.sp = { signed: sp(true), unsigned: sp(false) };
  }

  get configured(): boolean {
    return this.sp !== undefined;
  }

  onModuleInit(): void {
    samlify.setSchemaValidator({ validate: validateSamlSchema });
    if (!this.sp) return;
    // The schema validator takes seconds to load on first use; pay that at start, not on a user's login.
    const started = this.clock.now();
    const sample =
      `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" ID="_warm-up" Version="2.0" IssueInstant="2020-01-01T00:00:00Z">` +
      `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>`;
    validateSamlSchema(sample).then(
      () => this.logger.info('SAML schema validator ready', { ms: this.clock.now() - started }),
      (err: Error) => this.logger.error('SAML schema validator broken', { err: err.message }),
    );
  }

  /** SP metadata with an enveloped RSA-SHA256 signature by the SP key. */
  spMetadata(): string {
    if (!this.metadata) {
      const sig = new SignedXml({
        privateKey: this.key,
        publicCert: this.cert,
        signatureAlgorithm: RSA_SHA256,
        canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
      });
      sig.addReference({
        xpath: "/*[local-name(.)='EntityDescriptor']",
        transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
        digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
      });
      sig.computeSignature(spMetadataXml(this.config, certBody(this.cert)), {
        location: { reference: '/*', action: 'prepend' },
        prefix: 'ds',
      });
      this.metadata = `<?xml version="1.0" encoding="UTF-8"?>\n${sig.getSignedXml()}`;
    }
    return this.metadata;
  }

  private requireSp() {
    if (!this.sp) throw new Error('SAML is not configured (SAML_SP_KEY_FILE, SAML_SP_CERT_FILE)');
    return this.sp;
  }

  private entity(info: IdentityProviderInfo): samlify.IdentityProviderInstance {
    let idp = this.idps.get(info);
    if (!idp) {
      idp = samlify.IdentityProvider({
        entityID: info.entityId,
        signingCert: info.signingCerts,
        ...(info.encryptionCerts.length ? { encryptCert: info.encryptionCerts } : {}),
        wantAuthnRequestsSigned: info.wantsSignedRequests,
        // Our LogoutRequests and LogoutResponses to IdPs are always signed.
        wantLogoutRequestSigned: true,
        wantLogoutResponseSigned: true,
        requestSignatureAlgorithm: RSA_SHA256,
        singleSignOnService: [{ Binding: BINDING.redirect, Location: info.ssoRedirectUrl }],
        singleLogoutService: info.sloRedirectUrl ? [{ Binding: BINDING.redirect, Location: info.sloRedirectUrl }] : [],
      });
      this.idps.set(info, idp);
    }
    return idp;
  }

  /** An AuthnRequest over HTTP-Redirect (signed when the IdP asks for it): its ID and the URL to send the browser to. */
  loginRequest(info: IdentityProviderInfo): { id: string; url: string } {
    const sp = this.requireSp();
    const { id, context } = (info.wantsSignedRequests ? sp.signed : sp.unsigned).createLoginRequest(this.entity(info), 'redirect');
    return { id, url: context };
  }

  /** Reads the Issuer of a response before anything is trusted, only to know whose key to check it with. */
  claimedIssuer(samlResponse: string): string | null {
    try {
      const root = parseXml(Buffer.from(samlResponse, 'base64').toString('utf8')).documentElement;
      // The Response's Issuer is optional; the (unencrypted) assertion's is not.
      const issuer = child(root, NS.assertion, 'Issuer') ?? child(child(root, NS.assertion, 'Assertion'), NS.assertion, 'Issuer');
      return (issuer?.textContent ?? '').trim() || null;
    } catch {
      return null;
    }
  }

  /** Decodes, schema-checks and signature-checks a login response; returns the facts of the verified assertion. */
  async verifyResponse(info: IdentityProviderInfo, samlResponse: string): Promise<VerifiedResponse> {
    const sp = this.requireSp();
    if (!samlResponse || samlResponse.length > MAX_RESPONSE_BYTES * 1.4) return fail('malformed', 'missing or oversized SAMLResponse');
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    let doc: Document;
    try {
      doc = parseXml(xml);
    } catch (err) {
      return fail('malformed', err instanceof XmlError ? err.message : 'unreadable XML');
    }
    const root = doc.documentElement;
    if (root.namespaceURI !== NS.protocol || root.localName !== 'Response')
      return fail('malformed', `root element is ${root.localName}, not a SAML Response`);
    try {
      await samlify.SamlLib.isValidXml(xml);
    } catch (err) {
      return fail('malformed', `fails the SAML schema: ${String((err as Error)?.message ?? err).slice(0, 300)}`);
    }
    const status = readStatus(root);
    if (status.code !== STATUS_SUCCESS) {
      return fail(
        'idp_status',
        `IdP answered ${status.code ?? 'no status'}${status.subcode ? ` / ${status.subcode}` : ''}${status.message ? `: ${status.message}` : ''}`,
      );
    }
    // Exactly one assertion, directly in the Response: anything else is how signature wrapping starts.
    const assertions = descendants(doc, NS.assertion, 'Assertion').length + descendants(doc, NS.assertion, 'EncryptedAssertion').length;
    const direct = children(root, NS.assertion, 'Assertion').length + children(root, NS.assertion, 'EncryptedAssertion').length;
    if (assertions !== 1 || direct !== 1)
      return fail('signature_wrapping', `response carries ${assertions} assertions (${direct} in place); exactly one is accepted`);

    const idp = this.entity(info);
    const verify = (document: string): [boolean, string | null] | VerifiedResponse => {
      try {
        return samlify.SamlLib.verifySignature(document, { metadata: idp.entityMeta, signatureAlgorithm: RSA_SHA256 } as never);
      } catch (err) {
        const code = (err as Error).message;
        if (code === 'ERR_POTENTIAL_WRAPPING_ATTACK')
          return fail('signature_wrapping', 'a signature or assertion is hidden inside SubjectConfirmationData');
        if (code === 'ERROR_UNMATCH_CERTIFICATE_DECLARATION_IN_METADATA')
          return fail('bad_signature', `signed with a certificate that is not in ${info.entityId}'s metadata`);
        return fail('bad_signature', `signature check failed: ${code}`);
      }
    };
    const encrypted = children(root, NS.assertion, 'EncryptedAssertion').length === 1;
    // An encrypted assertion carries its own signature inside; that is checked after decryption.
    if (!encrypted && descendants(doc, NS.dsig, 'Signature').length === 0)
      return fail('unsigned', 'neither the response nor the assertion is signed');
    // xml-crypto verifies with whatever algorithm the document names: refuse SHA-1 before it gets the chance.
    const weak = weakSignatureAlgorithm(doc);
    if (weak) return fail('weak_algorithm', `signed with ${weak}; only SHA-2 signatures and digests are accepted`);
    let verified = verify(xml);
    if (!Array.isArray(verified)) return verified;
    let assertionXml = verified[1];
    try {
      if (encrypted && verified[0]) {
        // The response signature covers the encrypted assertion; decrypt what was verified.
        [, assertionXml] = await samlify.SamlLib.decryptAssertion(sp.unsigned, verified[1] ?? xml);
      } else if (encrypted) {
        const [decrypted] = await samlify.SamlLib.decryptAssertion(sp.unsigned, xml);
        const decryptedDoc = parseXml(decrypted);
        if (descendants(decryptedDoc, NS.dsig, 'Signature').length === 0)
          return fail('unsigned', 'neither the response nor the encrypted assertion is signed');
        const weakInside = weakSignatureAlgorithm(decryptedDoc);
        if (weakInside)
          return fail('weak_algorithm', `encrypted assertion signed with ${weakInside}; only SHA-2 signatures and digests are accepted`);
        verified = verify(decrypted);
        if (!Array.isArray(verified)) return verified;
        assertionXml = verified[1];
      }
    } catch (err) {
      return fail('malformed', `assertion could not be decrypted: ${(err as Error).message}`);
    }
    if (!verified[0])
      return fail('bad_signature', `no signature verifies with ${info.entityId}'s key (altered after signing, or signed by someone else)`);
    if (!assertionXml) return fail('bad_signature', 'the signature does not cover an assertion');
    let assertion: Element;
    try {
      assertion = parseXml(assertionXml).documentElement;
    } catch {
      return fail('malformed', 'verified assertion is unreadable');
    }
    if (assertion.namespaceURI !== NS.assertion || assertion.localName !== 'Assertion')
      return fail('bad_signature', 'the signature does not cover an assertion');
    return { ok: true, facts: readAssertionFacts(root, assertion) };
  }

  /** A signed LogoutRequest for this session's NameID, over HTTP-Redirect; undefined when the IdP has no SLO endpoint. */
  logoutRequest(info: IdentityProviderInfo, nameId: NameId, sessionIndex: string | null): { id: string; url: string } | undefined {
    if (!info.sloRedirectUrl) return undefined;
    const sp = this.requireSp();
    const id = `_${randomUUID()}`;
    const q = (name: string, value: string | null) => (value ? ` ${name}="${escapeXml(value)}"` : '');
    const xml =
      `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" ` +
      `IssueInstant="${new Date(this.clock.now()).toISOString()}" Destination="${escapeXml(info.sloRedirectUrl)}">` +
      `<saml:Issuer>${escapeXml(this.config.SAML_SP_ENTITY_ID)}</saml:Issuer>` +
      `<saml:NameID${q('Format', nameId.format)}${q('NameQualifier', nameId.nameQualifier)}${q('SPNameQualifier', nameId.spNameQualifier)}>${escapeXml(nameId.value)}</saml:NameID>` +
      (sessionIndex ? `<samlp:SessionIndex>${escapeXml(sessionIndex)}</samlp:SessionIndex>` : '') +
      `</samlp:LogoutRequest>`;
    const { context } = sp.unsigned.createLogoutRequest(
      this.entity(info),
      'redirect',
      { logoutNameID: nameId.value },
      { customTagReplacement: () => ({ id, context: xml }) },
    );
    return { id, url: context };
  }

  /** Checks an IdP's LogoutResponse (signature, issuer, success status). */
  async verifyLogoutResponse(info: IdentityProviderInfo, message: RedirectMessage): Promise<{ inResponseTo: string | null }> {
    const result = await this.requireSp().unsigned.parseLogoutResponse(this.entity(info), 'redirect', {
      query: message.query,
      octetString: signedOctets(message.rawQuery, 'SAMLResponse'),
    } as never);
    const extract = result.extract as { response?: { inResponseTo?: string } };
    return { inResponseTo: extract.response?.inResponseTo ?? null };
  }

  /** Checks an IdP-initiated LogoutRequest (signature, schema) and says what it ends. */
  async verifyLogoutRequest(info: IdentityProviderInfo, message: RedirectMessage): Promise<IdpLogoutRequest & { requestInfo: unknown }> {
    const result = await this.requireSp().unsigned.parseLogoutRequest(this.entity(info), 'redirect', {
      query: message.query,
      octetString: signedOctets(message.rawQuery, 'SAMLRequest'),
    } as never);
    const extract = result.extract as { request?: { id?: string }; issuer?: string; nameID?: string; sessionIndex?: string | string[] };
    if (extract.issuer !== info.entityId) throw new Error(`LogoutRequest issuer ${extract.issuer} is not ${info.entityId}`);
    const indexes = extract.sessionIndex === undefined ? [] : ([] as string[]).concat(extract.sessionIndex);
    return { id: extract.request?.id ?? '', nameId: extract.nameID ?? null, sessionIndexes: indexes, requestInfo: result };
  }

  /** Our signed LogoutResponse to an IdP-initiated logout. */
  logoutResponse(info: IdentityProviderInfo, requestInfo: unknown, relayState?: string): string {
    const { context } = this.requireSp().unsigned.createLogoutResponse(this.entity(info), requestInfo as never, 'redirect', { relayState });
    return context;
  }

  /** Issuer of a redirect-binding message (unverified), to pick whose key checks it. */
  redirectIssuer(message: RedirectMessage): string | null {
    const encoded = message.query.SAMLResponse ?? message.query.SAMLRequest;
    if (!encoded) return null;
    try {
      const xml = samlify.Utility.inflateString(encoded);
      return (child(parseXml(xml).documentElement, NS.assertion, 'Issuer')?.textContent ?? '').trim() || null;
    } catch {
      return null;
    }
  }
}
