import { JSONCodec, NatsConnection } from 'nats';
import { KeyRevoked, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNats, testNatsUrl } from '@maas/testing';

/** An administrator disables an account in auth: its keys stop everywhere within one poll, and work again once it is enabled. */
describe('key-registry: keys of a disabled account, with auth on the same database', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let auth: StartedService;
  let keys: StartedService;
  const namespace = testNamespace();
  const revoked: KeyRevoked[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('keyacct');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    nc.subscribe(new Subjects(namespace).subject('key.revoked'), {
      callback: (_e, m) => revoked.push(JSONCodec<KeyRevoked>().decode(m.data)),
    });
    const env = { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace };
    auth = await startService('auth', { ...env, AUTH_PORT: '0' });
    keys = await startService('key-registry', { ...env, KEY_REGISTRY_PORT: '0', KEY_ACCOUNT_POLL: '300ms' });
    // An account as a sign-in leaves it (auth's own table).
    await db.query(
      `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at)
       VALUES ('lin@example.ac.jp', 'lin@example.ac.jp', 'Lin', 'lin@example.ac.jp', '["user"]', '["staff"]', 'https://idp.example.ac.jp/idp/shibboleth', now(), now())`,
    );
  });

  afterAll(async () => {
    await Promise.all([keys?.stop(), auth?.stop()]);
    await nc?.close();
    await db?.drop();
  });

  const until = async <T>(check: () => T | undefined | false, ms = 30_000): Promise<T> => {
    for (const deadline = Date.now() + ms; ;) {
      const v = check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('announces each active key of a disabled account as revoked, refuses them while disabled, and accepts them once enabled', async () => {
    const [a, b] = [
      await bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp', name: 'a' }),
      await bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp', name: 'b' }),
    ];
    const other = await bus.request('key-registry.create', { userEmail: 'mei@example.ac.jp' });
    expect(await bus.request('key-registry.verify', { key: a.secret })).toMatchObject({ valid: true });

    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: true });
    const announced = await until(() => {
      const ids = revoked.map((r) => r.keyId);
      return ids.includes(a.key.keyId) && ids.includes(b.key.keyId) && ids;
    });
    expect(announced).not.toContain(other.key.keyId);
    expect(await bus.request('key-registry.verify', { key: a.secret })).toEqual({ valid: false, reason: 'revoked' });
    expect(await bus.request('key-registry.verify', { key: other.secret })).toMatchObject({ valid: true });
    // Announced once, not at every poll.
    await new Promise((r) => setTimeout(r, 1500));
    expect(revoked.filter((r) => r.keyId === a.key.keyId)).toHaveLength(1);

    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: false });
    expect(await bus.request('key-registry.verify', { key: b.secret })).toMatchObject({ valid: true, key: { keyId: b.key.keyId } });
  });
});
