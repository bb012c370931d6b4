import * as fs from 'node:fs';
import { createServer, Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { SignedXml } from 'xml-crypto';
import { createTestDatabase, startNode, startService, StartedService, TestDatabase, testNamespace, testNatsUrl } from '@maas/testing';
import { ForgedIdp, freePort, selfSignedCertificate } from '../../../e2e/support/saml-idp';

const IDP_COUNT = 300;

/** A GakuNin-like aggregate: many IdPs (with display names), an SP, an expired entity; signed by the federation. */
function aggregate(idps: ForgedIdp[], signer?: { keyPem: string; certPem: string }, o: { validUntil?: Date; sha1?: boolean } = {}): string {
  const entities = idps
    .map((idp, i) =>
      idp
        .metadata()
        .replace(/ xmlns:md="[^"]+"/, '')
        .replace(
          '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
          `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="ja">大学${i}</mdui:DisplayName><mdui:DisplayName xml:lang="en">University ${String(i).padStart(3, '0')}</mdui:DisplayName></mdui:UIInfo></md:Extensions>`,
        ),
    )
    .join('');
  const xml =
    `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" ID="_fed" Name="https://fed.example/test" validUntil="${(o.validUntil ?? new Date(Date.now() + 7 * 86_400_000)).toISOString()}">` +
    entities +
    `<md:EntityDescriptor entityID="https://sp.example.ac.jp/shibboleth"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.ac.jp/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>` +
    `<md:EntityDescriptor entityID="https://old.example.ac.jp/idp" validUntil="2001-01-01T00:00:00Z"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>` +
    `</md:EntitiesDescriptor>`;
  if (!signer) return xml;
  const [signatureAlgorithm, digestAlgorithm] = o.sha1
    ? ['http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1']
    : ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmlenc#sha256'];
  const sig = new SignedXml({
    privateKey: signer.keyPem,
    publicCert: signer.certPem,
    signatureAlgorithm,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: '/*',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm,
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: 'prepend' } });
  return sig.getSignedXml();
}

