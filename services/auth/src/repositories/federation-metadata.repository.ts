import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { SignedXml } from 'xml-crypto';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import type { Scope } from '../policy/attribute-mapping';
import { attr, child, children, NS, parseXml, weakSignatureAlgorithm, XmlError } from './saml-xml';

const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const RETRY_FAILED_URL_MS = 60_000;

/** One identity provider as its (federation) metadata describes it. */
export interface IdentityProviderInfo {
  entityId: string;
  displayName: string;
  ssoRedirectUrl: string;
  sloRedirectUrl: string | null;
  signingCerts: string[];
  encryptionCerts: string[];
  wantsSignedRequests: boolean;
  /** The `shibmd:Scope`s its scoped attributes (eppn, scoped affiliation, subject-id) must fall within. */
  scopes: Scope[];
  /** The earliest validUntil over the entity and every EntitiesDescriptor around it (ms), or null. */
  validUntil: number | null;
  source: string;
}

export class MetadataError extends Error {}

function certificates(idp: Element, use: 'signing' | 'encryption'): string[] {
  return children(idp, NS.metadata, 'KeyDescriptor')
    .filter((k) => (attr(k, 'use') ?? use) === use)
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(NS.dsig, 'X509Certificate') as unknown as ArrayLike<Element>))
    .map((c) => (c.textContent ?? '').replace(/\s+/g, ''))
    .filter(Boolean);
}

function displayName(entity: Element, idp: Element, prefer: string[]): string {
  const uiInfo = child(child(idp, NS.metadata, 'Extensions'), NS.mdui, 'UIInfo');
  const names = [
    ...(uiInfo ? children(uiInfo, NS.mdui, 'DisplayName') : []),
    ...children(child(entity, NS.metadata, 'Organization') ?? entity, NS.metadata, 'OrganizationDisplayName'),
  ];
  for (const lang of prefer) {
    const found = names.find((n) => n.getAttributeNS(NS.xml, 'lang') === lang || n.getAttribute('xml:lang') === lang);
    if (found?.textContent?.trim()) return found.textContent.trim();
  }
  return names.find((n) => n.textContent?.trim())?.textContent?.trim() ?? attr(entity, 'entityID') ?? '';
}

/** `shibmd:Scope`s in the Extensions of the entity and of its IDPSSODescriptor. */
function scopes(entity: Element, idp: Element): Scope[] {
  return [entity, idp]
    .flatMap((el) => {
      const extensions = child(el, NS.metadata, 'Extensions');
      return extensions ? children(extensions, NS.shibmd, 'Scope') : [];
    })
    .map((s) => ({ value: (s.textContent ?? '').trim(), regexp: ['true', '1'].includes(attr(s, 'regexp') ?? '') }))
    .filter((s) => s.value !== '');
}

/** Reads every SAML 2.0 IdP out of an EntityDescriptor or a (nested) EntitiesDescriptor. */
export function readIdentityProviders(root: Element, source: string, now: number, languages = ['en', 'ja']): IdentityProviderInfo[] {
  const out: IdentityProviderInfo[] = [];
  const visit = (el: Element, inheritedUntil: number | null) => {
    const validUntilAttr = attr(el, 'validUntil');
    const own = validUntilAttr ? Date.parse(validUntilAttr) : null;
    if (own !== null && (Number.isNaN(own) || own <= now)) return;
    const validUntil = own === null ? inheritedUntil : inheritedUntil === null ? own : Math.min(own, inheritedUntil);
    if (el.namespaceURI === NS.metadata && el.localName === 'EntitiesDescriptor') {
      for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) visit(n as Element, validUntil);
      return;
    }
    if (el.namespaceURI !== NS.metadata || el.localName !== 'EntityDescriptor') return;
    const entityId = attr(el, 'entityID');
    const idp = children(el, NS.metadata, 'IDPSSODescriptor').find((d) =>
      (attr(d, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL),
    );
    if (!entityId || !idp) return;
    const sso = children(idp, NS.metadata, 'SingleSignOnService').find((s) => attr(s, 'Binding') === REDIRECT);
    const signingCerts = certificates(idp, 'signing');
    if (!sso || !signingCerts.length) return; // unusable: we only log in over HTTP-Redirect and need a key to check
    out.push({
      entityId,
      displayName: displayName(el, idp, languages),
      ssoRedirectUrl: attr(sso, 'Location')!,
      sloRedirectUrl: attr(
        children(idp, NS.metadata, 'SingleLogoutService').find((s) => attr(s, 'Binding') === REDIRECT) ?? null,
        'Location',
      ),
      signingCerts,
      encryptionCerts: certificates(idp, 'encryption'),
      wantsSignedRequests: attr(idp, 'WantAuthnRequestsSigned') === 'true',
      scopes: scopes(el, idp),
      validUntil,
      source,
    });
  };
  const rootValidUntil = attr(root, 'validUntil');
  if (rootValidUntil && Date.parse(rootValidUntil) <= now) throw new MetadataError(`metadata expired at ${rootValidUntil}`);
  visit(root, null);
  return out;
}

