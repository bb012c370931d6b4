import { NatsConnection } from 'nats';
import { keyVerifyRequest, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  startNode,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';

const TOKEN = 'admin-token-for-tests-0123456789';

describe('key-registry admin HTTP API against real NATS and PostgreSQL', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let service: StartedService;
  const namespace = testNamespace();
  const call = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(`${service.url}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.headers as Record<string, string>),
      },
    });

  beforeAll(async () => {
    db = await createTestDatabase('keyadmin');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    service = await startService('key-registry', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      KEY_REGISTRY_ADMIN_TOKEN: TOKEN,
    });
  });

  afterAll(async () => {
    await service?.stop();
    await nc?.close();
    await db?.drop();
  });

  it('refuses to start with the development KEY_HASH_SECRET while listening beyond loopback, and starts with a real one', async () => {
    const base = { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, KEY_REGISTRY_PORT: '0', HOST: '0.0.0.0' };
    const proc = startNode('dist/services/key-registry/src/main.js', base);
    const failed = await proc.waitFor((r) => r.msg === 'failed to start', 60_000);
    expect(String(failed.error)).toMatch(/KEY_HASH_SECRET is the development default while listening beyond loopback \(0\.0\.0\.0\)/);
    const code = await new Promise((resolve) =>
      proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
    );
    expect(code).toBe(1);
    const secured = await startService('key-registry', { ...base, KEY_HASH_SECRET: 'a-long-random-secret-for-this-test-0123456789' });
    await secured.stop();
  });

  it('refuses calls without the admin token, or with a wrong one, in the OpenAI error shape', async () => {
    const missing = await call('/admin/keys', {}, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: {
        message: 'admin token required: Authorization: Bearer <KEY_REGISTRY_ADMIN_TOKEN>',
        type: 'authentication_error',
        param: null,
        code: 'missing_admin_token',
      },
    });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await call('/admin/keys', {}, `${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_admin_token' } });
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    await service.waitFor((r) => r.msg === 'admin API call with a wrong token', 5000);
  });

  it('creates a key (secret once), lists and shows it, revokes it, and NATS verify agrees', async () => {
    const created = await call('/admin/keys', {
      method: 'POST',
      body: JSON.stringify({ userEmail: 'Lin@Example.ac.jp', name: 'batch jobs', limits: { requestsPerMinute: 60 } }),
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { secret: string; key: { keyId: string; userEmail: string; limits: unknown } };
    expect(body.secret).toMatch(/^sk-/);
    expect(body.key).toMatchObject({ userEmail: 'lin@example.ac.jp', limits: { requestsPerMinute: 60 } });
    expect(await bus.request('key-registry.verify', keyVerifyRequest(body.secret)!)).toMatchObject({ valid: true });

    const listed = (await (await call('/admin/keys?userEmail=lin@example.ac.jp')).json()) as { keys: { keyId: string }[] };
    expect(listed.keys.map((k) => k.keyId)).toEqual([body.key.keyId]);
    expect(JSON.stringify(listed)).not.toContain(body.secret);
    expect(await (await call(`/admin/keys/${body.key.keyId}`)).json()).toMatchObject({ keyId: body.key.keyId, revokedAt: null });

    const revoked = await call(`/admin/keys/${body.key.keyId}`, { method: 'DELETE' });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string }).revokedAt).toEqual(expect.any(String));
    expect(await bus.request('key-registry.verify', keyVerifyRequest(body.secret)!)).toEqual({ valid: false, reason: 'revoked' });
    const withRevoked = (await (await call('/admin/keys?userEmail=lin@example.ac.jp&includeRevoked=true')).json()) as { keys: unknown[] };
    expect(withRevoked.keys).toHaveLength(1);
    expect(((await (await call('/admin/keys?userEmail=lin@example.ac.jp')).json()) as { keys: unknown[] }).keys).toHaveLength(0);
  });

  it('answers 400 for an invalid request and 404 for an unknown key', async () => {
    const bad = await call('/admin/keys', { method: 'POST', body: JSON.stringify({ userEmail: 'not-an-email', surprise: 1 }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringMatching(/userEmail|surprise/) },
    });
    // A CIDR the gateway could not use is refused when the key is made, not reported as an outage at every use.
    const badCidr = await call('/admin/keys', {
      method: 'POST',
      body: JSON.stringify({ userEmail: 'lin@example.ac.jp', allowedCidrs: ['10.0.0.0/8', '10.0.0.0/33'] }),
    });
    expect(badCidr.status).toBe(400);
    expect(await badCidr.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'allowedCidrs', message: expect.stringContaining('allowedCidrs[1]') },
    });
    await expect(bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp', allowedCidrs: ['10.0.0.0/33'] })).rejects.toThrow(
      /allowedCidrs\[0\]/,
    );
    const unknown = await call('/admin/keys/00000000-0000-0000-0000-000000000000', { method: 'DELETE' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'key_not_found' } });
  });
});
