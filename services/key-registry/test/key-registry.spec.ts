import { JSONCodec, NatsConnection } from 'nats';
import { keyVerifyRequest, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNats, testNatsUrl } from '@maas/testing';

describe('key-registry against real NATS and PostgreSQL', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let service: StartedService;
  const namespace = testNamespace();

  beforeAll(async () => {
    db = await createTestDatabase('keys');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    service = await startService('key-registry', { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace });
  });

  afterAll(async () => {
    await service?.stop();
    await nc?.close();
    await db?.drop();
  });

  it('creates a key shown once, verifies it, lists it without the secret, and revokes it everywhere', async () => {
    const created = await bus.request('key-registry.create', { userEmail: 'Ada@Example.org', name: 'notebook', allowedModels: ['Qwen/*'] });
    expect(created.secret).toMatch(/^sk-/);
    expect(created.key.userEmail).toBe('ada@example.org');

    const ok = await bus.request('key-registry.verify', keyVerifyRequest(created.secret)!);
    expect(ok).toMatchObject({ valid: true, key: { keyId: created.key.keyId, allowedModels: ['Qwen/*'], trusted: false } });
    // one character changed (never to itself: a secret ending in "A" would otherwise stay valid)
    const tampered = created.secret.slice(0, -1) + (created.secret.endsWith('A') ? 'B' : 'A');
    expect(await bus.request('key-registry.verify', keyVerifyRequest(tampered)!)).toEqual({ valid: false, reason: 'unknown' });

    const listed = await bus.request('key-registry.list', { userEmail: 'ada@example.org' });
    expect(listed.keys.map((k) => k.keyId)).toEqual([created.key.keyId]);
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    const revokedEvent = new Promise<unknown>((resolve) => {
      const sub = nc.subscribe(new Subjects(namespace).subject('key.revoked'), {
        max: 1,
        callback: (_e, m) => resolve(JSONCodec().decode(m.data)),
      });
      void sub;
    });
    await bus.request('key-registry.revoke', { keyId: created.key.keyId });
    await expect(revokedEvent).resolves.toMatchObject({ keyId: created.key.keyId, prefix: created.key.prefix });
    expect(await bus.request('key-registry.verify', keyVerifyRequest(created.secret)!)).toEqual({ valid: false, reason: 'revoked' });
  });

  it('stores only a hash of the secret', async () => {
    const created = await bus.request('key-registry.create', { userEmail: 'bob@example.org' });
    const { Client } = await import('pg');
    const c = new Client({ connectionString: db.url });
    await c.connect();
    const rows = await c.query('SELECT * FROM api_keys WHERE key_id = $1', [created.key.keyId]);
    await c.end();
    expect(JSON.stringify(rows.rows)).not.toContain(created.secret.slice('sk-'.length + created.key.prefix.length + 1));
    expect(rows.rows[0].hash).toHaveLength(32);
  });

  it('rejects malformed requests with a service error and keeps serving', async () => {
    await expect(bus.request('key-registry.create', { userEmail: 'not-an-email' } as never)).rejects.toThrow(/refusing to send invalid/);
    const raw = await nc.request(new Subjects(namespace).subject('key-registry.verify'), new TextEncoder().encode('{"key": 5}'), {
      timeout: 2000,
    });
    expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('400');
    await expect(bus.request('key-registry.revoke', { keyId: 'no-such-key' })).rejects.toThrow(/no key no-such-key/);
    expect((await bus.request('key-registry.verify', keyVerifyRequest('sk-nothing0_nothing-at-all')!)).valid).toBe(false);
  });
});
