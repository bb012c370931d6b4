import { DOMParser } from '@xmldom/xmldom';
import type { AssertionFacts, BearerConfirmation } from '../policy/assertion-policy';

/** Namespaces of the SAML documents we read. */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  mdui: 'urn:oasis:names:tc:SAML:metadata:ui',
  idpdisc: 'urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol',
  shibmd: 'urn:mace:shibboleth:metadata:1.0',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

export const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

export class XmlError extends Error {}

/** Signature and digest methods we verify: SHA-2 only (SHA-1 collisions are practical). */
const STRONG_ALGORITHMS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

/**
 * The first signature's SignatureMethod or reference DigestMethod under `node` that is not SHA-2
 * (SHA-1, or one we do not know), to refuse before any signature is checked; undefined when all are
 * strong. Only SignedInfo counts: an encrypted key's OAEP digest is not a signature's.
 */
export function weakSignatureAlgorithm(node: Document | Element): string | undefined {
  for (const info of Array.from(node.getElementsByTagNameNS(NS.dsig, 'SignedInfo') as unknown as ArrayLike<Element>)) {
    const methods = [
      ...children(info, NS.dsig, 'SignatureMethod'),
      ...children(info, NS.dsig, 'Reference').flatMap((r) => children(r, NS.dsig, 'DigestMethod')),
    ];
    if (!children(info, NS.dsig, 'SignatureMethod').length) return 'SignatureMethod (none)';
    for (const el of methods) {
      const algorithm = el.getAttribute('Algorithm') ?? '';
      if (!STRONG_ALGORITHMS.has(algorithm)) return `${el.localName} ${algorithm || '(none)'}`;
    }
  }
  return undefined;
}

/** Parses XML strictly: any parser error or warning, or a DOCTYPE (entity tricks), is a failure. */
export function parseXml(xml: string): Document {
  if (/<!DOCTYPE/i.test(xml)) throw new XmlError('DOCTYPE is not allowed');
  const problems: string[] = [];
  const doc = new DOMParser({
    locator: {},
    errorHandler: { warning: (m) => problems.push(m), error: (m) => problems.push(m), fatalError: (m) => problems.push(m) },
  }).parseFromString(xml, 'text/xml');
  if (problems.length || !doc?.documentElement) throw new XmlError(`not well-formed XML: ${problems[0] ?? 'empty document'}`);
  return doc as unknown as Document;
}

/** Element children of `el` with this namespace and local name. */
export function children(el: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName) out.push(n as Element);
  }
  return out;
}

export function child(el: Element | null | undefined, ns: string, localName: string): Element | null {
  return el ? (children(el, ns, localName)[0] ?? null) : null;
}

/** Every descendant element with this namespace and local name. */
export function descendants(el: Element | Document, ns: string, localName: string): Element[] {
  return Array.from(el.getElementsByTagNameNS(ns, localName) as unknown as ArrayLike<Element>);
}

export const text = (el: Element | null): string | null => (el?.textContent ?? '').trim() || (el ? '' : null);
export const attr = (el: Element | null, name: string): string | null => (el && el.hasAttribute(name) ? el.getAttribute(name) : null);

/** Attribute name → values; FriendlyName, when sent, is an alias for the same values. */
function readAttributes(assertion: Element): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    for (const a of children(statement, NS.assertion, 'Attribute')) {
      const values = children(a, NS.assertion, 'AttributeValue').map((v) => (v.textContent ?? '').trim());
      for (const name of [attr(a, 'Name'), attr(a, 'FriendlyName')]) {
        if (name) out[name] = [...(out[name] ?? []), ...values];
      }
    }
  }
  return out;
}

/**
 * Reads the facts the acceptance policy needs. The assertion must be the one whose signature was
 * verified (never looked up again in the response), the envelope only supplies cross-checks.
 */
export function readAssertionFacts(response: Element, assertion: Element): AssertionFacts {
  const subject = child(assertion, NS.assertion, 'Subject');
  const nameId = child(subject, NS.assertion, 'NameID');
  const bearer: BearerConfirmation[] = (subject ? children(subject, NS.assertion, 'SubjectConfirmation') : [])
    .filter((c) => attr(c, 'Method') === BEARER)
    .map((c) => {
      const data = child(c, NS.assertion, 'SubjectConfirmationData');
      return {
        recipient: attr(data, 'Recipient'),
        inResponseTo: attr(data, 'InResponseTo'),
        notBefore: attr(data, 'NotBefore'),
        notOnOrAfter: attr(data, 'NotOnOrAfter'),
      };
    });
  const conditions = child(assertion, NS.assertion, 'Conditions');
  const authn = child(assertion, NS.assertion, 'AuthnStatement');
  return {
    response: {
      issuer: text(child(response, NS.assertion, 'Issuer')),
      destination: attr(response, 'Destination'),
      inResponseTo: attr(response, 'InResponseTo'),
    },
    assertionId: attr(assertion, 'ID'),
    issuer: text(child(assertion, NS.assertion, 'Issuer')),
    nameId: nameId
      ? {
          value: (nameId.textContent ?? '').trim(),
          format: attr(nameId, 'Format'),
          nameQualifier: attr(nameId, 'NameQualifier'),
          spNameQualifier: attr(nameId, 'SPNameQualifier'),
        }
      : null,
    bearer,
    notBefore: attr(conditions, 'NotBefore'),
    notOnOrAfter: attr(conditions, 'NotOnOrAfter'),
    audienceRestrictions: (conditions ? children(conditions, NS.assertion, 'AudienceRestriction') : []).map((r) =>
      children(r, NS.assertion, 'Audience').map((a) => (a.textContent ?? '').trim()),
    ),
    sessionIndex: attr(authn, 'SessionIndex'),
    sessionNotOnOrAfter: attr(authn, 'SessionNotOnOrAfter'),
    attributes: readAttributes(assertion),
  };
}

/** Status code (and the second-level code, which says why) of a Response or LogoutResponse. */
export function readStatus(response: Element): { code: string | null; subcode: string | null; message: string | null } {
  const status = child(response, NS.protocol, 'Status');
  const code = child(status, NS.protocol, 'StatusCode');
  return {
    code: attr(code, 'Value'),
    subcode: attr(child(code, NS.protocol, 'StatusCode'), 'Value'),
    message: text(child(status, NS.protocol, 'StatusMessage')),
  };
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
