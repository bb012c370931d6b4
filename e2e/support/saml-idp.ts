import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import * as idp from '../../scripts/lib/saml-idp';
import type { Certificate, SamlIdpUser } from '../../scripts/lib/saml-idp';

/**
 * A real SAML 2.0 identity provider for tests: Debian's SimpleSAMLphp under `php -S`, configured in a
 * temp folder with users and eduPerson attributes sent by `urn:oid:` name (as GakuNin IdPs do).
 */

export type SamlTestUser = SamlIdpUser;

/** SimpleSAMLphp saml20-sp-remote options merged over what it reads from the SP's metadata. */
export type SpRemoteOptions = Record<string, unknown>;

export interface StartedSamlIdp {
  baseUrl: string;
  entityId: string;
  metadataUrl: string;
  dir: string;
  /** The IdP's signing key and certificate (PEM), for tests that mint responses "from" this IdP. */
  keyPem: string;
  certPem: string;
  /** Registers an SP from its metadata XML (read on every request, so this works while running); `update` changes its options. */
  registerServiceProvider(metadataXml: string, options?: SpRemoteOptions): { update(options: SpRemoteOptions): void };
  /** The IdP's HTTP-Redirect single sign-on endpoint. */
  ssoUrl: string;
  /** The IdP's own log (SimpleSAMLphp's file log plus php -S output). */
  log(): string;
  stop(): Promise<void>;
}

export const DEFAULT_TEST_USERS: SamlTestUser[] = [
  {
    username: 'ada',
    password: 'ada-password',
    attributes: {
      uid: ['ada'],
      mail: ['ada@example.ac.jp'],
      displayName: ['Ada Lovelace'],
      eduPersonPrincipalName: ['ada@example.ac.jp'],
      eduPersonAffiliation: ['faculty', 'member'],
    },
  },
  {
    username: 'grace',
    password: 'grace-password',
    attributes: {
      uid: ['grace'],
      mail: ['grace@example.ac.jp'],
      displayName: ['Grace Hopper'],
      eduPersonPrincipalName: ['grace@example.ac.jp'],
      eduPersonAffiliation: ['staff', 'member'],
    },
  },
  {
    username: 'alum',
    password: 'alum-password',
    attributes: {
      uid: ['alum'],
      mail: ['alum@example.ac.jp'],
      displayName: ['Former Student'],
      eduPersonPrincipalName: ['alum@example.ac.jp'],
      eduPersonAffiliation: ['alum'],
    },
  },
];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A self-signed RSA certificate and key (PEM) made with openssl. */
export function selfSignedCertificate(dir: string, name: string, commonName = name): Certificate {
  return idp.selfSignedCertificate(dir, name, commonName);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

function waitForHttp(url: string, timeoutMs: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`SimpleSAMLphp exited with ${child.exitCode}:\n${output()}`));
      fetch(url).then(
        (res) => (res.ok ? resolve() : retry(`HTTP ${res.status}`)),
        (err: Error) => retry(err.message),
      );
    };
    const retry = (why: string) => {
      if (Date.now() > deadline) return reject(new Error(`SimpleSAMLphp not ready at ${url} (${why}):\n${output()}`));
      setTimeout(attempt, 100);
    };
    attempt();
  });
}

/** Starts SimpleSAMLphp as an IdP on a free loopback port with its own config, keys and users. */
export async function startSamlIdp(
  options: { users?: SamlTestUser[]; idpOptions?: Record<string, unknown> } = {},
): Promise<StartedSamlIdp> {
  const users = options.users ?? DEFAULT_TEST_USERS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-idp-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const written = idp.writeIdpConfig({
    dir,
    baseUrl,
    users,
    secretSalt: randomBytes(16).toString('hex'),
    adminPassword: randomBytes(16).toString('hex'),
    idpOptions: options.idpOptions,
  });
  const server = idp.serverCommand({ configDir: written.configDir, port });

  const output: string[] = [];
  const child = spawn(server.command, server.args, {
    env: { ...process.env, ...server.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: php -S forks workers that must stop with it.
    detached: true,
  });
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const log = () => {
    const file = written.logFile;
    return `${fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''}${output.join('')}`;
  };
  const metadataUrl = written.metadataUrl;
  try {
    await waitForHttp(metadataUrl, 20_000, child, log);
  } catch (err) {
    killGroup(child, 'SIGKILL');
    throw err;
  }

  let spCount = 0;
  return {
    baseUrl,
    entityId: metadataUrl,
    metadataUrl,
    dir,
    keyPem: written.cert.keyPem,
    certPem: written.cert.certPem,
    ssoUrl: written.ssoUrl,
    registerServiceProvider: (metadataXml, spOptions = {}) =>
      idp.registerServiceProvider(written.spDir, `sp-${++spCount}`, metadataXml, spOptions),
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        killGroup(child, 'SIGTERM');
        await exited;
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal cookie jar: enough to walk a SAML flow with fetch (one cookie store per host:port). */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const jar = this.byHost.get(host) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.byHost.set(host, jar);
  }

  header(url: string): string {
    const jar = this.byHost.get(new URL(url).host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  get(url: string, name: string): string | undefined {
    return this.byHost.get(new URL(url).host)?.get(name);
  }
}

/** fetch with the jar and no automatic redirects. */
export async function send(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = jar.header(url);
  if (cookie) headers.set('cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(url, res);
  return res;
}

/** Follows redirects (GET) until a non-redirect answer. */
export async function follow(jar: CookieJar, url: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
  let current = url;
  let res = await send(jar, current, init);
  for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 10; hops++) {
    current = new URL(res.headers.get('location')!, current).toString();
    res = await send(jar, current);
  }
  return { res, url: current };
}

const decodeEntities = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;/gi, '/')
    .replace(/&amp;/g, '&');

/** The action and hidden fields of the first form in an HTML page. */
export function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form in page:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const input of form[2].matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]*)"/i.exec(input[0])?.[1];
    const value = /value="([^"]*)"/i.exec(input[0])?.[1] ?? '';
    if (name) fields[decodeEntities(name)] = decodeEntities(value);
  }
  return { action: decodeEntities(form[1]), fields };
}

