import * as fs from 'node:fs';
import * as path from 'node:path';
import { NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  requireSystemPart,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';
import {
  captureSamlResponse,
  CookieJar,
  freePort,
  logRecordAfter,
  selfSignedCertificate,
  send,
  StartedSamlIdp,
  startSamlIdp,
  toBase64,
} from './support/saml-idp';

// A machine without SimpleSAMLphp fails every test here with the reason.
beforeAll(() => requireSystemPart('saml-idp'));

const person = (username: string, eppn: string, mail: string, affiliation = ['staff', 'member']) => ({
  username,
  password: `${username}-password`,
  attributes: { uid: [username], mail: [mail], displayName: [username], eduPersonPrincipalName: [eppn], eduPersonAffiliation: affiliation },
});

/**
 * Two real IdPs (SimpleSAMLphp) in one federation aggregate, as GakuNin's: example.ac.jp's, scoped
 * `example.ac.jp`, and other-u's, whose metadata scope is a regular expression over other-u.ac.jp and
 * its subdomains. Each IdP vouches only for identities in its own scope, and an account belongs to the
 * IdP identity that made it until an administrator links another.
 */
describe('identity: accounts bound to the IdP that issued them, in a federation of two real IdPs', () => {
  const namespace = testNamespace();
  let home: StartedSamlIdp;
  let other: StartedSamlIdp;
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let auth: StartedService;
  let base: string;

  beforeAll(async () => {
    [home, other] = await Promise.all([
      startSamlIdp(),
      startSamlIdp({
        users: [
          // Asserts a person of example.ac.jp: outside this IdP's scope.
          person('mallory', 'ada@example.ac.jp', 'mallory@other-u.ac.jp'),
          person('bob', 'bob@med.other-u.ac.jp', 'bob@med.other-u.ac.jp'),
          // Her own identity here, with the address of her example.ac.jp account.
          person('ada', 'ada@other-u.ac.jp', 'ada@example.ac.jp'),
          // Named as an administrator, but at the other IdP.
          person('carol', 'carol@other-u.ac.jp', 'carol@other-u.ac.jp'),
        ],
        idpOptions: { scope: ['^([a-z]+\\.)?other-u\\.ac\\.jp$'] },
      }),
    ]);
    db = await createTestDatabase('idfed');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    const spCert = selfSignedCertificate(path.join(home.dir, 'sp'), 'sp');
    const entity = async (idp: StartedSamlIdp) => (await (await fetch(idp.metadataUrl)).text()).replace(/<\?xml[^>]*\?>/, '');
    const federation = path.join(home.dir, 'federation.xml');
    fs.writeFileSync(
      federation,
      `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" Name="https://fed.example.ac.jp/test">${await entity(home)}${await entity(other)}</md:EntitiesDescriptor>`,
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    auth = await startService('auth', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      AUTH_PORT: String(port),
      AUTH_PUBLIC_URL: base,
      SAML_SP_KEY_FILE: spCert.keyFile,
      SAML_SP_CERT_FILE: spCert.certFile,
      SAML_IDP_METADATA: federation,
      AUTH_ADMINS: [`${home.entityId}!grace@example.ac.jp`, `${home.entityId}!carol@other-u.ac.jp`, 'bob@med.other-u.ac.jp'].join(','),
    });
    const spMetadata = await (await fetch(`${base}/auth/saml/metadata`)).text();
    home.registerServiceProvider(spMetadata);
    other.registerServiceProvider(spMetadata);
  });

  afterAll(async () => {
    await auth?.stop();
    await nc?.close();
    await db?.drop();
    await Promise.all([home?.stop(), other?.stop()]);
  });

  /** Signs in at `idp` as `username` in a fresh browser; the ACS's answer and why it refused, if it did. */
  async function signIn(idp: StartedSamlIdp, username: string): Promise<{ status: number; session: boolean; reason?: string }> {
    const jar = new CookieJar();
    const captured = await captureSamlResponse(jar, `${base}/auth/saml/login?idp=${encodeURIComponent(idp.entityId)}&next=/portal`, {
      username,
      password: `${username}-password`,
    });
    const from = auth.lines.length;
    const res = await send(jar, captured.acsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: toBase64(captured.xml) }),
    });
    const session = res.headers.getSetCookie().some((c) => c.startsWith('maas_session=') && !c.startsWith('maas_session=;'));
    if (res.status === 303) return { status: res.status, session };
    const rejection = await logRecordAfter(auth, from, (r) => r.msg === 'saml response rejected');
    return { status: res.status, session, reason: String(rejection.reason) };
  }

  const account = async (user: string) => (await bus.request('auth.list-users', { user })).users[0];

  it("publishes each IdP's scope in its metadata, one of them a regular expression", () => {
    const xml = fs.readFileSync(path.join(home.dir, 'federation.xml'), 'utf8');
    const scopes = [...xml.matchAll(/<shibmd:Scope[^>]*regexp="(true|false)"[^>]*>([^<]*)</g)].map((m) => [m[1], m[2]]);
    expect(scopes).toEqual([
      ['false', 'example.ac.jp'],
      ['true', '^([a-z]+\\.)?other-u\\.ac\\.jp$'],
    ]);
  });

  it("refuses another IdP asserting an identity in example.ac.jp's scope, and the account stays its own", async () => {
    expect(await signIn(home, 'ada')).toEqual({ status: 303, session: true });
    expect(await account('ada@example.ac.jp')).toMatchObject({ userId: 'ada@example.ac.jp', idpEntityId: home.entityId });

    expect(await signIn(other, 'mallory')).toEqual({ status: 403, session: false, reason: 'scope_mismatch' });
    expect(await account('ada@example.ac.jp')).toMatchObject({
      userId: 'ada@example.ac.jp',
      email: 'ada@example.ac.jp',
      idpEntityId: home.entityId,
    });
    expect(await account('mallory@other-u.ac.jp')).toBeUndefined();
  });

  it('accepts an identity within a regexp scope (a subdomain)', async () => {
    expect(await signIn(other, 'bob')).toEqual({ status: 303, session: true });
    // A bare AUTH_ADMINS entry grants nothing while more than one IdP is trusted.
    expect(await account('bob@med.other-u.ac.jp')).toMatchObject({ idpEntityId: other.entityId, roles: ['user'] });
  });

  it('refuses a login for an existing account from another IdP until an administrator links the two', async () => {
    expect(await signIn(other, 'ada')).toEqual({ status: 403, session: false, reason: 'identity_not_linked' });
    expect(await account('ada@other-u.ac.jp')).toBeUndefined();

    await bus.request('auth.update-user', {
      user: 'ada@example.ac.jp',
      link: { idpEntityId: other.entityId, subject: 'ada@other-u.ac.jp' },
    });
    expect(await signIn(other, 'ada')).toEqual({ status: 303, session: true });
    expect(await account('ada@example.ac.jp')).toMatchObject({ userId: 'ada@example.ac.jp', idpEntityId: other.entityId });
    // The first identity still signs in to the same account.
    expect(await signIn(home, 'ada')).toEqual({ status: 303, session: true });
    expect((await bus.request('auth.list-users', {})).users.filter((u) => u.email === 'ada@example.ac.jp')).toHaveLength(1);
  });

  it('makes administrators per (IdP, identifier): the named identity at the named IdP, not the same name elsewhere', async () => {
    expect(await signIn(home, 'grace')).toEqual({ status: 303, session: true });
    expect(await account('grace@example.ac.jp')).toMatchObject({ roles: ['user', 'admin'] });
    expect(await signIn(other, 'carol')).toEqual({ status: 303, session: true });
    expect(await account('carol@other-u.ac.jp')).toMatchObject({ roles: ['user'] });
  });
});
