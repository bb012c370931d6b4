import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NatsConnection } from 'nats';
import { Client } from 'pg';
import request from 'supertest';
import { keyVerifyRequest, RegistrySnapshot, sessionVerifyRequest, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  factory,
  startNode,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';
import {
  ATTRIBUTE_OIDS,
  authnRequestId,
  ForgedIdp,
  ForgedResponse,
  freePort,
  logRecordAfter,
  selfSignedCertificate,
  signElement,
  toBase64,
} from '../../../e2e/support/saml-idp';

const ADA = {
  [ATTRIBUTE_OIDS.eppn]: ['ada@example.ac.jp'],
  [ATTRIBUTE_OIDS.mail]: ['ada@example.ac.jp'],
  [ATTRIBUTE_OIDS.displayName]: ['Ada Lovelace'],
  [ATTRIBUTE_OIDS.affiliation]: ['faculty', 'member'],
};

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1);

describe('auth: SAML login, sessions and portal against real NATS and PostgreSQL', () => {
  const namespace = testNamespace();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-auth-test-'));
  let db: TestDatabase;
  let ledgerDb: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let auth: StartedService;
  let keyRegistry: StartedService;
  let metricsCollector: StartedService;
  let env: Record<string, string>;
  let base: string;
  let idp: ForgedIdp;
  let foreign: { keyPem: string; certPem: string };
  let sp: { entityId: string; acsUrl: string };

  beforeAll(async () => {
    db = await createTestDatabase('auth');
    ledgerDb = await createTestDatabase('authledger');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    const idpCert = selfSignedCertificate(dir, 'idp');
    const spCert = selfSignedCertificate(dir, 'sp');
    foreign = selfSignedCertificate(dir, 'foreign');
    idp = new ForgedIdp('https://idp.example.ac.jp/idp/shibboleth', idpCert.keyPem, idpCert.certPem, undefined, ['example.ac.jp']);
    fs.writeFileSync(path.join(dir, 'idp.xml'), idp.metadata());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    sp = { entityId: `${base}/auth/saml/metadata`, acsUrl: `${base}/auth/saml/acs` };
    env = {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      AUTH_PORT: String(port),
      AUTH_PUBLIC_URL: base,
      SAML_SP_KEY_FILE: spCert.keyFile,
      SAML_SP_CERT_FILE: spCert.certFile,
      SAML_IDP_METADATA: path.join(dir, 'idp.xml'),
      SAML_CLOCK_SKEW: '30s',
      AUTH_ADMINS: 'grace@example.ac.jp',
    };
    [auth, keyRegistry, metricsCollector] = await Promise.all([
      startService('auth', env),
      startService('key-registry', { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace }),
      // The usage ledger is the collector's, in a database of its own: auth asks it over NATS.
      startService('metrics-collector', { DATABASE_URL: ledgerDb.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace }),
    ]);
    // router stands in: one worker serving one model.
    const snapshot: RegistrySnapshot = {
      takenAt: new Date().toISOString(),
      workers: [{ registration: factory.workerRegistered({ workerId: 'w-1' }), state: 'ready', lastSeenAt: new Date().toISOString() }],
    };
    nc.subscribe(new Subjects(namespace).subject('router.list-workers'), {
      callback: (_e, m) => m.respond(new TextEncoder().encode(JSON.stringify(snapshot))),
    });
  });

  afterAll(async () => {
    await Promise.all([auth?.stop(), keyRegistry?.stop(), metricsCollector?.stop()]);
    await nc?.close();
    await Promise.all([db?.drop(), ledgerDb?.drop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a login as a browser would: the AuthnRequest's ID and the login-binding cookie. */
  async function beginLogin(next = '/portal'): Promise<{ requestId: string; loginCookie: string }> {
    const res = await fetch(`${base}/auth/saml/login?next=${encodeURIComponent(next)}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(idp.ssoUrl)).toBe(true);
    return { requestId: authnRequestId(location), loginCookie: cookieOf(res, 'maas_login')! };
  }

  function postResponse(xml: string, loginCookie?: string): Promise<Response> {
    return fetch(sp.acsUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(loginCookie ? { cookie: `maas_login=${loginCookie}` } : {}) },
      body: new URLSearchParams({ SAMLResponse: toBase64(xml) }),
    });
  }

  async function login(
    attributes: Record<string, string[]> = ADA,
  ): Promise<{ session: string; assertionXml: string; loginCookie: string }> {
    const { requestId, loginCookie } = await beginLogin();
    const xml = idp.signed(sp, { inResponseTo: requestId, attributes });
    const res = await postResponse(xml, loginCookie);
    expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
    return { session: cookieOf(res, 'maas_session')!, assertionXml: xml, loginCookie };
  }

  /** Posts a response and expects it refused with this reason in the log. */
  async function expectRejected(xml: string, reason: string, loginCookie?: string, status = 400): Promise<void> {
    const from = auth.lines.length;
    const res = await postResponse(xml, loginCookie);
    const page = await res.text();
    expect({ status: res.status, session: cookieOf(res, 'maas_session') }).toEqual({ status, session: undefined });
    expect(page).toContain('Sign-in failed');
    const record = await logRecordAfter(auth, from, (r) => r.msg === 'saml response rejected');
    expect(record.reason).toBe(reason);
  }

  it('publishes signed SP metadata naming the ACS, SLO, discovery response and the attributes it needs by OID', async () => {
    const res = await fetch(`${base}/auth/saml/metadata`);
    expect(res.headers.get('content-type')).toMatch(/samlmetadata\+xml/);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${sp.entityId}"`);
    expect(xml).toContain(`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${sp.acsUrl}"`);
    expect(xml).toContain(`Location="${base}/auth/saml/slo"`);
    expect(xml).toContain('idpdisc:DiscoveryResponse');
    expect(xml).toContain(`Name="${ATTRIBUTE_OIDS.eppn}"`);
    expect(xml).toMatch(/<ds:Signature[\s\S]*<ds:SignatureValue>/);
    const { SignedXml } = await import('xml-crypto');
    const sig = new SignedXml({ publicCert: fs.readFileSync(env.SAML_SP_CERT_FILE, 'utf8') });
    sig.loadSignature(/<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0]);
    expect(sig.checkSignature(xml)).toBe(true);
  });

  it('logs a user in from a valid signed assertion, with a Lax HttpOnly session cookie, and lands on the portal', async () => {
    const { requestId, loginCookie } = await beginLogin('/portal?tab=keys');
    const res = await postResponse(idp.signed(sp, { inResponseTo: requestId, attributes: ADA }), loginCookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/portal?tab=keys');
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('maas_session='))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; see the X-Forwarded-Proto test
    const session = cookieOf(res, 'maas_session')!;

    const portal = await fetch(`${base}/portal`, { headers: { cookie: `maas_session=${session}` } });
    expect(portal.status).toBe(200);
    expect(portal.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const page = await portal.text();
    expect(page).toContain('Ada Lovelace');
    expect(page).toContain('Qwen/Qwen2.5-3B-Instruct');

    const forward = await fetch(`${base}/auth/session`, { headers: { cookie: `maas_session=${session}` } });
    expect(forward.status).toBe(200);
    expect(forward.headers.get('x-maas-user-email')).toBe('ada@example.ac.jp');
    expect(await bus.request('auth.verify-session', sessionVerifyRequest(session))).toMatchObject({
      valid: true,
      user: { userId: 'ada@example.ac.jp', email: 'ada@example.ac.jp', roles: ['user'] },
    });
  });

  it('stores the user with mapped attributes and only a hash of the session token', async () => {
    const { session } = await login();
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const users = await c.query('SELECT * FROM users WHERE user_id = $1', ['ada@example.ac.jp']);
      expect(users.rows[0]).toMatchObject({
        email: 'ada@example.ac.jp',
        display_name: 'Ada Lovelace',
        eppn: 'ada@example.ac.jp',
        roles: ['user'],
        affiliations: ['faculty', 'member'],
        idp_entity_id: idp.entityId,
      });
      const sessions = await c.query('SELECT * FROM sessions');
      expect(JSON.stringify(sessions.rows)).not.toContain(session);
    } finally {
      await c.end();
    }
  });

  describe('refuses, with the reason logged', () => {
    let pending: { requestId: string; loginCookie: string };
    beforeEach(async () => {
      pending = await beginLogin();
    });
    const ok = (o: Partial<ForgedResponse> = {}) => ({ inResponseTo: pending.requestId, attributes: ADA, ...o });

    it('an unsigned response', async () => {
      await expectRejected(idp.unsigned(sp, ok()), 'unsigned', pending.loginCookie);
    });

    it('a response signed by another key (with its certificate in KeyInfo, and without)', async () => {
      await expectRejected(idp.signed(sp, ok(), foreign), 'bad_signature', pending.loginCookie);
      await expectRejected(idp.signed(sp, ok(), { keyPem: foreign.keyPem, certPem: null }), 'bad_signature', pending.loginCookie);
    });

    it('an assertion modified after signing', async () => {
      const signed = idp.signed(sp, ok());
      await expectRejected(signed.replace('ada@example.ac.jp', 'grace@example.ac.jp'), 'bad_signature', pending.loginCookie);
    });

    it('signature wrapping: a forged assertion beside, or around, the signed one', async () => {
      const genuine = idp.signed(sp, ok());
      const signedAssertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(genuine)![0];
      const evil = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(
        idp.unsigned(sp, ok({ attributes: { ...ADA, [ATTRIBUTE_OIDS.mail]: ['grace@example.ac.jp'] } })),
      )![0];
      // Evil assertion first, the genuine signed one after it.
      await expectRejected(genuine.replace(signedAssertion, evil + signedAssertion), 'signature_wrapping', pending.loginCookie);
      // The genuine one hidden inside the evil one's SubjectConfirmationData.
      const wrapped = evil.replace(
        /<saml:SubjectConfirmationData([^>]*)\/>/,
        `<saml:SubjectConfirmationData$1>${signedAssertion}</saml:SubjectConfirmationData>`,
      );
      await expectRejected(genuine.replace(signedAssertion, wrapped), 'signature_wrapping', pending.loginCookie);
    });

    it('an assertion for another audience', async () => {
      await expectRejected(
        idp.signed(sp, ok({ audience: 'https://other-sp.example.ac.jp/shibboleth-sp' })),
        'wrong_audience',
        pending.loginCookie,
      );
    });

    it('an assertion for another recipient, or a response to another destination', async () => {
      await expectRejected(
        idp.signed(sp, ok({ recipient: 'https://other-sp.example.ac.jp/Shibboleth.sso/SAML2/POST' })),
        'wrong_recipient',
        pending.loginCookie,
      );
      await expectRejected(
        idp.signed(sp, ok({ destination: 'https://other-sp.example.ac.jp/Shibboleth.sso/SAML2/POST' })),
        'wrong_destination',
        pending.loginCookie,
      );
    });

    it('an expired assertion, and one not yet valid (beyond the 30 s skew)', async () => {
      const past = Date.now() - 3_600_000;
      await expectRejected(
        idp.signed(sp, ok({ issueInstant: new Date(past), notBefore: new Date(past), notOnOrAfter: new Date(Date.now() - 31_000) })),
        'expired',
        pending.loginCookie,
      );
      await expectRejected(idp.signed(sp, ok({ notBefore: new Date(Date.now() + 120_000) })), 'not_yet_valid', pending.loginCookie);
    });

    it('a replayed assertion, also at another replica of auth sharing the database', async () => {
      const { assertionXml, loginCookie } = await login();
      await expectRejected(assertionXml, 'replayed', loginCookie);
      const replica = await startService('auth', { ...env, AUTH_PORT: '0' });
      try {
        const res = await fetch(`${replica.url}/auth/saml/acs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `maas_login=${loginCookie}` },
          body: new URLSearchParams({ SAMLResponse: toBase64(assertionXml) }),
        });
        expect(res.status).toBe(400);
        expect((await replica.waitFor((r) => r.msg === 'saml response rejected', 10_000)).reason).toBe('replayed');
      } finally {
        await replica.stop();
      }
    });

    it('an answer to a request we never sent, and an unsolicited response', async () => {
      await expectRejected(idp.signed(sp, ok({ inResponseTo: '_never-sent' })), 'unknown_in_response_to', pending.loginCookie);
      await expectRejected(idp.signed(sp, ok({ inResponseTo: null })), 'unsolicited', pending.loginCookie);
    });

    it('a response finished in another browser than the one that started the login', async () => {
      await expectRejected(idp.signed(sp, ok()), 'browser_mismatch', undefined);
    });

    it('a post without the login cookie burns neither the genuine assertion nor the pending login', async () => {
      const genuine = idp.signed(sp, ok());
      await expectRejected(genuine, 'browser_mismatch', undefined);
      await expectRejected(genuine, 'browser_mismatch', 'x'.repeat(43));
      const res = await postResponse(genuine, pending.loginCookie);
      expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
      await expectRejected(genuine, 'replayed', pending.loginCookie);
    });

    it('a response from an IdP we do not trust, and an IdP error status', async () => {
      const stranger = new ForgedIdp('https://idp.stranger.example/idp', foreign.keyPem, foreign.certPem);
      await expectRejected(stranger.signed(sp, ok()), 'unknown_idp', pending.loginCookie);
      await expectRejected(
        idp.signed(sp, ok({ statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder' })),
        'idp_status',
        pending.loginCookie,
      );
    });

    it('a user whose affiliation is not entitled (403), without creating a session', async () => {
      await expectRejected(
        idp.signed(sp, ok({ attributes: { ...ADA, [ATTRIBUTE_OIDS.affiliation]: ['alum'] } })),
        'not_entitled',
        pending.loginCookie,
        403,
      );
    });

    it('garbage and XML with a DOCTYPE', async () => {
      await expectRejected('<not-saml/>', 'malformed', pending.loginCookie);
      await expectRejected(`<!DOCTYPE x [<!ENTITY e "boom">]>${idp.signed(sp, ok())}`, 'malformed', pending.loginCookie);
    });
  });

  it('accepts a response where only the Response (not the assertion) is signed', async () => {
    const { requestId, loginCookie } = await beginLogin();
    const xml = signElement(idp.unsigned(sp, { inResponseTo: requestId, attributes: ADA }), 'Response', idp.keyPem, idp.certPem);
    expect((await postResponse(xml, loginCookie)).status).toBe(303);
  });

  it('names the session cookie __Host- and marks it Secure, host-only and Path=/ when a trusted proxy says the browser used https', async () => {
    const { requestId, loginCookie } = await beginLogin();
    const res = await fetch(sp.acsUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `maas_login=${loginCookie}`, 'x-forwarded-proto': 'https' },
      body: new URLSearchParams({ SAMLResponse: toBase64(idp.signed(sp, { inResponseTo: requestId, attributes: ADA })) }),
    });
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('__Host-maas_session='));
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; Path=\/(;|$)/);
    expect(session).not.toMatch(/; Domain=/i);
    expect(cookies.some((c) => c.startsWith('maas_session=') && !/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c))).toBe(false);
  });

  it('sends a browser without a session to sign in, and back to where it was going', async () => {
    await request(base).get('/portal/admin').expect(303).expect('location', '/auth/saml/login?next=%2Fportal%2Fadmin');
    await request(base).get('/auth/session').expect(401);
  });

  describe('portal (supertest against the running auth)', () => {
    let session: string;
    const get = (p: string, s = session) => request(base).get(p).set('cookie', `maas_session=${s}`);
    const post = (p: string, fields: Record<string, string>, s = session) =>
      request(base).post(p).set('cookie', `maas_session=${s}`).type('form').send(fields);
    const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1];

    beforeAll(async () => {
      ({ session } = await login());
    });

    it('creates a key (secret shown once), lists it, and revokes it; key-registry agrees', async () => {
      const csrf = csrfOf((await get('/portal')).text);
      const created = await post('/portal/keys', { _csrf: csrf, name: 'laptop notebook', expiresInDays: '30' }).expect(201);
      const secret = /id="new-secret"[^>]*value="(sk-[^"]+)"/.exec(created.text)![1];
      expect(await bus.request('key-registry.verify', keyVerifyRequest(secret)!)).toMatchObject({
        valid: true,
        key: { userEmail: 'ada@example.ac.jp', name: 'laptop notebook' },
      });
      const listing = (await get('/portal')).text;
      expect(listing).toContain('laptop notebook');
      expect(listing).not.toContain(secret);

      const keyId = /action="\/portal\/keys\/([^/]+)\/revoke"/.exec(listing)![1];
      await post(`/portal/keys/${keyId}/revoke`, { _csrf: csrf }).expect(303);
      expect(await bus.request('key-registry.verify', keyVerifyRequest(secret)!)).toEqual({ valid: false, reason: 'revoked' });
    });

    it('refuses state changes without the session CSRF token, or from another origin', async () => {
      const csrf = csrfOf((await get('/portal')).text);
      await post('/portal/keys', { name: 'x', expiresInDays: '30' }).expect(403);
      await post('/portal/keys', { _csrf: 'forged', name: 'x', expiresInDays: '30' }).expect(403);
      await post('/portal/keys', { _csrf: csrf, name: 'x', expiresInDays: '30' }).set('origin', 'https://evil.example').expect(403);
      expect((await bus.request('key-registry.list', { userEmail: 'ada@example.ac.jp' })).keys.filter((k) => k.name === 'x')).toHaveLength(
        0,
      );
    });

    it("cannot revoke someone else's key", async () => {
      const other = await bus.request('key-registry.create', { userEmail: 'grace@example.ac.jp', name: 'grace' });
      const csrf = csrfOf((await get('/portal')).text);
      await post(`/portal/keys/${other.key.keyId}/revoke`, { _csrf: csrf }).expect(404);
      expect((await bus.request('key-registry.verify', keyVerifyRequest(other.secret)!)).valid).toBe(true);
    });

    it("charts daily usage from metrics-collector's ledger, asked over NATS", async () => {
      await ledgerDb.query(
        `INSERT INTO usage_records (request_id, key_id, user_id, model, endpoint, kind, status, prompt_tokens, completion_tokens, latency_ms, started_at, finished_at)
         VALUES ('r1', 'k', 'ada@example.ac.jp', 'm', 'chat.completions', 'interactive', 200, 1200, 345, 10, now(), now()),
                ('r2', 'k', 'someone@else', 'm', 'chat.completions', 'interactive', 200, 99999, 1, 10, now(), now())`,
      );
      // auth has no usage table of its own to read.
      expect(await db.query("SELECT to_regclass('usage_records') AS t")).toEqual([{ t: null }]);
      const html = (await get('/portal')).text;
      expect(html).toContain('<svg');
      expect(html).toContain('1,545 tokens between');
      expect(html).not.toContain('99,999');
    });

    it('keeps administration to administrators', async () => {
      await get('/portal/admin').expect(403);
      const admin = await login({
        ...ADA,
        [ATTRIBUTE_OIDS.eppn]: ['grace@example.ac.jp'],
        [ATTRIBUTE_OIDS.mail]: ['grace@example.ac.jp'],
        [ATTRIBUTE_OIDS.displayName]: ['Grace Hopper'],
      });
      const html = (await get('/portal/admin', admin.session).expect(200)).text;
      expect(html).toContain('ada@example.ac.jp');
      expect(html).toContain('w-1');
    });

    it('signs out: the session is revoked server-side and the cookie cleared', async () => {
      const { session: s } = await login();
      const csrf = csrfOf((await get('/portal', s)).text);
      await request(base).post('/auth/logout').set('cookie', `maas_session=${s}`).expect(403);
      const out = await post('/auth/logout', { _csrf: csrf }, s).expect(303).expect('location', '/auth/logged-out'); // this IdP has no SLO endpoint
      expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).join()).toMatch(/maas_session=;/);
      expect(await bus.request('auth.verify-session', sessionVerifyRequest(s))).toEqual({ valid: false, reason: 'revoked' });
    });
  });

  it('limits the logins one address starts per minute (429), and deletes unanswered requests on a timer', async () => {
    const own = await createTestDatabase('authrate');
    const limited = await startService('auth', {
      ...env,
      DATABASE_URL: own.url,
      AUTH_PORT: '0',
      SAML_REQUEST_TTL: '2s',
      AUTH_LOGIN_RATE_LIMIT: '4',
    });
    const pg = new Client({ connectionString: own.url });
    await pg.connect();
    const pendingRows = async () => Number((await pg.query('SELECT count(*) AS n FROM saml_requests')).rows[0].n);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${limited.url}/auth/saml/login`, { redirect: 'manual' })).status);
      expect(statuses).toEqual([302, 302, 302, 302, 429, 429]);
      const refused = await fetch(`${limited.url}/auth/saml/login`, { redirect: 'manual' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.text()).toContain('Too many sign-in attempts');
      expect(await pendingRows()).toBe(4);
      // No response ever comes back: the rows go once expired, by the timer alone.
      const deadline = Date.now() + 60_000;
      while ((await pendingRows()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(await pendingRows()).toBe(0);
    } finally {
      await pg.end();
      await limited.stop();
      await own.drop();
    }
  });

  it('lets an administrator disable an account over NATS, which ends its sessions and blocks login', async () => {
    const { session } = await login();
    const reply = await bus.request('auth.update-user', { user: 'ada@example.ac.jp', disabled: true });
    expect(reply.user).toMatchObject({ userId: 'ada@example.ac.jp', disabledAt: expect.any(String), activeSessions: 0 });
    expect((await bus.request('auth.verify-session', sessionVerifyRequest(session))).valid).toBe(false);
    const { requestId, loginCookie } = await beginLogin();
    await expectRejected(idp.signed(sp, { inResponseTo: requestId, attributes: ADA }), 'account_disabled', loginCookie, 403);
    await bus.request('auth.update-user', { user: 'ada@example.ac.jp', disabled: false });
    expect((await bus.request('auth.list-users', { user: 'ada@example.ac.jp' })).users[0].disabledAt).toBeNull();
  });

  it('maas users lists, shows and signs out accounts over NATS, and fails with one line for an unknown one', async () => {
    const run = async (...args: string[]) => {
      const proc = startNode('bin/maas.js', { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace }, ['users', ...args]);
      const code = await new Promise((resolve) =>
        proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
      );
      return { code, lines: proc.lines.filter(Boolean) };
    };
    const { session } = await login();
    const listed = await run('list');
    expect(listed.code).toBe(0);
    expect(listed.lines.find((l) => l.startsWith('ada@example.ac.jp  '))).toMatch(/roles=user .*affiliation=faculty,member .*active$/);
    const shown = await run('show', 'ada@example.ac.jp', '--json');
    expect(JSON.parse(shown.lines.join('\n'))[0]).toMatchObject({ userId: 'ada@example.ac.jp', displayName: 'Ada Lovelace' });
    expect((await run('end-sessions', 'ada@example.ac.jp')).code).toBe(0);
    expect((await bus.request('auth.verify-session', sessionVerifyRequest(session))).valid).toBe(false);
    const unknown = await run('disable', 'nobody@example.ac.jp');
    expect(unknown.code).not.toBe(0);
    expect(unknown.lines).toEqual([expect.stringMatching(/no account nobody@example\.ac\.jp/)]);
  });
});
