import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNatsUrl } from '@maas/testing';
import { issueSignInLink } from '../../../scripts/lib/sign-in-link';

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1);

/** A one-time sign-in link as `npm start` prints it without an IdP: it opens a session once, before it expires. */
describe('auth: one-time sign-in links against real PostgreSQL', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-link-test-'));
  const file = path.join(dir, 'sign-in-link.json');
  let db: TestDatabase;
  let auth: StartedService;

  beforeAll(async () => {
    db = await createTestDatabase('auth');
    auth = await startService('auth', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: testNamespace(),
      AUTH_SIGN_IN_LINK_FILE: file,
    });
  });

  afterAll(async () => {
    await auth?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const issue = (ttlMs = 900_000) =>
    new URL(
      issueSignInLink({ file, publicUrl: auth.url, email: 'admin@localhost', displayName: 'Quick-start admin', admin: true, ttlMs }).url,
    );
  const token = (link: URL) => link.pathname.split('/').pop()!;
  const redeem = (t: string) =>
    fetch(`${auth.url}/auth/one-time`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t }),
    });

  it('opens a page whose form redeems the link once: a session for the named administrator, then 410', async () => {
    const link = issue();
    expect(link.pathname).toMatch(/^\/auth\/one-time\/[A-Za-z0-9_-]{43}$/);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(token(link));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    // Opening the link (as a link preview would) does not use it up.
    for (let i = 0; i < 2; i++) {
      const page = await fetch(`${auth.url}${link.pathname}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(`name="token" value="${token(link)}"`);
    }

    const first = await redeem(token(link));
    expect({ status: first.status, location: first.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
    const session = cookieOf(first, 'maas_session');
    expect(session).toBeDefined();
    const who = await fetch(`${auth.url}/auth/session`, { headers: { cookie: `maas_session=${session}` } });
    expect(who.status).toBe(200);
    expect(((await who.json()) as { user: unknown }).user).toMatchObject({
      email: 'admin@localhost',
      displayName: 'Quick-start admin',
      roles: ['user', 'admin'],
    });
    expect(fs.existsSync(file)).toBe(false);

    const again = await redeem(token(link));
    expect(again.status).toBe(410);
    expect(cookieOf(again, 'maas_session')).toBeUndefined();
    expect(await again.text()).toContain('expired or has already been used');
  });

  it('refuses another token without using the link up, and an expired link', async () => {
    const link = issue();
    const wrong = await redeem('A'.repeat(43));
    expect(wrong.status).toBe(410);
    expect((await redeem('not a token')).status).toBe(400);
    expect(fs.existsSync(file)).toBe(true);
    expect((await redeem(token(link))).status).toBe(303);

    const expired = issue(-1);
    const late = await redeem(token(expired));
    expect(late.status).toBe(410);
    expect(cookieOf(late, 'maas_session')).toBeUndefined();
  });

  it('points a browser sent to sign in (no IdP here) to the one-time link', async () => {
    const res = await fetch(`${auth.url}/auth/saml/login?next=%2Fportal`, { redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('Sign in with the one-time link npm start printed');
  });

  it('lets only one of many simultaneous redemptions of a link through', async () => {
    const link = issue();
    const statuses = (await Promise.all(Array.from({ length: 8 }, () => redeem(token(link))))).map((r) => r.status);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(7);
  });
});
