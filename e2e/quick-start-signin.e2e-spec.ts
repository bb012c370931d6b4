import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { requireSystemPart } from '@maas/testing';

const root = path.resolve(__dirname, '..');
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const MODEL = 'Qwen/Qwen2.5-3B-Instruct';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * What a newcomer does after `npm start` on a machine with SimpleSAMLphp: open the printed portal URL
 * in a browser, sign in at the development IdP with the printed login, make a key in the portal, and
 * chat with it; and, with GATEWAY_WEBUI_URL set, reach the chat UI behind the same sign-in (a small
 * HTTP server stands in for Open WebUI, answering with the user the gateway names to it).
 */
describe('npm start with SimpleSAMLphp installed: the printed portal sign-in works in a browser', () => {
  let child: ChildProcess;
  let output = '';
  let browser: Browser | undefined;
  let state: string;
  let idpPort: number;
  let gateway: string;
  let webui: http.Server;

  async function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(output);
      if (m) return m;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in the output of npm start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    requireSystemPart('saml-idp', 'chromium');
    const ports = await Promise.all(Array.from({ length: 13 }, freePort));
    const [natsPort, pgPort, gatewayPort, ocrPort, speechPort, devIdpPort, webuiPort, ...servicePorts] = ports;
    webui = http.createServer((req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<html><body><h1>chat UI</h1><p id="user">${req.headers['x-maas-user-email']}</p></body></html>`),
    );
    await new Promise<void>((resolve) => webui.listen(webuiPort, '127.0.0.1', resolve));
    idpPort = devIdpPort;
    gateway = `http://127.0.0.1:${gatewayPort}`;
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-start-signin-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/maas`,
      MAAS_STATE_DIR: state,
      MAAS_NAMESPACE: 'maas-quickstart-signin',
      GATEWAY_PORT: String(gatewayPort),
      AUTH_PORT: String(servicePorts[0]),
      KEY_REGISTRY_PORT: String(servicePorts[1]),
      ROUTER_PORT: String(servicePorts[2]),
      METRICS_COLLECTOR_PORT: String(servicePorts[3]),
      VM_SCALER_PORT: String(servicePorts[4]),
      FORECASTER_PORT: String(servicePorts[5]),
      MAAS_OCR_PORT: String(ocrPort),
      MAAS_SPEECH_PORT: String(speechPort),
      MAAS_DEV_IDP_PORT: String(devIdpPort),
      GATEWAY_WEBUI_URL: `http://127.0.0.1:${webuiPort}`,
      GATEWAY_WEBUI_PATH: '/chat',
      NO_COLOR: '1',
    };
    for (const name of ['SAML_IDP_METADATA', 'MAAS_DEV_IDP', 'AUTH_PUBLIC_URL', 'GATEWAY_AUTH_URL']) delete env[name];
    child = spawn(process.execPath, [path.join(root, 'scripts/start.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const stopped = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 30_000).unref())]);
      if (!stopped) child.kill('SIGKILL');
    }
    webui?.close();
    fs.rmSync(state, { recursive: true, force: true });
  });

  it('prints the portal and a development-IdP login; signing in there, making a key and chatting with it works; Ctrl-C stops the IdP too', async () => {
    const portal = (await waitForOutput(/^Portal: (\S+)$/m, 150_000))[1];
    expect(portal).toBe(`${gateway}/portal`);
    const [, idpUrl, username, password] = await waitForOutput(
      /DEVELOPMENT IdP \(SimpleSAMLphp at (\S+), loopback only, not for production\)\n\s+as (\S+) \/ (\S+) /,
      5_000,
    );
    expect(idpUrl).toBe(`http://127.0.0.1:${idpPort}`);

    // The password is this installation's, kept owner-only under the state dir.
    const secretsFile = path.join(state, 'dev-idp', 'secrets.json');
    expect(JSON.parse(fs.readFileSync(secretsFile, 'utf8')).testUserPassword).toBe(password);
    expect(fs.statSync(secretsFile).mode & 0o777).toBe(0o600);
    expect(password.length).toBeGreaterThanOrEqual(16);
    // The IdP listens on loopback only.
    const listening = execFileSync('ss', ['-Hltn', `sport = :${idpPort}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/)[3]);
    expect(new Set(listening)).toEqual(new Set([`127.0.0.1:${idpPort}`]));

    // The gateway serves auth: the SP metadata the issue found missing.
    const metadata = await fetch(`${gateway}/auth/saml/metadata`);
    expect(metadata.status).toBe(200);
    expect(await metadata.text()).toContain(`entityID="${gateway}/auth/saml/metadata"`);

    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(portal);
    await page.waitForURL((u) => u.toString().startsWith(idpUrl), { timeout: 20_000 });
    await page.locator('input[name="username"]').fill(username);
    await page.locator('input[name="password"]').fill(password);
    await Promise.all([
      page.waitForURL(portal, { timeout: 20_000 }),
      page.locator('button[type="submit"], input[type="submit"]').first().click(),
    ]);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Models and API keys');

    await page.getByLabel('Name').fill('first key');
    await Promise.all([page.waitForURL(`${gateway}/portal/keys`), page.getByRole('button', { name: 'Create key' }).click()]);
    const secret = await page.locator('#new-secret').inputValue();
    expect(secret).toMatch(/^sk-/);

    // The chat UI, behind the same session, told who the user is.
    expect(output).toContain(`behind the same sign-in: ${gateway}/chat`);
    await page.goto(`${gateway}/chat/`);
    await expect(page.locator('#user').textContent()).resolves.toBe('admin@localhost');
    await context.close();

    // The vm-scaler's worker for the model may still be starting: chat once the key lists it.
    const deadline = Date.now() + 90_000;
    let ids: string[] = [];
    while (!ids.includes(MODEL) && Date.now() < deadline) {
      const res = await fetch(`${gateway}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      expect(res.status).toBe(200);
      ids = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
      if (!ids.includes(MODEL)) await new Promise((r) => setTimeout(r, 500));
    }
    const chat = await fetch(`${gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello from the portal key!' }], max_tokens: 8 }),
    });
    expect(chat.status).toBe(200);
    const answer = (await chat.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(answer.choices[0].message.content).toEqual(expect.any(String));
    expect(answer.usage.completion_tokens).toBeGreaterThan(0);

    // Ctrl-C stops the IdP with everything else: its php -S workers included.
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())]);
    expect(code).toBe(0);
    expect(output).toContain('stopped.');
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(`127.0.0.1:${idpPort}`);
  }, 300_000);
});
