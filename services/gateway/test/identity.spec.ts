import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { Client } from 'pg';
import { sessionDigest } from '@maas/contracts';
import { factory, startService, StartedService } from '@maas/testing';
import { chatBody, json, sleep, Stack, waitUntil } from './support/stack';

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodySha256: string;
  bodyBytes: number;
}

/** Stands in for Open WebUI (a Python app not installable here): records what reaches it, echoes websockets. */
async function startRecorder(): Promise<{ url: string; seen: Recorded[]; close: () => Promise<void> }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, bodySha256: hash.digest('hex'), bodyBytes: bytes });
      res.writeHead(200, [
        'content-type',
        'text/html',
        'set-cookie',
        'token=abc; Path=/; HttpOnly',
        'set-cookie',
        'theme=dark; Path=/',
        'content-security-policy',
        "default-src 'self'",
      ]);
      res.end('<html>webui</html>');
    });
  });
  server.on('upgrade', (req, socket) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, bodySha256: '', bodyBytes: 0 });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** A raw HTTP request (fetch cannot send X-Forwarded-For or read every Set-Cookie reliably). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

/**
 * Identity and access at the gateway against the real platform: token windows seeded from
 * metrics-collector's ledger, `GET /v1/usage`, IP allow-lists, trusted attribution, and the
 * reverse proxy to auth (real) and Open WebUI (a recording stand-in).
 */