const pem = (cert: string) =>
  cert.includes('BEGIN CERTIFICATE')
    ? cert
    : `-----BEGIN CERTIFICATE-----\n${cert.replace(/\s+/g, '').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

/** Checks the enveloped signature on the metadata's root element against the configured certificates. */
export function verifyMetadataSignature(xml: string, root: Element, certs: string[]): void {
  const signatures = children(root, NS.dsig, 'Signature');
  if (signatures.length !== 1)
    throw new MetadataError(signatures.length ? 'metadata carries more than one root signature' : 'metadata is not signed');
  const rootId = attr(root, 'ID');
  const weak = weakSignatureAlgorithm(signatures[0]);
  if (weak) throw new MetadataError(`metadata is signed with ${weak}; only SHA-2 signatures and digests are accepted`);
  for (const cert of certs) {
    const sig = new SignedXml({ publicCert: pem(cert), getCertFromKeyInfo: () => null });
    sig.loadSignature(signatures[0]);
    let valid = false;
    try {
      valid = sig.checkSignature(xml);
    } catch {
      valid = false;
    }
    if (!valid) continue;
    const refs = sig.getReferences();
    // The one reference must cover the whole document, not some element inside it.
    if (refs.length !== 1 || !(refs[0].uri === '' || (rootId && refs[0].uri === `#${rootId}`))) {
      throw new MetadataError('metadata signature does not cover the root element');
    }
    return;
  }
  throw new MetadataError('metadata signature does not verify with any configured certificate');
}

/**
 * The IdPs we accept, from metadata files or URLs (single IdPs or federation aggregates such as
 * GakuNin's). URL sources are fetched again periodically; a failed refresh keeps the last good copy.
 */
@Injectable()
export class FederationMetadata implements OnModuleInit, OnApplicationShutdown {
  private readonly bySource = new Map<string, IdentityProviderInfo[]>();
  private byEntityId = new Map<string, IdentityProviderInfo>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly certs: string[];

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    // Read at start-up: a missing certificate must stop the service, not weaken checks later.
    this.certs = config.SAML_IDP_METADATA_CERTS.map((file) => readFileSync(file, 'utf8'));
  }

  async onModuleInit(): Promise<void> {
    // Unsigned metadata is only as good as the channel it comes over: a local file or https, never plain http.
    const plain = this.config.SAML_IDP_METADATA.find((s) => /^http:\/\//i.test(s));
    if (plain && !this.certs.length) {
      throw new Error(
        `SAML_IDP_METADATA ${plain}: metadata fetched over http:// is not trusted unsigned; set SAML_IDP_METADATA_CERTS to check its signature, or fetch it over https`,
      );
    }
    for (const source of this.config.SAML_IDP_METADATA) {
      const isUrl = /^https?:\/\//.test(source);
      try {
        await this.load(source);
      } catch (err) {
        // A local file is configuration: a broken one stops the start. A URL may be briefly down.
        if (!isUrl) throw new Error(`SAML_IDP_METADATA ${source}: ${(err as Error).message}`);
        this.logger.error('identity provider metadata unavailable; retrying', { source, err: (err as Error).message });
        this.schedule(source, RETRY_FAILED_URL_MS);
        continue;
      }
      if (isUrl) this.schedule(source, this.config.SAML_METADATA_REFRESH);
    }
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** A trusted IdP; one whose metadata has passed its validUntil (a stale copy kept after failed refreshes) is not. */
  get(entityId: string): IdentityProviderInfo | undefined {
    const idp = this.byEntityId.get(entityId);
    return idp && this.current(idp, this.clock.now()) ? idp : undefined;
  }

  list(): IdentityProviderInfo[] {
    const now = this.clock.now();
    return [...this.byEntityId.values()].filter((i) => this.current(i, now)).sort((a, b) => a.displayName.localeCompare(b.displayName));
  }

  private current(idp: IdentityProviderInfo, now: number): boolean {
    return idp.validUntil === null || idp.validUntil > now;
  }

  private schedule(source: string, delayMs: number): void {
    const timer = setTimeout(async () => {
      this.timers.delete(timer);
      try {
        await this.load(source);
        this.schedule(source, this.config.SAML_METADATA_REFRESH);
      } catch (err) {
        this.logger.error('identity provider metadata refresh failed; keeping the last good copy', { source, err: (err as Error).message });
        this.schedule(source, RETRY_FAILED_URL_MS);
      }
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async read(source: string): Promise<string> {
    if (!/^https?:\/\//.test(source)) return fs.readFile(source, 'utf8');
    const res = await fetch(source, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new MetadataError(`HTTP ${res.status} from ${source}`);
    return res.text();
  }

  private async load(source: string): Promise<void> {
    const started = this.clock.now();
    const xml = await this.read(source);
    let root: Element;
    try {
      root = parseXml(xml).documentElement;
    } catch (err) {
      throw new MetadataError(err instanceof XmlError ? err.message : String(err));
    }
    if (this.certs.length) verifyMetadataSignature(xml, root, this.certs);
    const idps = readIdentityProviders(root, source, this.clock.now());
    this.bySource.set(source, idps);
    const merged = new Map<string, IdentityProviderInfo>();
    for (const list of this.bySource.values()) for (const idp of list) merged.set(idp.entityId, idp);
    this.byEntityId = merged;
    const bare = this.config.AUTH_ADMINS.filter((a) => !a.includes('!'));
    if (merged.size > 1 && bare.length) {
      this.logger.warn(
        'AUTH_ADMINS entries without an IdP grant nothing while more than one IdP is trusted; write them <IdP entityID>!<identifier>',
        { entries: bare, identityProviders: merged.size },
      );
    }
    this.logger.info('identity provider metadata loaded', {
      source,
      identityProviders: idps.length,
      signatureChecked: this.certs.length > 0,
      ms: this.clock.now() - started,
    });
  }
}
