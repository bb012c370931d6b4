import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Msg, NatsConnection, Subscription } from 'nats';
import { keyDigest, keyVerifyRequest, sessionDigest, sessionVerifyRequest } from '@maas/contracts';
import { startNode, startService, StartedService, testNats } from '@maas/testing';
import { issueSignInLink } from '../scripts/lib/sign-in-link';
import { chatBody, json, Stack } from '../services/gateway/test/support/stack';

interface Seen {
  subject: string;
  payload: string;
  headers: string;
}

/** Stands in for Open WebUI (a Python app not installable here): answers every request, records who the gateway named. */
async function startWebUi(): Promise<{ url: string; users: string[]; close: () => Promise<void> }> {
  const users: string[] = [];
  const server = http.createServer((req, res) => {
    users.push(String(req.headers['x-maas-user-email'] ?? ''));
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    users,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * What crosses NATS while a person uses the platform: signing in, making keys on the portal and with
 * `maas keys create`, chats with them, and portal and Open WebUI requests with the session, through a
 * real gateway, key-registry and auth. A client subscribed to every subject (`>`) sees each message;
 * none may hold a key's secret part or the session cookie, in its payload or its headers. The verify
 * requests are seen carrying digests instead, and the creations' replies carrying sealed keys.
 */
describe('credentials off the bus: the gateway sends digests, never keys or session cookies', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-bus-credentials-'));
  const linkFile = path.join(dir, 'sign-in-link.json');
  const stack = new Stack({ GATEWAY_KEY_CACHE_TTL: '1s', GATEWAY_KEY_NEGATIVE_TTL: '1ms' });
  let auth: StartedService;
  let metrics: StartedService;
  let web: StartedService;
  let webui: Awaited<ReturnType<typeof startWebUi>>;
  let sniffer: NatsConnection;
  let everything: Subscription;
  const seen: Seen[] = [];

  beforeAll(async () => {
    await stack.start();
    [auth, metrics, webui] = await Promise.all([
      startService('auth', { ...stack.env, AUTH_PUBLIC_URL: 'http://127.0.0.1:1', AUTH_SIGN_IN_LINK_FILE: linkFile }),
      startService('metrics-collector', stack.env),
      startWebUi(),
      stack.startWorker(),
    ]);
    web = await stack.startGateway({ GATEWAY_AUTH_URL: auth.url, GATEWAY_WEBUI_URL: webui.url });
  });

  afterAll(async () => {
    await everything?.drain();
    await sniffer?.close();
    await Promise.all([auth?.stop(), metrics?.stop(), webui?.close()]);
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Records every message on the NATS server (any namespace, replies and JetStream API included) from now on. */
  async function sniff(): Promise<void> {
    sniffer = await testNats();
    everything = sniffer.subscribe('>', {
      callback: (_err, m: Msg) => {
        const headers = m.headers ? [...m.headers.keys()].map((k) => `${k}: ${m.headers!.values(k).join(', ')}`).join('\n') : '';
        seen.push({ subject: m.subject, payload: Buffer.from(m.data).toString('utf8'), headers });
      },
    });
    await sniffer.flush();
  }

  /** A session as the sign-in link gives one, redeemed through the gateway; returns the cookie's value. */
  async function signIn(): Promise<string> {
    const link = new URL(issueSignInLink({ file: linkFile, publicUrl: web.url, email: 'ada@example.org', ttlMs: 60_000 }).url);
    const res = await fetch(`${web.url}/auth/one-time`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: link.pathname.split('/').pop()! }),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c.startsWith('maas_session='));
    expect(cookie).toBeDefined();
    return cookie!.slice('maas_session='.length);
  }

  /** `maas keys create` as an operator runs it; returns the key it prints. */
  async function cliCreateKey(): Promise<string> {
    const proc = startNode('bin/maas.js', stack.env, ['keys', 'create', '--user', 'ada@example.org', '--name', 'from-the-cli']);
    const code = await new Promise<number | null>((resolve) =>
      proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
    );
    expect(code).toBe(0);
    return proc.lines.find((l) => l.startsWith('sk-'))!;
  }

  /** A key made on the portal page, through the gateway; returns the key the page shows once. */
  async function portalCreateKey(session: string): Promise<string> {
    const cookie = `maas_session=${session}`;
    const page = await (await fetch(`${web.url}/portal`, { headers: { cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    const res = await fetch(`${web.url}/portal/keys`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, name: 'from-the-portal', expiresInDays: '7' }),
    });
    expect(res.status).toBe(201);
    return /id="new-secret"[^>]*value="(sk-[^"]+)"/.exec(await res.text())![1];
  }

  it('carries neither a key’s secret part nor the session cookie in any payload or header, from sign-in and key creation to use', async () => {
    await sniff();
    const session = await signIn();
    const secret = await portalCreateKey(session);
    const cliSecret = await cliCreateKey();
    const prefix = keyVerifyRequest(secret)!.prefix;
    const secretPart = (key: string) => key.slice(`sk-${keyVerifyRequest(key)!.prefix}_`.length);

    // A chat with each real key: the gateway's cache is cold, so it asks key-registry.
    for (const key of [secret, cliSecret]) {
      const chat = await fetch(`${web.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify(chatBody()),
      });
      expect(chat.status).toBe(200);
      expect((await json(chat)).choices[0].message.content).toBeTruthy();
    }
    // The same prefix with another secret: asked about too, and refused.
    const forged = `sk-${prefix}_${'A'.repeat(secretPart(secret).length)}`;
    const refused = await stack.post('/v1/chat/completions', forged, chatBody());
    expect(refused.status).toBe(401);

    // The portal (auth reads the cookie itself, then asks key-registry, router, the gateway and metrics-collector over NATS)
    // and Open WebUI (the gateway asks auth who the cookie belongs to).
    const portal = await fetch(`${web.url}/portal`, { headers: { cookie: `maas_session=${session}` } });
    expect(portal.status).toBe(200);
    expect(await portal.text()).toContain(`sk-${prefix}_`);
    const owui = await fetch(`${web.url}/api/chats`, { headers: { cookie: `maas_session=${session}`, accept: 'application/json' } });
    expect(owui.status).toBe(200);
    expect(webui.users).toEqual(['ada@example.org']);

    await sniffer.flush();
    const verifies = seen.filter((m) => m.subject === stack.subjects.subject('key-registry.verify')).map((m) => JSON.parse(m.payload));
    expect(verifies).toEqual(expect.arrayContaining([keyVerifyRequest(secret), keyVerifyRequest(cliSecret), keyVerifyRequest(forged)]));
    expect(verifies[0]).toEqual({ prefix, digest: keyDigest(secret) });
    const sessions = seen.filter((m) => m.subject === stack.subjects.subject('auth.verify-session')).map((m) => JSON.parse(m.payload));
    expect(sessions).toEqual([sessionVerifyRequest(session)]);
    expect(sessions[0]).toEqual({ tokenDigest: sessionDigest(session) });
    // Both creations were seen, each answered with its key sealed; the watch covers more than the verify subjects.
    const creates = seen.filter((m) => m.subject === stack.subjects.subject('key-registry.create'));
    expect(creates).toHaveLength(2);
    expect(seen.filter((m) => m.payload.includes('"secret":"sealed-v1.'))).toHaveLength(2);
    expect(seen.some((m) => m.subject === stack.subjects.subject('key-registry.list'))).toBe(true);

    const leaks = seen.filter((m) =>
      [secretPart(secret), secretPart(cliSecret), secretPart(forged), session].some((s) => m.payload.includes(s) || m.headers.includes(s)),
    );
    expect(leaks.map((m) => m.subject)).toEqual([]);
  });

  it('refuses a key stored before digests at the gateway with a 401 that names it and says to make a new one', async () => {
    // A row as key-registry wrote it before: HMAC of the key itself, hash_version 1.
    const { secret, keyId, prefix } = await stack.createKey({ name: 'from before' });
    await stack.db.query('UPDATE api_keys SET hash_version = 1 WHERE key_id = $1', [keyId]);
    const res = await stack.post('/v1/chat/completions', secret, chatBody());
    expect(res.status).toBe(401);
    const { error } = await json(res);
    expect(error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect(error.message).toContain(`sk-${prefix}_`);
    expect(error.message).toMatch(/create a new key \(maas keys create, or Keys in the portal\)/);
  });

  it('logs neither the key nor the session cookie in any service', async () => {
    const { secret, prefix } = await stack.createKey({ name: 'log-watch' });
    const secretPart = secret.slice(`sk-${prefix}_`.length);
    const session = await signIn();
    expect((await stack.post('/v1/chat/completions', secret, chatBody())).status).toBe(200);
    expect((await fetch(`${web.url}/api/chats`, { headers: { cookie: `maas_session=${session}` } })).status).toBe(200);
    for (const service of [stack.gateway, web, stack.keyRegistry, auth, metrics, stack.router]) {
      const text = service.lines.join('\n');
      expect(text).not.toContain(secretPart);
      expect(text).not.toContain(session);
    }
  });
});
