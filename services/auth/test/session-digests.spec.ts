import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NatsConnection } from 'nats';
import { keyDigest, sessionDigest, sessionVerifyRequest, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNats, testNatsUrl } from '@maas/testing';
import { issueSignInLink } from '../../../scripts/lib/sign-in-link';
import { Identity1732600000000 } from '../src/migrations/1732600000000-identity';
import { IdpIdentities1733000000000 } from '../src/migrations/1733000000000-idp-identities';
import { Users1732500000000 } from '../src/migrations/1732500000000-users';

/**
 * Sessions found by the digest of their cookie, the only form the gateway sends over NATS. A
 * session from before (stored as SHA-256 of the bare cookie) ends with the upgrade: its user
 * signs in again.
 */
describe('auth: sessions by cookie digest, against real NATS and PostgreSQL', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-session-digest-'));
  const linkFile = path.join(dir, 'sign-in-link.json');
  const namespace = testNamespace();
  const oldCookie = randomBytes(32).toString('base64url');
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let auth: StartedService;

  beforeAll(async () => {
    db = await createTestDatabase('sessdigest');
    // The schema and a signed-in user as the release before left them.
    const q = { query: (sql: string) => db.query(sql) } as never;
    for (const m of [new Users1732500000000(), new Identity1732600000000(), new IdpIdentities1733000000000()]) await m.up(q);
    await db.query(
      `INSERT INTO users (user_id, email, display_name, roles, created_at) VALUES ('ada@example.org', 'ada@example.org', 'Ada', '["user"]', now())`,
    );
    await db.query(
      `INSERT INTO sessions (token_hash, session_id, user_id, csrf_token, created_at, last_seen_at, expires_at)
       VALUES ($1, $2, 'ada@example.org', 'csrf', now(), now(), now() + interval '1 day')`,
      [createHash('sha256').update(oldCookie).digest(), randomUUID()],
    );
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    auth = await startService('auth', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      AUTH_SIGN_IN_LINK_FILE: linkFile,
    });
  });

  afterAll(async () => {
    await auth?.stop();
    await nc?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends the sessions from before the upgrade: their cookies no longer sign anyone in, and none counts as active', async () => {
    const rows = await db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM sessions');
    expect(rows).toHaveLength(1);
    expect(rows[0].revoked_at).not.toBeNull();
    expect((await bus.request('auth.verify-session', sessionVerifyRequest(oldCookie))).valid).toBe(false);
    const who = await fetch(`${auth.url}/auth/session`, { headers: { cookie: `maas_session=${oldCookie}` } });
    expect(who.status).toBe(401);
  });

  it('finds a new session by its cookie over HTTP and by the cookie’s digest over NATS, and stores only the digest', async () => {
    const link = new URL(issueSignInLink({ file: linkFile, publicUrl: auth.url, email: 'ada@example.org', ttlMs: 60_000 }).url);
    const redeemed = await fetch(`${auth.url}/auth/one-time`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: link.pathname.split('/').pop()! }),
    });
    expect(redeemed.status).toBe(303);
    const cookie = redeemed.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c.startsWith('maas_session='))!
      .slice('maas_session='.length);

    expect((await fetch(`${auth.url}/auth/session`, { headers: { cookie: `maas_session=${cookie}` } })).status).toBe(200);
    expect(await bus.request('auth.verify-session', { tokenDigest: sessionDigest(cookie) })).toMatchObject({
      valid: true,
      user: { email: 'ada@example.org' },
    });
    // A digest of something else, or of the cookie under the key tag, is no session.
    expect((await bus.request('auth.verify-session', sessionVerifyRequest(`${cookie}x`))).valid).toBe(false);
    expect((await bus.request('auth.verify-session', { tokenDigest: keyDigest(cookie) })).valid).toBe(false);

    const stored = await db.query<{ token_hash: Buffer }>('SELECT token_hash FROM sessions WHERE revoked_at IS NULL');
    expect(stored.map((r) => r.token_hash.toString('base64url'))).toEqual([sessionDigest(cookie)]);

    // The cookie itself is refused on the bus: the old message shape is malformed.
    const raw = await nc.request(
      new Subjects(namespace).subject('auth.verify-session'),
      new TextEncoder().encode(JSON.stringify({ token: cookie })),
      {
        timeout: 2000,
      },
    );
    expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('400');
  });
});