export interface CapturedResponse {
  /** Where the IdP posts the response (the SP's ACS). */
  acsUrl: string;
  samlResponse: string;
  relayState?: string;
  /** The decoded XML of the Response. */
  xml: string;
}

/**
 * Walks a redirect-binding login without a browser: from `loginUrl` (an SP URL that redirects to the
 * IdP, or an IdP SSO URL with a SAMLRequest) through the IdP's username/password form, and returns
 * the SAMLResponse the IdP would post to the SP — captured, not posted.
 */
export async function captureSamlResponse(
  jar: CookieJar,
  loginUrl: string,
  user: Pick<SamlTestUser, 'username' | 'password'>,
): Promise<CapturedResponse> {
  let { res, url } = await follow(jar, loginUrl);
  let html = await res.text();
  if (/name="password"/.test(html)) {
    const form = parseForm(html);
    const body = new URLSearchParams({ ...form.fields, username: user.username, password: user.password });
    ({ res, url } = await follow(jar, new URL(form.action || url, url).toString(), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }));
    html = await res.text();
  }
  const post = parseForm(html);
  if (!post.fields.SAMLResponse)
    throw new Error(`IdP answered without a SAMLResponse (HTTP ${res.status} at ${url}):\n${html.slice(0, 2000)}`);
  return {
    acsUrl: post.action,
    samlResponse: post.fields.SAMLResponse,
    relayState: post.fields.RelayState,
    xml: Buffer.from(post.fields.SAMLResponse, 'base64').toString('utf8'),
  };
}

// ---------------------------------------------------------------------------------------------
// Forged responses: an IdP of our own making, to produce every kind of bad response on purpose.

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

