import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startService, StartedService } from '@maas/testing';
import { issueSignInLink } from '../../../scripts/lib/sign-in-link';
import { Stack } from './support/stack';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** Stands in for Open WebUI (a Python app not installable here): records the headers of every request that reaches it. */
async function startOpenWebUiStandIn(): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'token=owui; Path=/; HttpOnly' });
      res.end('<html>open-webui</html>');
    });
  });
  server.on('upgrade', (req, socket) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** The status line a websocket upgrade on `host` gets through the gateway. */
function upgrade(gatewayUrl: string, host: string, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(gatewayUrl).port), '127.0.0.1', () =>
      socket.write(
        `GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-Proto: https\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nCookie: ${cookie}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    let got = '';
    socket.on('data', (c) => (got += c.toString()));
    socket.on('close', () => resolve(got.split('\r\n', 1)[0]));
    socket.on('error', reject);
  });
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

const PORTAL = 'maas.test';
const CHAT = 'chat.maas.test';

/**
 * A browser behind the TLS-terminating proxy the gateway trusts: each request carries its Host and
 * `X-Forwarded-Proto: https`, and a cookie jar per host keeps what each host set, as browsers keep
 * host-only cookies.
 */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  constructor(private readonly gatewayUrl: string) {}

  cookies(host: string): Map<string, string> {
    let jar = this.jar.get(host);
    if (!jar) this.jar.set(host, (jar = new Map()));
    return jar;
  }

  request(host: string, target: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const u = new URL(target, 'https://x');
    const jar = this.cookies(host);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const { port } = new URL(this.gatewayUrl);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: opts.method ?? 'GET',
          path: `${u.pathname}${u.search}`,
          headers: { host, 'x-forwarded-proto': 'https', accept: 'text/html', ...(cookie ? { cookie } : {}), ...opts.headers },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            for (const c of res.headers['set-cookie'] ?? []) {
              const [pair, ...attrs] = c.split(';').map((s) => s.trim());
              const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
              // What a browser does with the attributes the tests below assert on: Domain would widen the cookie, Max-Age=0 deletes it.
              if (attrs.some((a) => /^domain=/i.test(a))) throw new Error(`cookie ${name} names a Domain: ${c}`);
              if (attrs.some((a) => /^max-age=0$/i.test(a)) || value === '') jar.delete(name);
              else jar.set(name, value);
            }
            resolve({ status: res.statusCode!, headers: res.headers, body });
          });
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }
}

/** The gateway serving Open WebUI on a hostname of its own (GATEWAY_WEBUI_HOST), with the real auth service. */
describe('gateway: Open WebUI on its own hostname', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-webui-host-'));
  const linkFile = path.join(dir, 'sign-in-link.json');
  const stack = new Stack();
  let auth: StartedService;
  let web: StartedService;
  let owui: Awaited<ReturnType<typeof startOpenWebUiStandIn>>;
  let browser: Browser;
  let portalSetCookie: string;

  beforeAll(async () => {
    await stack.start();
    [auth, owui] = await Promise.all([
      startService('auth', { ...stack.env, AUTH_PUBLIC_URL: `https://${PORTAL}`, AUTH_SIGN_IN_LINK_FILE: linkFile }),
      startOpenWebUiStandIn(),
    ]);
    web = await stack.startGateway({
      GATEWAY_AUTH_URL: auth.url,
      GATEWAY_WEBUI_URL: owui.url,
      GATEWAY_WEBUI_HOST: CHAT,
      GATEWAY_PUBLIC_URL: `https://${PORTAL}`,
      GATEWAY_TRUSTED_PROXIES: '127.0.0.1, ::1',
    });
    browser = new Browser(web.url);
    // Sign in on the portal host with a one-time link, through the gateway.
    const link = new URL(
      issueSignInLink({
        file: linkFile,
        publicUrl: `https://${PORTAL}`,
        email: 'ada@example.ac.jp',
        displayName: 'Ada',
        admin: false,
        ttlMs: 600_000,
      }).url,
    );
    const signedIn = await browser.request(PORTAL, '/auth/one-time', {
      method: 'POST',
      body: new URLSearchParams({ token: link.pathname.split('/').pop()! }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(signedIn.status).toBe(303);
    portalSetCookie = (signedIn.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-maas_session='))!;
  });

  afterAll(async () => {
    await Promise.all([auth?.stop(), owui?.close()]);
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const portalSession = () => browser.cookies(PORTAL).get('__Host-maas_session');

  it('sets the portal session as a host-only __Host- cookie behind https', () => {
    expect(portalSetCookie).toBeDefined();
    const attrs = portalSetCookie.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).toEqual(expect.arrayContaining(['path=/', 'secure', 'httponly', 'samesite=lax']));
    expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
    expect([...browser.cookies(PORTAL).keys()]).toEqual(['__Host-maas_session']);
  });

  it('sends Open WebUI’s paths on the portal host to the chat host', async () => {
    const res = await browser.request(PORTAL, '/c/42?x=1');
    expect({ status: res.status, location: res.headers.location }).toEqual({ status: 307, location: `https://${CHAT}/c/42?x=1` });
    expect(owui.seen).toHaveLength(0);
  });

  it('hands a signed-in user over to the chat host with a one-time code, and the chat host never sees the portal session', async () => {
    // 1. The chat host, without a cookie of its own, sends the browser to the portal with a state bound to it.
    const first = await browser.request(CHAT, '/c/42?x=1');
    expect(first.status).toBe(303);
    const toPortal = new URL(first.headers.location!);
    expect(`${toPortal.origin}${toPortal.pathname}`).toBe(`https://${PORTAL}/webui/handoff`);
    expect(toPortal.searchParams.get('next')).toBe('/c/42?x=1');
    expect(browser.cookies(CHAT).get('__Host-maas_chat_state')).toBe(toPortal.searchParams.get('state'));

    // 2. The portal host, signed in, answers with a one-time code for the chat host.
    const second = await browser.request(PORTAL, `${toPortal.pathname}${toPortal.search}`);
    expect(second.status).toBe(303);
    const toChat = new URL(second.headers.location!);
    expect(`${toChat.origin}${toChat.pathname}`).toBe(`https://${CHAT}/_maas/handoff`);
    expect(second.headers['set-cookie']).toBeUndefined();

    // 3. The chat host takes the code once, sets its own cookie, and goes where the browser was going.
    const third = await browser.request(CHAT, `${toChat.pathname}${toChat.search}`);
    expect({ status: third.status, location: third.headers.location }).toEqual({ status: 303, location: '/c/42?x=1' });
    const chatSetCookie = third.headers['set-cookie']!.find((c) => c.startsWith('__Host-maas_chat='))!;
    expect(chatSetCookie.split(';').map((a) => a.trim().toLowerCase())).toEqual(
      expect.arrayContaining(['path=/', 'secure', 'httponly', 'samesite=lax']),
    );
    expect(chatSetCookie).not.toMatch(/domain=/i);
    expect([...browser.cookies(CHAT).keys()]).toEqual(['__Host-maas_chat']);
    expect(browser.cookies(CHAT).get('__Host-maas_chat')).not.toBe(portalSession());

    // 4. Open WebUI gets the user in trusted headers; none of the platform's cookies reach it.
    const page = await browser.request(CHAT, '/c/42?x=1');
    expect(page.status).toBe(200);
    expect(page.body).toBe('<html>open-webui</html>');
    const seen = owui.seen[owui.seen.length - 1];
    expect(seen.url).toBe('/c/42?x=1');
    expect(seen.headers).toMatchObject({ 'x-maas-user-email': 'ada@example.ac.jp', 'x-maas-user-roles': 'user', 'x-forwarded-host': CHAT });
    expect(seen.headers.cookie).toBeUndefined();

    // 5. The code works once: replayed (even from the same browser, with a fresh state) it is refused.
    browser.cookies(CHAT).set('__Host-maas_chat_state', toPortal.searchParams.get('state')!);
    const again = await browser.request(CHAT, `${toChat.pathname}${toChat.search}`);
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).error).toMatchObject({ code: 'handoff_invalid' });
    expect(again.headers['set-cookie']).toBeUndefined();
    browser.cookies(CHAT).delete('__Host-maas_chat_state');
  });

  it('refuses a code carried to another browser (no matching state), and a forged chat cookie', async () => {
    const other = new Browser(web.url);
    const start = new URL((await other.request(CHAT, '/')).headers.location!);
    // The victim's browser follows a link to the portal with the attacker's state: the code it gets is bound to that state.
    const code = new URL((await browser.request(PORTAL, `${start.pathname}${start.search}`)).headers.location!);
    for (const state of [undefined, 'A'.repeat(32)]) {
      if (state) browser.cookies(CHAT).set('__Host-maas_chat_state', state);
      const elsewhere = await browser.request(CHAT, `${code.pathname}${code.search}`);
      expect(elsewhere.status).toBe(400);
    }
    browser.cookies(CHAT).delete('__Host-maas_chat_state');
    const forged = await browser.request(CHAT, '/api/chats', {
      headers: { accept: 'application/json', cookie: `__Host-maas_chat=${portalSession()}; maas_chat=x.y` },
    });
    expect(forged.status).toBe(401);
  });

  it('never lets the portal session or auth’s routes reach the chat host, even when a client sends it there', async () => {
    const before = owui.seen.length;
    const chatCookie = browser.cookies(CHAT).get('__Host-maas_chat')!;
    const res = await browser.request(CHAT, '/auth/session', {
      headers: {
        cookie: `__Host-maas_chat=${chatCookie}; __Host-maas_session=${portalSession()}; maas_session=${portalSession()}; theme=dark`,
      },
    });
    // On the chat host /auth is Open WebUI's path like any other: auth (and its cookies) are not served there.
    expect(res.body).toBe('<html>open-webui</html>');
    expect(owui.seen.length).toBe(before + 1);
    for (const s of owui.seen) {
      expect(s.headers.cookie ?? '').not.toMatch(/maas_session|maas_chat/);
    }
    expect(owui.seen[owui.seen.length - 1].headers.cookie).toBe('theme=dark');
    // The portal session alone gets nothing on the chat host.
    const portalOnly = await browser.request(CHAT, '/api/chats', {
      headers: { accept: 'application/json', cookie: `__Host-maas_session=${portalSession()}` },
    });
    expect(portalOnly.status).toBe(401);
  });

  it('opens Open WebUI’s websocket on the chat host with its own cookie only, never with the portal session', async () => {
    const chatCookie = browser.cookies(CHAT).get('__Host-maas_chat')!;
    expect(await upgrade(web.url, CHAT, `__Host-maas_session=${portalSession()}`)).toBe('HTTP/1.1 401 Unauthorized');
    expect(await upgrade(web.url, CHAT, `__Host-maas_chat=${chatCookie}; __Host-maas_session=${portalSession()}`)).toBe(
      'HTTP/1.1 101 Switching Protocols',
    );
    const seen = owui.seen[owui.seen.length - 1];
    expect(seen.url).toBe('/ws/socket.io/?EIO=4&transport=websocket');
    expect(seen.headers['x-maas-user-email']).toBe('ada@example.ac.jp');
    expect(seen.headers.cookie).toBeUndefined();
  });

  it('sends a signed-out browser from the hand-off to sign in, and back to it', async () => {
    const anon = new Browser(web.url);
    const start = new URL((await anon.request(CHAT, '/')).headers.location!);
    const res = await anon.request(PORTAL, `${start.pathname}${start.search}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/auth/saml/login?next=${encodeURIComponent(`${start.pathname}${start.search}`)}`);
  });
});