describe('auth: IdPs from a signed federation aggregate, choosing one, and discovery', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-fed-test-'));
  const namespace = testNamespace();
  let db: TestDatabase;
  let server: Server;
  let metadataUrl: string;
  let idps: ForgedIdp[];
  let fedSigner: { keyPem: string; certPem: string };
  const http = (body: string) =>
    createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(body));
  const listen = async (s: Server) => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as { port: number }).port}/federation.xml`;
  };
  let env: Record<string, string>;
  const started: StartedService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('fed');
    const idpCert = selfSignedCertificate(dir, 'idp');
    const fed = selfSignedCertificate(dir, 'federation');
    const sp = selfSignedCertificate(dir, 'sp');
    selfSignedCertificate(dir, 'stranger');
    idps = Array.from(
      { length: IDP_COUNT },
      (_, i) => new ForgedIdp(`https://idp${i}.example.ac.jp/idp/shibboleth`, idpCert.keyPem, idpCert.certPem),
    );
    const signed = aggregate(idps, fed);
    fs.writeFileSync(path.join(dir, 'federation.xml'), signed);
    fs.writeFileSync(
      path.join(dir, 'tampered.xml'),
      signed.replace('https://idp7.example.ac.jp/idp/shibboleth/sso', 'https://evil.example/sso'),
    );
    fs.writeFileSync(path.join(dir, 'unsigned.xml'), aggregate(idps));
    fs.writeFileSync(path.join(dir, 'sha1.xml'), aggregate(idps, fed, { sha1: true }));
    fedSigner = fed;
    server = http(signed);
    metadataUrl = await listen(server);
    env = {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      SAML_SP_KEY_FILE: sp.keyFile,
      SAML_SP_CERT_FILE: sp.certFile,
      SAML_IDP_METADATA_CERTS: fed.certFile,
    };
  });

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    server?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function auth(extra: Record<string, string>): Promise<StartedService> {
    const port = await freePort();
    const s = await startService('auth', { ...env, AUTH_PORT: String(port), AUTH_PUBLIC_URL: `http://127.0.0.1:${port}`, ...extra });
    started.push(s);
    return s;
  }

  it('loads every IdP of a signed aggregate from a URL, skipping SPs and expired entities, and offers a chooser', async () => {
    const s = await auth({ SAML_IDP_METADATA: metadataUrl });
    const loaded = await s.waitFor((r) => r.msg === 'identity provider metadata loaded');
    expect(loaded).toMatchObject({ identityProviders: IDP_COUNT, signatureChecked: true });
    // How long the load takes is a benchmark's question, not this test's: only that it reports it.
    expect(typeof loaded.ms).toBe('number');
    const chooser = await fetch(`${s.url}/auth/saml/login?next=/portal`);
    expect(chooser.status).toBe(200);
    const html = await chooser.text();
    expect(html.match(/<option /g)).toHaveLength(IDP_COUNT);
    expect(html).toContain('<option value="https://idp7.example.ac.jp/idp/shibboleth">University 007</option>');
    expect(html).toContain('<label for="idp">Institution</label>');

    const chosen = await fetch(`${s.url}/auth/saml/login?idp=${encodeURIComponent(idps[7].entityId)}&next=/portal`, { redirect: 'manual' });
    expect(chosen.status).toBe(302);
    expect(chosen.headers.get('location')).toMatch(/^https:\/\/idp7\.example\.ac\.jp\/idp\/shibboleth\/sso\?SAMLRequest=/);
    const unknown = await fetch(`${s.url}/auth/saml/login?idp=${encodeURIComponent('https://old.example.ac.jp/idp')}`, {
      redirect: 'manual',
    });
    expect(unknown.status).toBe(400);
  });

  it('sends the browser to a discovery service, and accepts its answer (entityID) on return', async () => {
    const s = await auth({ SAML_IDP_METADATA: path.join(dir, 'federation.xml'), SAML_DISCOVERY_URL: 'https://ds.example.ac.jp/WAYF' });
    const toDs = await fetch(`${s.url}/auth/saml/login?next=/portal/admin`, { redirect: 'manual' });
    const ds = new URL(toDs.headers.get('location')!);
    expect(ds.origin + ds.pathname).toBe('https://ds.example.ac.jp/WAYF');
    expect(ds.searchParams.get('entityID')).toBe(`${s.url}/auth/saml/metadata`);
    expect(ds.searchParams.get('returnIDParam')).toBe('entityID');
    const back = new URL(ds.searchParams.get('return')!);
    expect(back.searchParams.get('next')).toBe('/portal/admin');
    back.searchParams.set('entityID', idps[42].entityId);
    const toIdp = await fetch(back, { redirect: 'manual' });
    expect(toIdp.headers.get('location')).toMatch(/^https:\/\/idp42\.example\.ac\.jp\//);
  });

  it.each([
    ['tampered.xml', /signature does not verify/],
    ['unsigned.xml', /not signed/],
    ['sha1.xml', /signed with SignatureMethod http:\/\/www\.w3\.org\/2000\/09\/xmldsig#rsa-sha1; only SHA-2/],
  ])('refuses to start on %s when a federation certificate is configured', async (file, message) => {
    await expectStartRefused({ SAML_IDP_METADATA: path.join(dir, file) }, message);
  });

  it('refuses to start on metadata fetched over http:// with no certificate to check its signature', async () => {
    await expectStartRefused(
      { SAML_IDP_METADATA: metadataUrl, SAML_IDP_METADATA_CERTS: '' },
      /http:\/\/ is not trusted unsigned; set SAML_IDP_METADATA_CERTS/,
    );
  });

  it('stops trusting IdPs whose metadata passed its validUntil, though no newer copy could be fetched', async () => {
    // The first fetch gets a copy valid for 30 s from then; every later fetch fails.
    let validUntil: Date | undefined;
    const shortLived = createServer((_req, res) => {
      if (validUntil) return res.writeHead(503).end();
      validUntil = new Date(Date.now() + 30_000);
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(aggregate(idps.slice(0, 3), fedSigner, { validUntil }));
    });
    const url = await listen(shortLived);
    try {
      const s = await auth({ SAML_IDP_METADATA: url, SAML_METADATA_REFRESH: '1s', AUTH_LOGIN_RATE_LIMIT: '100000' });
      await s.waitFor((r) => r.msg === 'identity provider metadata loaded');
      const loginAt = () =>
        fetch(`${s.url}/auth/saml/login?idp=${encodeURIComponent(idps[1].entityId)}`, { redirect: 'manual' }).then((r) => r.status);
      expect(await loginAt()).toBe(302);
      await s.waitFor((r) => r.msg === 'identity provider metadata refresh failed; keeping the last good copy', 30_000);
      const deadline = validUntil!.getTime() + 30_000;
      let status = await loginAt();
      while (status === 302 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = await loginAt();
      }
      expect(Date.now()).toBeGreaterThanOrEqual(validUntil!.getTime());
      expect(status).toBe(400);
      expect((await fetch(`${s.url}/auth/saml/login`)).status).toBe(503);
    } finally {
      shortLived.close();
    }
  });

  async function expectStartRefused(extra: Record<string, string>, message: RegExp): Promise<void> {
    const port = await freePort();
    const proc = startNode('dist/services/auth/src/main.js', { ...env, AUTH_PORT: String(port), ...extra });
    const failed = await proc.waitFor((r) => r.msg === 'failed to start', 60_000);
    expect(String(failed.error)).toMatch(message);
    const code = await new Promise((resolve) =>
      proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
    );
    expect(code).toBe(1);
  }

  it('starts without SAML configured, and says so instead of failing', async () => {
    const s = await auth({ SAML_SP_KEY_FILE: '', SAML_SP_CERT_FILE: '', SAML_IDP_METADATA: '', SAML_IDP_METADATA_CERTS: '' });
    expect((await fetch(`${s.url}/auth/saml/login`)).status).toBe(503);
    expect((await fetch(`${s.url}/auth/saml/metadata`)).status).toBe(404);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});