describe('gateway: identity and access', () => {
  const stack = new Stack({
    GATEWAY_SHORT_WINDOW: '4s',
    GATEWAY_LONG_WINDOW: '1d',
    GATEWAY_LEDGER_RESEED: '1s',
    GATEWAY_KEY_CACHE_TTL: '1m',
    GATEWAY_TRUSTED_PROXIES: '127.0.0.1, ::1',
    GATEWAY_ALLOWED_CIDRS: '127.0.0.0/8, ::1, 10.0.0.0/8, 2001:db8::/32',
  });
  let metrics: StartedService;
  let auth: StartedService;
  let web: StartedService;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;

  beforeAll(async () => {
    await stack.start();
    [metrics, auth, recorder] = await Promise.all([
      startService('metrics-collector', stack.env),
      startService('auth', { ...stack.env, AUTH_PUBLIC_URL: 'http://127.0.0.1:1' }),
      startRecorder(),
      stack.startWorker(),
    ]);
    web = await stack.startGateway({ GATEWAY_AUTH_URL: auth.url, GATEWAY_WEBUI_URL: recorder.url, GATEWAY_TRUSTED_PROXIES: '' });
  });

  afterAll(async () => {
    await Promise.all([metrics?.stop(), auth?.stop(), recorder?.close()]);
    await stack.stop();
  });

  async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: stack.db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  const usage = async (secret: string, base = stack.gateway.url) =>
    json(await fetch(`${base}/v1/usage`, { headers: { authorization: `Bearer ${secret}` } }));

  it('answers GET /v1/usage in the production shape, null limits meaning unlimited', async () => {
    const { secret, keyId } = await stack.createKey({ limits: { chatShortWindowTokens: 500, batchLongWindowTokens: 9000 } });
    const res = await fetch(stack.url('/v1/usage'), { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      api_key_id: keyId,
      chat: {
        short_window: { window_hours: expect.closeTo(4 / 3600, 6), used_tokens: 0, limit_tokens: 500, remaining_tokens: 500 },
        long_window: { window_days: 1, used_tokens: 0, limit_tokens: null, remaining_tokens: null },
      },
      batch: {
        short_window: { window_hours: expect.closeTo(4 / 3600, 6), used_tokens: 0, limit_tokens: null, remaining_tokens: null },
        long_window: { window_days: 1, used_tokens: 0, limit_tokens: 9000, remaining_tokens: 9000 },
      },
    });
    const anonymous = await fetch(stack.url('/v1/usage'));
    expect(anonymous.status).toBe(401);
    expect((await json(anonymous)).error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
  });

  it('refuses chat beyond the short-window token limit with 429 naming limit, usage and ceiling, and admits again once it slides', async () => {
    const { secret } = await stack.createKey({ limits: { chatShortWindowTokens: 30 } });
    let refused: Response | undefined;
    let used = 0;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await stack.post('/v1/chat/completions', secret, chatBody());
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(200);
        const body = await json(res);
        used += body.usage.prompt_tokens + body.usage.completion_tokens;
      }
    }
    expect(refused).toBeDefined();
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    const error = (await json(refused!)).error;
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'chat_short_window_tokens_exceeded' });
    expect(error.message).toBe(`chat token limit for the 4-second window reached: ${used} of 30 tokens used; retry after ${retryAfter} s`);
    expect((await usage(secret)).chat.short_window).toMatchObject({ used_tokens: used, limit_tokens: 30, remaining_tokens: 0 });

    await sleep(retryAfter * 1000 + 200);
    expect((await stack.post('/v1/chat/completions', secret, chatBody())).status).toBe(200);
  });

  it('seeds a key’s windows from the ledger, so usage counted elsewhere (another gateway, before a restart) is limited here', async () => {
    const { secret, keyId } = await stack.createKey({ limits: { chatLongWindowTokens: 1000 } });
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    const events = [
      factory.requestCompleted({ keyId, promptTokens: 600, completionTokens: 500, finishedAt: hoursAgo(2), startedAt: hoursAgo(2) }), // in the long window
      factory.requestCompleted({
        keyId,
        promptTokens: 70,
        completionTokens: 30,
        kind: 'batch',
        finishedAt: hoursAgo(5),
        startedAt: hoursAgo(5),
      }),
      factory.requestCompleted({ keyId, promptTokens: 5000, completionTokens: 0, finishedAt: hoursAgo(30), startedAt: hoursAgo(30) }), // slid out
    ];
    for (const e of events) await stack.bus.persist('usage.request-completed', e, e.requestId);
    await waitUntil(
      async () => Number((await sql<{ n: string }>('SELECT count(*) AS n FROM usage_records WHERE key_id = $1', [keyId]))[0].n) === 3,
      15_000,
      'the ledger',
    );

    const report = await usage(secret);
    expect(report.chat.long_window).toEqual({ window_days: 1, used_tokens: 1100, limit_tokens: 1000, remaining_tokens: 0 });
    expect(report.chat.short_window.used_tokens).toBe(0);
    expect(report.batch.long_window.used_tokens).toBe(100);
    const res = await stack.post('/v1/chat/completions', secret, chatBody());
    expect(res.status).toBe(429);
    const error = (await json(res)).error;
    expect(error.code).toBe('chat_long_window_tokens_exceeded');
    expect(error.message).toMatch(/^chat token limit for the 1-day window reached: 1,100 of 1,000 tokens used; retry after [\d,]+ s$/);
    // The 2-hour-old usage leaves the 1-day window in 22 hours at the latest (the ledger is read per quarter).
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(18 * 3600);
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600);

    // The other gateway never saw this key: it reads the same ledger.
    expect((await usage(secret, web.url)).chat.long_window.used_tokens).toBe(1100);
  });

  it('applies the global and per-key IP allow-lists (IPv4 and IPv6), believing X-Forwarded-For only from trusted proxies', async () => {
    const { secret } = await stack.createKey({ allowedCidrs: ['10.1.0.0/16', '2001:db8:1::/48'] });
    const auth = { authorization: `Bearer ${secret}` };
    const models = (xff?: string) => rawGet(stack.url('/v1/models'), xff ? { ...auth, 'x-forwarded-for': xff } : auth);

    expect((await models('10.1.2.3')).status).toBe(200);
    expect((await models('2001:db8:1::7')).status).toBe(200);
    // Entries left of the last untrusted hop are the client's own writing and are ignored.
    expect((await models('10.1.2.3, 10.9.9.9')).status).toBe(403);
    const outsideKey = await models('10.2.0.1');
    expect(outsideKey.status).toBe(403);
    expect(JSON.parse(outsideKey.body).error).toMatchObject({ type: 'permission_error', code: 'address_not_allowed' });
    expect(JSON.parse(outsideKey.body).error.message).toContain('10.2.0.1');
    const ipv6Outside = await models('2001:db8:2::1');
    expect(ipv6Outside.status).toBe(403);
    expect(JSON.parse(ipv6Outside.body).error.message).toContain('2001:db8:2::1');

    const outsideAll = await models('203.0.113.9');
    expect(outsideAll.status).toBe(403);
    expect(JSON.parse(outsideAll.body).error.message).toBe('the API may not be used from 203.0.113.9 (not in GATEWAY_ALLOWED_CIDRS)');

    // The second gateway trusts no proxy: the header is the client's word and changes nothing.
    expect((await rawGet(`${web.url}/v1/models`, { ...auth, 'x-forwarded-for': '10.1.2.3' })).status).toBe(403);
    const open = await stack.createKey();
    expect(
      (await rawGet(`${web.url}/v1/models`, { authorization: `Bearer ${open.secret}`, 'x-forwarded-for': '203.0.113.9' })).status,
    ).toBe(200);
  });

  it('attributes usage to Open WebUI’s end user (lower-cased) for a trusted key only', async () => {
    const trusted = await stack.createKey({ trusted: true, userEmail: 'webui-service@example.org' });
    const plain = await stack.createKey();
    const headers = { 'x-openwebui-user-email': 'Ada.Lovelace@Example.ORG', 'x-openwebui-user-name': 'Ada' };
    expect(
      (await stack.post('/v1/chat/completions', trusted.secret, chatBody(), { ...headers, 'x-request-id': 'req-trusted-attr' })).status,
    ).toBe(200);
    expect(
      (await stack.post('/v1/chat/completions', plain.secret, chatBody(), { ...headers, 'x-request-id': 'req-plain-attr' })).status,
    ).toBe(200);
    const [attributed] = await stack.usageOf('req-trusted-attr');
    expect(attributed).toMatchObject({ userId: 'webui-service@example.org', endUser: 'ada.lovelace@example.org' });
    const [ignored] = await stack.usageOf('req-plain-attr');
    expect(ignored.endUser).toBeUndefined();
  });

  describe('reverse proxy', () => {
    let cookie: string;
    let token: string;

    beforeAll(async () => {
      token = randomBytes(32).toString('base64url');
      const userId = randomUUID();
      await waitUntil(async () => (await sql("SELECT to_regclass('sessions') AS t"))[0].t !== null, 10_000, 'auth migrations');
      await sql(
        `INSERT INTO users (user_id, email, display_name, roles, created_at) VALUES ($1, 'ada@example.ac.jp', 'Ada Lovelace (ラブレス)', '["user","admin"]', now())`,
        [userId],
      );
      await sql(
        `INSERT INTO sessions (token_hash, session_id, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, 'csrf', now(), now(), now() + interval '1 hour')`,
        [Buffer.from(sessionDigest(token), 'base64url'), randomUUID(), userId],
      );
      cookie = `maas_session=${token}`;
    });

    it('passes /auth/* and /portal to auth unchanged, both ways', async () => {
      for (const path of ['/auth/session', '/portal', '/portal/keys?x=1', '/auth/saml/metadata']) {
        for (const headers of [{}, { cookie }] as Record<string, string>[]) {
          const direct = await rawGet(`${auth.url}${path}`, headers);
          const through = await rawGet(`${web.url}${path}`, headers);
          expect({ path, status: through.status, location: through.headers.location }).toEqual({
            path,
            status: direct.status,
            location: direct.headers.location,
          });
          expect(through.headers['set-cookie']).toEqual(direct.headers['set-cookie']);
          expect(through.headers['content-security-policy']).toEqual(direct.headers['content-security-policy']);
          if (direct.status === 200) expect(through.body.replace(/[0-9a-f-]{36}/g, '')).toBe(direct.body.replace(/[0-9a-f-]{36}/g, ''));
        }
      }
      const session = JSON.parse((await rawGet(`${web.url}/auth/session`, { cookie })).body);
      expect(JSON.stringify(session)).toContain('ada@example.ac.jp');
    });

    it('lets only signed-in users reach Open WebUI, naming them in headers clients cannot forge', async () => {
      const page = await rawGet(`${web.url}/c/123?q=1`, { accept: 'text/html' });
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe(`/auth/saml/login?next=${encodeURIComponent('/c/123?q=1')}`);
      const api = await rawGet(`${web.url}/api/chats`, { accept: 'application/json' });
      expect(api.status).toBe(401);
      expect(JSON.parse(api.body).error).toMatchObject({ type: 'authentication_error', code: 'session_required' });
      expect((await rawGet(`${web.url}/api/chats`, { cookie: 'maas_session=not-a-session' })).status).toBe(401);
      expect(recorder.seen).toHaveLength(0);

      const ok = await rawGet(`${web.url}/api/chats?page=2`, {
        cookie: `token=owui; ${cookie}; maas_login=nonce; theme=dark`,
        'x-maas-user-email': 'mallory@evil.example',
        'x-maas-user-admin': 'yes',
        'x-forwarded-for': '198.51.100.1',
        'x-forwarded-host': 'evil.example',
      });
      expect(ok.status).toBe(200);
      expect(ok.headers['set-cookie']).toEqual(['token=abc; Path=/; HttpOnly', 'theme=dark; Path=/']);
      expect(ok.headers['content-security-policy']).toBe("default-src 'self'");
      const seen = recorder.seen[recorder.seen.length - 1];
      expect(seen).toMatchObject({ method: 'GET', url: '/api/chats?page=2' });
      expect(seen.headers).toMatchObject({
        'x-maas-user-email': 'ada@example.ac.jp',
        'x-maas-user-name': encodeURIComponent('Ada Lovelace (ラブレス)'),
        'x-maas-user-roles': 'user,admin',
        'x-forwarded-for': '198.51.100.1, 127.0.0.1',
        'x-forwarded-proto': 'http',
        // The gateway trusts no proxy: the client's X-Forwarded-Host is replaced by its Host.
        'x-forwarded-host': new URL(web.url).host,
        // Open WebUI keeps its own cookies and never sees the portal session (nor any other of ours).
        cookie: 'token=owui; theme=dark',
      });
      expect(seen.headers['x-maas-user-admin']).toBeUndefined();
    });

    it('streams large bodies unchanged and proxies websockets for signed-in users', async () => {
      const body = randomBytes(3 * 1024 * 1024);
      const res = await fetch(`${web.url}/api/v1/files/?x=y`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/octet-stream' },
        body,
      });
      expect(res.status).toBe(200);
      expect(recorder.seen[recorder.seen.length - 1]).toMatchObject({
        method: 'POST',
        url: '/api/v1/files/?x=y',
        bodyBytes: body.length,
        bodySha256: createHash('sha256').update(body).digest('hex'),
      });

      const echoed = await new Promise<string>((resolve, reject) => {
        const port = Number(new URL(web.url).port);
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(
            `GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nCookie: ${cookie}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        });
        let got = '';
        socket.on('data', (c) => {
          got += c.toString();
          if (got.includes('\r\n\r\n') && !got.includes('ping-frame')) socket.write('ping-frame');
          if (got.includes('ping-frame')) {
            socket.destroy();
            resolve(got);
          }
        });
        socket.on('error', reject);
        setTimeout(() => reject(new Error(`no echo: ${got}`)), 5000);
      });
      expect(echoed).toMatch(/^HTTP\/1.1 101/);
      expect(echoed).toContain('ping-frame');
      const upgrade = recorder.seen[recorder.seen.length - 1];
      expect(upgrade.url).toBe('/ws/socket.io/?EIO=4&transport=websocket');
      expect(upgrade.headers['x-maas-user-email']).toBe('ada@example.ac.jp');
      expect(upgrade.headers.cookie).toBeUndefined();
    });

    it('refuses a signed-out session once its cached verdict expires', async () => {
      expect((await rawGet(`${web.url}/api/chats`, { cookie })).status).toBe(200);
      await sql('UPDATE sessions SET revoked_at = now() WHERE token_hash = $1', [Buffer.from(sessionDigest(token), 'base64url')]);
      const t0 = Date.now();
      await waitUntil(async () => (await rawGet(`${web.url}/api/chats`, { cookie })).status === 401, 7000, 'the session to be refused');
      // Valid verdicts are cached up to GATEWAY_SESSION_CACHE_TTL (5 s).
      expect(Date.now() - t0).toBeLessThan(6000);
    });
  });

  it('drops a revoked key from two gateways’ caches within a second', async () => {
    const { secret, keyId } = await stack.createKey();
    for (const base of [stack.gateway.url, web.url]) {
      expect((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    }
    const t0 = Date.now();
    await stack.bus.request('key-registry.revoke', { keyId });
    const latencies = await Promise.all(
      [stack.gateway.url, web.url].map(async (base) => {
        await waitUntil(
          async () => (await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status === 401,
          1000,
          `revocation at ${base}`,
        );
        return Date.now() - t0;
      }),
    );
    console.log(`revocation reached both gateways after ${latencies.join(' ms and ')} ms`);
    expect(Math.max(...latencies)).toBeLessThan(1000);
  });
});
