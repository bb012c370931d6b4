import { JSONCodec, NatsConnection } from 'nats';
import * as contracts from '@maas/contracts';
import { KeyRevoked, MessageTypes, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNats, testNatsUrl } from '@maas/testing';

/**
 * An administrator disables an account in auth: its keys stop everywhere within one poll, and work again once it is
 * enabled. auth and key-registry each have a database of their own: key-registry learns of accounts over NATS only
 * (auth's account.status-changed events and its auth.list-disabled-accounts answers).
 */
/** key-registry.verify for a key: its prefix and digest where the contract carries those, else the key. */
const verifyRequest = (secret: string) =>
  ((contracts as unknown as { keyVerifyRequest?: (key: string) => unknown }).keyVerifyRequest?.(secret) ?? {
    key: secret,
  }) as MessageTypes['key-registry.verify'];

describe('key-registry: keys of a disabled account, told by auth over NATS', () => {
  let authDb: TestDatabase;
  let keysDb: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let auth: StartedService | undefined;
  let keys: StartedService | undefined;
  const namespace = testNamespace();
  const revoked: KeyRevoked[] = [];
  const env = () => ({ NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace });
  const startAuth = async () => (auth = await startService('auth', { ...env(), DATABASE_URL: authDb.url, AUTH_PORT: '0' }));
  const startKeys = async () =>
    (keys = await startService('key-registry', { ...env(), DATABASE_URL: keysDb.url, KEY_REGISTRY_PORT: '0', KEY_ACCOUNT_POLL: '300ms' }));
  /** An account as a sign-in leaves it (auth's own table). */
  const signedIn = (email: string) =>
    authDb.query(
      `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at)
       VALUES ($1, $1, 'Someone', $1, '["user"]', '["staff"]', 'https://idp.example.ac.jp/idp/shibboleth', now(), now())`,
      [email],
    );

  beforeAll(async () => {
    [authDb, keysDb] = await Promise.all([createTestDatabase('keyacctauth'), createTestDatabase('keyacct')]);
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    nc.subscribe(new Subjects(namespace).subject('key.revoked'), {
      callback: (_e, m) => revoked.push(JSONCodec<KeyRevoked>().decode(m.data)),
    });
    await Promise.all([startAuth(), startKeys()]);
    await Promise.all(['lin@example.ac.jp', 'ken@example.ac.jp', 'ivy@example.ac.jp'].map(signedIn));
  });

  afterAll(async () => {
    await Promise.all([keys?.stop(), auth?.stop()]);
    await nc?.close();
    await Promise.all([authDb?.drop(), keysDb?.drop()]);
  });

  const until = async <T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> => {
    for (const deadline = Date.now() + ms; ;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const verdict = async (secret: string) => (await bus.request('key-registry.verify', verifyRequest(secret))).valid;

  it('announces each active key of a disabled account as revoked, refuses them while disabled, and accepts them once enabled', async () => {
    const [a, b] = [
      await bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp', name: 'a' }),
      await bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp', name: 'b' }),
    ];
    const other = await bus.request('key-registry.create', { userEmail: 'mei@example.ac.jp' });
    expect(await bus.request('key-registry.verify', verifyRequest(a.secret))).toMatchObject({ valid: true });

    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: true });
    const announced = await until(() => {
      const ids = revoked.map((r) => r.keyId);
      return ids.includes(a.key.keyId) && ids.includes(b.key.keyId) && ids;
    });
    expect(announced).not.toContain(other.key.keyId);
    expect(await bus.request('key-registry.verify', verifyRequest(a.secret))).toEqual({ valid: false, reason: 'revoked' });
    expect(await bus.request('key-registry.verify', verifyRequest(other.secret))).toMatchObject({ valid: true });
    // Announced once, not at every poll.
    await new Promise((r) => setTimeout(r, 1500));
    expect(revoked.filter((r) => r.keyId === a.key.keyId)).toHaveLength(1);

    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: false });
    await until(() => verdict(b.secret));
    expect(await bus.request('key-registry.verify', verifyRequest(b.secret))).toMatchObject({ valid: true, key: { keyId: b.key.keyId } });
  });

  it('auth answers which accounts are disabled, all of them or since an instant', async () => {
    const before = new Date().toISOString();
    await bus.request('auth.update-user', { user: 'ivy@example.ac.jp', disabled: true });
    const all = await bus.request('auth.list-disabled-accounts', {});
    expect(all.accounts.map((a) => a.email)).toContain('ivy@example.ac.jp');
    const since = await bus.request('auth.list-disabled-accounts', { since: before });
    expect(since.accounts.map((a) => a.email)).toEqual(['ivy@example.ac.jp']);
    expect((await bus.request('auth.list-disabled-accounts', { since: new Date(Date.now() + 60_000).toISOString() })).accounts).toEqual([]);
    await bus.request('auth.update-user', { user: 'ivy@example.ac.jp', disabled: false });
    expect((await bus.request('auth.list-disabled-accounts', {})).accounts.map((a) => a.email)).not.toContain('ivy@example.ac.jp');
  });

  it('resynchronises at start: an account disabled or enabled while key-registry was down is found, and the view outlives auth being away', async () => {
    const ken = await bus.request('key-registry.create', { userEmail: 'ken@example.ac.jp' });
    const lin = await bus.request('key-registry.create', { userEmail: 'lin@example.ac.jp' });
    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: true });
    await until(async () => !(await verdict(lin.secret)));

    // key-registry down: one account is disabled and the other enabled meanwhile; their events go unheard.
    await keys!.stop();
    keys = undefined;
    await bus.request('auth.update-user', { user: 'ken@example.ac.jp', disabled: true });
    await bus.request('auth.update-user', { user: 'lin@example.ac.jp', disabled: false });
    await startKeys();
    await until(async () => !(await verdict(ken.secret)) && (await verdict(lin.secret)));
    expect(await bus.request('key-registry.verify', verifyRequest(ken.secret))).toEqual({ valid: false, reason: 'revoked' });
    // Gateways are told too, though it happened while key-registry was down.
    await until(() => revoked.some((r) => r.keyId === ken.key.keyId));

    // auth away and key-registry restarted: the last known view still holds.
    await auth!.stop();
    auth = undefined;
    await keys!.stop();
    await startKeys();
    expect(await bus.request('key-registry.verify', verifyRequest(ken.secret))).toEqual({ valid: false, reason: 'revoked' });
    expect(await verdict(lin.secret)).toBe(true);
    await startAuth();
  });
});
