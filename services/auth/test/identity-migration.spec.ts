import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@maas/database';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNatsUrl } from '@maas/testing';
import {
  ATTRIBUTE_OIDS,
  authnRequestId,
  ForgedIdp,
  freePort,
  logRecordAfter,
  selfSignedCertificate,
  toBase64,
} from '../../../e2e/support/saml-idp';
import { Users1732500000000 } from '../src/migrations/1732500000000-users';
import { Identity1732600000000 } from '../src/migrations/1732600000000-identity';

/**
 * Accounts made before identities were bound to IdPs: after the upgrade each keeps the IdP that last
 * signed it in, under its eppn (or, for an account made from an e-mail address, that address); the
 * account's IdP still signs it in, another one is refused.
 */
describe('auth: accounts made before IdP-bound identities, after the upgrade', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-auth-migration-'));
  let db: TestDatabase;
  let auth: StartedService;
  let home: ForgedIdp;
  let other: ForgedIdp;
  let sp: { entityId: string; acsUrl: string };

  beforeAll(async () => {
    db = await createTestDatabase('authmig');
    // The schema as the previous release left it, with its accounts.
    const before = new DataSource({
      ...dataSourceOptions('auth', db.url, { entities: [], migrations: [Users1732500000000, Identity1732600000000] }),
      migrationsRun: false,
    });
    await before.initialize();
    await before.runMigrations();
    await before.query(
      `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at) VALUES
       ('ada@example.ac.jp', 'ada@example.ac.jp', 'Ada', 'ada@example.ac.jp', '["user"]', '["faculty"]', 'https://idp.example.ac.jp/idp/shibboleth', now(), now()),
       ('bob@example.ac.jp', 'bob@example.ac.jp', 'Bob', NULL, '["user"]', '["staff"]', 'https://idp.example.ac.jp/idp/shibboleth', now(), now()),
       ('linked-by-link@example.ac.jp', 'linked-by-link@example.ac.jp', 'Cy', NULL, '["user"]', '[]', NULL, now(), now())`,
    );
    await before.destroy();

    const idpCert = selfSignedCertificate(dir, 'idp');
    const spCert = selfSignedCertificate(dir, 'sp');
    home = new ForgedIdp('https://idp.example.ac.jp/idp/shibboleth', idpCert.keyPem, idpCert.certPem, undefined, ['example.ac.jp']);
    other = new ForgedIdp('https://idp.other-u.ac.jp/idp/shibboleth', idpCert.keyPem, idpCert.certPem, undefined, ['other-u.ac.jp']);
    fs.writeFileSync(
      path.join(dir, 'federation.xml'),
      `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${[home, other].map((i) => i.metadata().replace(/ xmlns:md="[^"]+"/, '')).join('')}</md:EntitiesDescriptor>`,
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    sp = { entityId: `${base}/auth/saml/metadata`, acsUrl: `${base}/auth/saml/acs` };
    auth = await startService('auth', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: testNamespace(),
      AUTH_PORT: String(port),
      AUTH_PUBLIC_URL: base,
      SAML_SP_KEY_FILE: spCert.keyFile,
      SAML_SP_CERT_FILE: spCert.certFile,
      SAML_IDP_METADATA: path.join(dir, 'federation.xml'),
    });
  });

  afterAll(async () => {
    await auth?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(idp: ForgedIdp, attributes: Record<string, string[]>): Promise<{ status: number; reason?: string }> {
    const started = await fetch(`${sp.acsUrl.replace('/acs', '/login')}?idp=${encodeURIComponent(idp.entityId)}`, { redirect: 'manual' });
    const loginCookie = started.headers
      .getSetCookie()
      .find((c) => c.startsWith('maas_login='))!
      .split(';')[0];
    const from = auth.lines.length;
    const res = await fetch(sp.acsUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
      body: new URLSearchParams({
        SAMLResponse: toBase64(idp.signed(sp, { inResponseTo: authnRequestId(started.headers.get('location')!), attributes })),
      }),
    });
    if (res.status === 303) return { status: 303 };
    return { status: res.status, reason: String((await logRecordAfter(auth, from, (r) => r.msg === 'saml response rejected')).reason) };
  }

  it('binds each existing account to the IdP that last signed it in, under its eppn or e-mail address', async () => {
    expect(await db.query('SELECT idp_entity_id, subject, user_id FROM user_identities ORDER BY user_id')).toEqual([
      { idp_entity_id: home.entityId, subject: 'ada@example.ac.jp', user_id: 'ada@example.ac.jp' },
      { idp_entity_id: home.entityId, subject: 'bob@example.ac.jp', user_id: 'bob@example.ac.jp' },
    ]);
  });

  it('signs the account in from its own IdP, and refuses another IdP asserting its address', async () => {
    const ada = {
      [ATTRIBUTE_OIDS.eppn]: ['ada@example.ac.jp'],
      [ATTRIBUTE_OIDS.mail]: ['ada@example.ac.jp'],
      [ATTRIBUTE_OIDS.affiliation]: ['faculty'],
    };
    expect(await signIn(home, ada)).toEqual({ status: 303 });
    const impostor = {
      [ATTRIBUTE_OIDS.eppn]: ['ada@other-u.ac.jp'],
      [ATTRIBUTE_OIDS.mail]: ['ada@example.ac.jp'],
      [ATTRIBUTE_OIDS.affiliation]: ['faculty'],
    };
    expect(await signIn(other, impostor)).toEqual({ status: 403, reason: 'identity_not_linked' });
    expect(await db.query('SELECT count(*)::int AS n FROM users')).toEqual([{ n: 3 }]);
  });

  it('lets the owner of an account no IdP ever signed in to (made by a one-time link) claim it', async () => {
    const cy = {
      [ATTRIBUTE_OIDS.eppn]: ['linked-by-link@example.ac.jp'],
      [ATTRIBUTE_OIDS.mail]: ['linked-by-link@example.ac.jp'],
      [ATTRIBUTE_OIDS.affiliation]: ['staff'],
    };
    expect(await signIn(home, cy)).toEqual({ status: 303 });
    expect(await db.query('SELECT idp_entity_id FROM user_identities WHERE user_id = $1', ['linked-by-link@example.ac.jp'])).toEqual([
      { idp_entity_id: home.entityId },
    ]);
  });
});
