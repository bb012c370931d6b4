import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import OpenAI, { AuthenticationError, toFile } from 'openai';
import { Client } from 'pg';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { keyVerifyRequest, sessionVerifyRequest } from '@maas/contracts';
import { factory, requireSystemPart, startService, StartedService } from '@maas/testing';
import { MODEL, Stack, waitUntil } from '../services/gateway/test/support/stack';
import { freePort, selfSignedCertificate, StartedSamlIdp, startSamlIdp } from './support/saml-idp';

// A machine without these parts fails every test here with the reason.
beforeAll(() => requireSystemPart('saml-idp', 'chromium'));

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
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const DAY_MS = 86_400_000;

/**
 * A person's path through the platform in a real browser: SAML single sign-on at a real IdP
 * (SimpleSAMLphp, GakuNin-style OID attributes, signed AuthnRequests), the portal, an API key used
 * against the gateway, usage charted, the key revoked everywhere, and single logout.
 */
describe('identity: single sign-on into the portal in a browser, through a real SAML IdP', () => {
  const fileDir = fs.mkdtempSync(path.join(tmpdir(), 'maas-identity-files-'));
  const stack = new Stack({ GATEWAY_FILE_STORE_DIR: fileDir, GATEWAY_BATCH_SWEEP: '200ms' });
  let idp: StartedSamlIdp;
  let auth: StartedService;
  let metrics: StartedService;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    // The IdP insists on signed AuthnRequests (and says so in its metadata).
    idp = await startSamlIdp({ idpOptions: { 'validate.authnrequest': true, 'redirect.validate': true } });
    await stack.start();
    await stack.startWorker();
    const spCert = selfSignedCertificate(path.join(idp.dir, 'sp'), 'sp');
    const metadataFile = path.join(idp.dir, 'idp-metadata.xml');
    fs.writeFileSync(metadataFile, await (await fetch(idp.metadataUrl)).text());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    [auth, metrics] = await Promise.all([
      startService('auth', {
        ...stack.env,
        AUTH_PORT: String(port),
        AUTH_PUBLIC_URL: base,
        SAML_SP_KEY_FILE: spCert.keyFile,
        SAML_SP_CERT_FILE: spCert.certFile,
        SAML_IDP_METADATA: metadataFile,
        SAML_SP_DISPLAY_NAME: 'open-maas (test)',
        AUTH_ADMINS: 'grace@example.ac.jp',
      }),
      startService('metrics-collector', stack.env),
    ]);
    // Logout messages signed both ways, as Shibboleth IdPs do.
    idp.registerServiceProvider(await (await fetch(`${base}/auth/saml/metadata`)).text(), { 'sign.logout': true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([auth?.stop(), metrics?.stop()]);
    await stack.stop();
    await idp?.stop();
    fs.rmSync(fileDir, { recursive: true, force: true });
  });

  /** Opens `path` at the SP, signs in at the IdP's form, and waits to be back on the platform. */
  async function signIn(context: BrowserContext, user: string, password: string, to = '/portal'): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${base}${to}`);
    await page.waitForURL((u) => u.toString().startsWith(idp.baseUrl), { timeout: 15_000 });
    await page.locator('input[name="username"]').fill(user);
    await page.locator('input[name="password"]').fill(password);
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(base), { timeout: 15_000 }),
      page.locator('button[type="submit"], input[type="submit"]').first().click(),
    ]);
    await page.waitForLoadState('load');
    return page;
  }

  /** Usage events for the past days, through JetStream to metrics-collector's ledger, as the gateway would send them. */
  async function recordPastUsage(userEmail: string): Promise<void> {
    const now = Date.now();
    for (let d = 13; d >= 1; d--) {
      const at = new Date(now - d * DAY_MS);
      const tokens = 400 + ((d * 7919) % 11) * 180;
      await stack.bus.persist(
        'usage.request-completed',
        factory.requestCompleted({
          requestId: `past-${d}`,
          userId: userEmail,
          keyId: 'key-earlier',
          promptTokens: tokens,
          completionTokens: Math.round(tokens * 0.6),
          startedAt: at.toISOString(),
          finishedAt: at.toISOString(),
        }),
        `past-${d}`,
      );
    }
  }

  async function usageRows(userEmail: string): Promise<number> {
    const c = new Client({ connectionString: stack.db.url });
    await c.connect();
    try {
      return Number(
        (await c.query('SELECT count(*) FROM usage_records WHERE user_id = $1', [userEmail]).catch(() => ({ rows: [{ count: 0 }] })))
          .rows[0].count,
      );
    } finally {
      await c.end();
    }
  }

  let batchId = '';

  it('signs in, creates a key shown once, uses it at the gateway, sees usage, revokes it everywhere, and signs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await signIn(context, 'ada', 'ada-password');
      expect(page.url()).toBe(`${base}/portal`);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Models and API keys');
      await expect(page.getByRole('row', { name: new RegExp(MODEL.replace('/', '\\/')) }).count()).resolves.toBe(1);
      const authnRequest = await auth.waitFor((r) => r.msg === 'authn request sent', 5000);
      expect(authnRequest.signed).toBe(true);

      // Create a key: the secret is on this page once.
      await page.getByLabel('Name').fill('laptop notebook');
      await page.getByLabel('Expires').selectOption('90');
      await Promise.all([page.waitForURL(`${base}/portal/keys`), page.getByRole('button', { name: 'Create key' }).click()]);
      const secret = await page.locator('#new-secret').inputValue();
      expect(secret).toMatch(/^sk-/);

      // The key works at the gateway.
      const models = await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${secret}` } });
      expect(models.status).toBe(200);
      expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toContain(MODEL);
      // The official SDK, as a notebook would use the key.
      const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0, timeout: 30_000 });
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Hello from the portal test' }],
        max_tokens: 16,
      });
      expect(completion.choices[0].message.content).toEqual(expect.any(String));
      expect(completion.usage?.completion_tokens).toBeGreaterThan(0);

      // A batch submitted with the key, run to the end.
      const input = Array.from({ length: 5 }, (_, i) =>
        JSON.stringify({
          custom_id: `p${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: MODEL, messages: [{ role: 'user', content: `Abstract ${i}` }], max_tokens: 8 },
        }),
      );
      const inputFile = await client.files.create({
        file: await toFile(Buffer.from(input.join('\n') + '\n'), 'abstracts.jsonl'),
        purpose: 'batch',
      });
      const batch = await client.batches.create({
        input_file_id: inputFile.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      batchId = batch.id;
      await waitUntil(async () => (await client.batches.retrieve(batch.id)).status === 'completed', 30_000, 'the batch to complete');

      // Its usage (and some from earlier days) reaches the ledger the portal charts.
      await recordPastUsage('ada@example.ac.jp');
      await waitUntil(async () => (await usageRows('ada@example.ac.jp')) >= 14, 15_000, 'usage in the ledger');
      await page.goto(`${base}/portal`);
      expect(await page.locator('#new-secret').count()).toBe(0);
      expect(await page.content()).not.toContain(secret);
      await expect(page.locator('figure.chart svg rect.prompt').count()).resolves.toBeGreaterThanOrEqual(14);
      // The batch, its status and its progress (an accessible progress bar: 5 of 5 done).
      const batches = page.getByRole('region', { name: 'Your batches' });
      const row = batches.getByRole('row', { name: new RegExp(batchId) });
      await expect(row.count()).resolves.toBe(1);
      await expect(row.textContent()).resolves.toMatch(/completed.*\/v1\/chat\/completions.*5 of 5/s);
      const bar = batches.getByRole('progressbar', { name: `Progress of batch ${batchId}` });
      await expect(bar.evaluate((el: HTMLProgressElement) => [el.value, el.max])).resolves.toEqual([5, 5]);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'portal.png'), fullPage: true });

      // Revoke: confirmed in a dialog, gone from the gateway within a second.
      const revokedAt = Date.now(); // before the click: an upper bound on the latency
      page.once('dialog', (d) => void d.accept());
      await Promise.all([page.waitForURL(/\/portal\?revoked=/), page.getByRole('button', { name: 'Revoke laptop notebook' }).click()]);
      await expect(page.getByRole('status').first().textContent()).resolves.toContain('revoked');
      expect(await stack.bus.request('key-registry.verify', keyVerifyRequest(secret)!)).toEqual({ valid: false, reason: 'revoked' });
      const refused = await waitUntil(
        async () => {
          try {
            await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 });
            return undefined;
          } catch (err) {
            return err;
          }
        },
        1000,
        'the SDK to be refused',
      );
      expect(refused).toBeInstanceOf(AuthenticationError);
      expect((refused as AuthenticationError).status).toBe(401);
      const latencyMs = Date.now() - revokedAt;
      console.log(`revoked key refused to the SDK ${latencyMs} ms after the portal confirmed`);
      expect(latencyMs).toBeLessThan(1000);

      // Sign out: here, then at the IdP (single logout), back to our signed-out page.
      const [sessionCookie] = (await context.cookies(base)).filter((c) => c.name === 'maas_session');
      await Promise.all([
        page.waitForURL(`${base}/auth/logged-out`, { timeout: 15_000 }),
        page.getByRole('button', { name: 'Sign out' }).click(),
      ]);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed out');
      expect(await stack.bus.request('auth.verify-session', sessionVerifyRequest(sessionCookie.value))).toEqual({
        valid: false,
        reason: 'revoked',
      });
      await auth.waitFor((r) => r.msg === 'identity provider confirmed logout', 5000);
      // The IdP session is gone too: the next visit asks for the password again.
      await page.goto(`${base}/portal`);
      await page.waitForURL((u) => u.toString().startsWith(idp.baseUrl));
      expect(await page.locator('input[name="password"]').count()).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('shows administrators the users, workers, models and everyone’s batches; a logout started at the IdP ends the session here', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await signIn(context, 'grace', 'grace-password', '/portal/admin');
      expect(page.url()).toBe(`${base}/portal/admin`);
      for (const name of ['Users', 'Workers', 'Models', 'Active API keys', 'Batches']) {
        expect(await page.getByRole('heading', { level: 2, name }).count()).toBe(1);
      }
      expect(await page.getByRole('row', { name: /grace@example\.ac\.jp/ }).count()).toBeGreaterThan(0);
      expect(await page.getByRole('row', { name: new RegExp(stack.workers[0].workerId) }).count()).toBe(1);
      // Everyone's batches, with their owner: Ada's from the first test.
      const adaBatch = page.getByRole('region', { name: 'Batches' }).getByRole('row', { name: new RegExp(batchId) });
      await expect(adaBatch.textContent()).resolves.toMatch(/ada@example\.ac\.jp.*completed.*5 of 5/s);
      await page.screenshot({ path: path.join(ARTIFACTS, 'portal-admin.png'), fullPage: true });

      // Logout started at the IdP: it sends us a signed LogoutRequest, we end the session and answer.
      const [sessionCookie] = (await context.cookies(base)).filter((c) => c.name === 'maas_session');
      await page.goto(`${idp.baseUrl}/saml2/idp/SingleLogoutService.php?ReturnTo=${encodeURIComponent(`${base}/auth/logged-out`)}`);
      await page.waitForURL(`${base}/auth/logged-out`, { timeout: 15_000 });
      expect(await stack.bus.request('auth.verify-session', sessionVerifyRequest(sessionCookie.value))).toEqual({
        valid: false,
        reason: 'revoked',
      });
      await auth.waitFor((r) => r.msg === 'sessions ended by the identity provider' && r.sessions === 1, 5000);
    } finally {
      await context.close();
    }
  });

  it('turns away a person whose affiliation does not entitle them, and says why', async () => {
    const context = await browser.newContext();
    try {
      const page = await signIn(context, 'alum', 'alum-password');
      expect(page.url()).toBe(`${base}/auth/saml/acs`);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign-in failed');
      expect(await page.textContent('main')).toContain('not entitled');
      expect((await context.cookies(base)).some((c) => c.name === 'maas_session')).toBe(false);
    } finally {
      await context.close();
    }
  });
});
