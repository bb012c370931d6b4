import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  createTestDatabase,
  requireSystemPart,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNatsUrl,
} from '@maas/testing';
import {
  ATTRIBUTE_OIDS,
  authnRequestId,
  authnRequestUrl,
  captureSamlResponse,
  CookieJar,
  ForgedIdp,
  freePort,
  logRecordAfter,
  otherSpMetadata,
  selfSignedCertificate,
  send,
  signElement,
  StartedSamlIdp,
  startSamlIdp,
  stripSignatures,
  toBase64,
} from './support/saml-idp';

const ADA = { username: 'ada', password: 'ada-password' };

/**
 * Attacks on the ACS with responses from a real IdP (SimpleSAMLphp): captured and tampered with,
 * requested by hand for another audience or an unknown request, or signed with the IdP's own test
 * key for times out of range. Each is refused, and the log says why.
 */
// A machine without SimpleSAMLphp fails every test here with the reason.
beforeAll(() => requireSystemPart('saml-idp'));

describe('identity: the ACS against tampered and misdirected responses from a real IdP', () => {
  const namespace = testNamespace();
  let idp: StartedSamlIdp;
  let db: TestDatabase;
  let auth: StartedService;
  let base: string;
  let sp: { entityId: string; acsUrl: string };
  let registration: { update(o: Record<string, unknown>): void };
  let foreign: { keyPem: string; certPem: string };

  beforeAll(async () => {
    idp = await startSamlIdp();
    db = await createTestDatabase('idattack');
    const spCert = selfSignedCertificate(path.join(idp.dir, 'sp'), 'sp');
    foreign = selfSignedCertificate(path.join(idp.dir, 'sp'), 'foreign');
    const metadataFile = path.join(idp.dir, 'idp-metadata.xml');
    fs.writeFileSync(metadataFile, await (await fetch(idp.metadataUrl)).text());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    sp = { entityId: `${base}/auth/saml/metadata`, acsUrl: `${base}/auth/saml/acs` };
    auth = await startService('auth', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      AUTH_PORT: String(port),
      AUTH_PUBLIC_URL: base,
      SAML_SP_KEY_FILE: spCert.keyFile,
      SAML_SP_CERT_FILE: spCert.certFile,
      SAML_IDP_METADATA: metadataFile,
    });
    registration = idp.registerServiceProvider(await (await fetch(sp.entityId)).text());
    // Another SP the IdP knows, whose assertions (for its own audience) land on our ACS.
    idp.registerServiceProvider(otherSpMetadata('https://other-sp.example.ac.jp/shibboleth', sp.acsUrl));
  });

  afterAll(async () => {
    await auth?.stop();
    await db?.drop();
    await idp?.stop();
  });

  /** A login started at our SP in a fresh browser (jar) and answered by the real IdP: the response is captured, not posted. */
  async function capture(): Promise<{ jar: CookieJar; xml: string }> {
    const jar = new CookieJar();
    const captured = await captureSamlResponse(jar, `${base}/auth/saml/login?next=/portal`, ADA);
    expect(captured.acsUrl).toBe(sp.acsUrl);
    return { jar, xml: captured.xml };
  }

  const post = (jar: CookieJar, xml: string) =>
    send(jar, sp.acsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: toBase64(xml) }),
    });

  async function expectRejected(jar: CookieJar, xml: string, reason: string): Promise<void> {
    const from = auth.lines.length;
    const res = await post(jar, xml);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Sign-in failed');
    expect(res.headers.getSetCookie().filter((c) => c.startsWith('maas_session='))).toEqual([]);
    const rejection = await logRecordAfter(auth, from, (r) => r.msg === 'saml response rejected');
    expect(rejection.reason).toBe(reason);
  }

  it('accepts the genuine response (signed response and assertion, OID attributes) once, and refuses its replay', async () => {
    const { jar, xml } = await capture();
    expect(xml).toContain(`Name="${ATTRIBUTE_OIDS.eppn}"`);
    expect(xml).not.toContain('FriendlyName');
    const res = await post(jar, xml);
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
    expect(jar.get(base, 'maas_session')).toBeDefined();
    await expectRejected(new CookieJar(), xml, 'replayed');
    await expectRejected(jar, xml, 'replayed');
  });

  it('refuses a post from another browser without burning the genuine response, which its own browser then uses', async () => {
    const { jar, xml } = await capture();
    await expectRejected(new CookieJar(), xml, 'browser_mismatch');
    const res = await post(jar, xml);
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
  });

  it('refuses a genuine response the IdP signed with RSA-SHA1, before checking the signature', async () => {
    registration.update({ 'signature.algorithm': 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' });
    try {
      const { jar, xml } = await capture();
      expect(xml).toContain('Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"');
      await expectRejected(jar, xml, 'weak_algorithm');
    } finally {
      registration.update({});
    }
  });

  it('refuses an assertion modified after signing', async () => {
    const { jar, xml } = await capture();
    await expectRejected(jar, xml.replace('>faculty<', '>staff<'), 'bad_signature');
  });

  it('refuses the response with its signatures removed', async () => {
    const { jar, xml } = await capture();
    await expectRejected(jar, stripSignatures(xml), 'unsigned');
  });

  it('refuses the response re-signed by another key', async () => {
    const { jar, xml } = await capture();
    await expectRejected(jar, signElement(stripSignatures(xml), 'Assertion', foreign.keyPem, foreign.certPem), 'bad_signature');
  });

  it('refuses signature wrapping: a forged assertion ahead of the genuine signed one', async () => {
    const { jar, xml } = await capture();
    const genuine = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
    const forged = stripSignatures(genuine)
      .replace(/ID="[^"]+"/, 'ID="_forged"')
      .replace('ada@example.ac.jp', 'grace@example.ac.jp');
    await expectRejected(jar, xml.replace(genuine, forged + genuine), 'signature_wrapping');
  });

  it('refuses a real, signed answer to a request our SP never sent', async () => {
    const jar = new CookieJar();
    // The login cookie exists (this browser started a login), but the IdP answers a request made up by hand.
    await send(jar, `${base}/auth/saml/login`);
    const captured = await captureSamlResponse(
      jar,
      authnRequestUrl(idp.ssoUrl, { id: `_${randomBytes(16).toString('hex')}`, issuer: sp.entityId, acsUrl: sp.acsUrl }),
      ADA,
    );
    await expectRejected(jar, captured.xml, 'unknown_in_response_to');
  });

  it('refuses a real, signed assertion for another audience, even answering one of our requests', async () => {
    const jar = new CookieJar();
    const started = await send(jar, `${base}/auth/saml/login`);
    const ourRequestId = authnRequestId(started.headers.get('location')!);
    const captured = await captureSamlResponse(
      jar,
      authnRequestUrl(idp.ssoUrl, { id: ourRequestId, issuer: 'https://other-sp.example.ac.jp/shibboleth', acsUrl: sp.acsUrl }),
      ADA,
    );
    expect(captured.xml).toContain('<saml:Audience>https://other-sp.example.ac.jp/shibboleth</saml:Audience>');
    await expectRejected(jar, captured.xml, 'wrong_audience');
  });

  it('refuses expired and not-yet-valid assertions signed with the IdP’s own key', async () => {
    const signedByIdp = new ForgedIdp(idp.entityId, idp.keyPem, idp.certPem);
    const attributes = { [ATTRIBUTE_OIDS.mail]: ['ada@example.ac.jp'], [ATTRIBUTE_OIDS.affiliation]: ['faculty'] };
    for (const [times, reason] of [
      [{ notBefore: new Date(Date.now() - 3_600_000), notOnOrAfter: new Date(Date.now() - 600_000) }, 'expired'],
      [{ notBefore: new Date(Date.now() + 600_000), notOnOrAfter: new Date(Date.now() + 900_000) }, 'not_yet_valid'],
    ] as const) {
      const jar = new CookieJar();
      const started = await send(jar, `${base}/auth/saml/login`);
      const xml = signedByIdp.signed(sp, { inResponseTo: authnRequestId(started.headers.get('location')!), attributes, ...times });
      await expectRejected(jar, xml, reason);
    }
  });

  it('accepts encrypted assertions (signed inside, the response unsigned), as Shibboleth IdPs send by default', async () => {
    registration.update({ 'assertion.encryption': true, 'saml20.sign.response': false });
    try {
      const { jar, xml } = await capture();
      expect(xml).toContain('EncryptedAssertion');
      const res = await post(jar, xml);
      expect(res.status).toBe(303);
      // Tampering with the ciphertext is caught too.
      const { jar: jar2, xml: xml2 } = await capture();
      const tampered = xml2.replace(/<xenc:CipherValue>([A-Za-z0-9+/])/g, (_m, c: string) => `<xenc:CipherValue>${c === 'A' ? 'B' : 'A'}`);
      const from = auth.lines.length;
      expect((await post(jar2, tampered)).status).toBe(400);
      // The log line arrives through a pipe after the answer: wait for it rather than read what is there.
      const rejection = await logRecordAfter(auth, from, (r) => r.msg === 'saml response rejected');
      expect(['malformed', 'bad_signature']).toContain(rejection.reason);
    } finally {
      registration.update({});
    }
  });
});