export const ATTRIBUTE_OIDS = {
  eppn: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6',
  mail: 'urn:oid:0.9.2342.19200300.100.1.3',
  displayName: 'urn:oid:2.16.840.1.113730.3.1.241',
  affiliation: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const certBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export interface ForgedResponse {
  responseId: string;
  assertionId: string;
  issuer: string;
  /** Response@Destination; null leaves it out. */
  destination: string | null;
  /** Response@InResponseTo and SubjectConfirmationData@InResponseTo; null leaves them out (unsolicited). */
  inResponseTo: string | null;
  recipient: string;
  audience: string;
  issueInstant: Date;
  notBefore: Date;
  notOnOrAfter: Date;
  nameId: string;
  sessionIndex: string;
  statusCode: string;
  /** By name (urn:oid:…), no FriendlyName, as GakuNin IdPs send them. */
  attributes: Record<string, string[]>;
}

/** Signs the Response or its Assertion with an enveloped RSA-SHA256 signature placed right after its Issuer. */
export function signElement(xml: string, localName: 'Assertion' | 'Response', keyPem: string, certPem: string | null): string {
  const target = localName === 'Response' ? "/*[local-name(.)='Response']" : "//*[local-name(.)='Assertion']";
  const sig = new SignedXml({
    privateKey: keyPem,
    publicCert: certPem ?? undefined,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  if (!certPem) sig.getKeyInfoContent = () => null;
  sig.addReference({
    xpath: target,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', EXC_C14N],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/** An identity provider that exists only in tests: its metadata, and responses it signs however it is told to. */
export class ForgedIdp {
  constructor(
    readonly entityId: string,
    readonly keyPem: string,
    readonly certPem: string,
    readonly ssoUrl = `${entityId.replace(/\/$/, '')}/sso`,
    /** The `shibmd:Scope`s its metadata lists (a `/…/` entry is a regexp scope). */
    readonly scopes: string[] = [],
  ) {}

  metadata(): string {
    const scopes = this.scopes
      .map((s) =>
        s.startsWith('/') && s.endsWith('/')
          ? `<shibmd:Scope regexp="true">${esc(s.slice(1, -1))}</shibmd:Scope>`
          : `<shibmd:Scope regexp="false">${esc(s)}</shibmd:Scope>`,
      )
      .join('');
    return (
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" entityID="${esc(this.entityId)}">` +
      `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
      (scopes ? `<md:Extensions>${scopes}</md:Extensions>` : '') +
      `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(this.certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${esc(this.ssoUrl)}"/>` +
      `</md:IDPSSODescriptor></md:EntityDescriptor>`
    );
  }

  /** A Response for an SP; `o` overrides any field, to make it wrong in exactly one way. */
  unsigned(sp: { entityId: string; acsUrl: string }, o: Partial<ForgedResponse> = {}): string {
    const now = new Date();
    const f: ForgedResponse = {
      responseId: `_r${randomBytes(16).toString('hex')}`,
      assertionId: `_a${randomBytes(16).toString('hex')}`,
      issuer: this.entityId,
      destination: sp.acsUrl,
      inResponseTo: null,
      recipient: sp.acsUrl,
      audience: sp.entityId,
      issueInstant: now,
      notBefore: new Date(now.getTime() - 30_000),
      notOnOrAfter: new Date(now.getTime() + 300_000),
      nameId: `_n${randomBytes(8).toString('hex')}`,
      sessionIndex: `_s${randomBytes(8).toString('hex')}`,
      statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      attributes: {},
      ...o,
    };
    const t = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const irt = f.inResponseTo ? ` InResponseTo="${esc(f.inResponseTo)}"` : '';
    const attributes = Object.entries(f.attributes)
      .map(
        ([name, values]) =>
          `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">` +
          values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
          `</saml:Attribute>`,
      )
      .join('');
    return (
      `<samlp:Response xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${f.responseId}" Version="2.0" IssueInstant="${t(f.issueInstant)}"` +
      `${f.destination ? ` Destination="${esc(f.destination)}"` : ''}${irt}>` +
      `<saml:Issuer>${esc(f.issuer)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="${esc(f.statusCode)}"/></samlp:Status>` +
      `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${f.assertionId}" Version="2.0" IssueInstant="${t(f.issueInstant)}">` +
      `<saml:Issuer>${esc(f.issuer)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" SPNameQualifier="${esc(sp.entityId)}">${f.nameId}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
      `<saml:SubjectConfirmationData NotOnOrAfter="${t(f.notOnOrAfter)}" Recipient="${esc(f.recipient)}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${t(f.notBefore)}" NotOnOrAfter="${t(f.notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${esc(f.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${t(f.issueInstant)}" SessionIndex="${f.sessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
      `</saml:Assertion></samlp:Response>`
    );
  }

  /** The same, with the assertion signed by this IdP (or by `key`/`cert` when given: someone else). */
  signed(
    sp: { entityId: string; acsUrl: string },
    o: Partial<ForgedResponse> = {},
    signer: { keyPem: string; certPem: string | null } = { keyPem: this.keyPem, certPem: this.certPem },
  ): string {
    return signElement(this.unsigned(sp, o), 'Assertion', signer.keyPem, signer.certPem);
  }
}

export const toBase64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
export const fromBase64 = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

/** The AuthnRequest ID inside a redirect-binding login URL. */
export function authnRequestId(redirectUrl: string): string {
  const request = new URL(redirectUrl).searchParams.get('SAMLRequest');
  if (!request) throw new Error(`no SAMLRequest in ${redirectUrl}`);
  const xml = inflateRawSync(Buffer.from(request, 'base64')).toString('utf8');
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error(`no ID in AuthnRequest ${xml}`);
  return id;
}

/** An unsigned AuthnRequest as an HTTP-Redirect URL, written by hand: lets a test ask the real IdP for responses our SP never requested. */
export function authnRequestUrl(ssoUrl: string, request: { id: string; issuer: string; acsUrl: string }): string {
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${esc(request.id)}" Version="2.0" IssueInstant="${new Date().toISOString()}" ` +
    `Destination="${esc(ssoUrl)}" AssertionConsumerServiceURL="${esc(request.acsUrl)}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">` +
    `<saml:Issuer>${esc(request.issuer)}</saml:Issuer></samlp:AuthnRequest>`;
  return `${ssoUrl}?SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
}

/** Every XML signature removed. */
export const stripSignatures = (xml: string) => xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');

/** SP metadata for another SP (its own entityID), whose assertions are posted to `acsUrl`. */
export function otherSpMetadata(entityId: string, acsUrl: string): string {
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${esc(entityId)}">` +
    `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${esc(acsUrl)}" index="0"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

/** The first structured log record a process wrote after its first `from` lines that matches. */
export async function logRecordAfter(
  proc: { lines: string[] },
  from: number,
  match: (r: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of proc.lines.slice(from)) {
      if (!line.startsWith('{')) continue;
      try {
        const r = JSON.parse(line) as Record<string, unknown>;
        if (match(r)) return r;
      } catch {
        // a partial or foreign line
      }
    }
    if (Date.now() > deadline)
      throw new Error(`no matching log record within ${timeoutMs} ms; last lines:\n${proc.lines.slice(-10).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
