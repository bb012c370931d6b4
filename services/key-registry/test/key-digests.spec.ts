import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { NatsConnection } from 'nats';
import { isSealed, keyDigest, keyVerifyRequest, newSealingKeys, openSealedSecret, Subjects } from '@maas/contracts';
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
import { ApiKeys1732500000000 } from '../src/migrations/1732500000000-api-keys';

const SERVER_SECRET = 'key-digests-test-secret';
const hmac = (text: string) => createHmac('sha256', SERVER_SECRET).update(text).digest();
const newKey = (prefix: string) => `sk-${prefix}_${randomBytes(32).toString('base64url')}`;

/**
 * Keys verified from a digest: the gateway sends the key's prefix and keyDigest(key), never the key.
 * Keys stored before (HMAC of the key itself) are found by the migration, named at start and refused
 * with a message that says what to do.
 */
describe('key-registry: keys verified by digest, against real NATS and PostgreSQL', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let service: StartedService;
  const namespace = testNamespace();
  const legacyKey = newKey('OldKey01');
  const legacyRevokedKey = newKey('OldKey02');
  const legacyExpiredKey = newKey('OldKey03');

  /** A row as key-registry wrote it before digests: HMAC of the whole key, no hash_version column yet. */
  const insertLegacy = (key: string, prefix: string, extra: { revokedAt?: string; expiresAt?: string } = {}) =>
    db.query(
      `INSERT INTO api_keys (key_id, prefix, hash, user_id, user_email, name, created_at, revoked_at, expires_at)
       VALUES ($1, $2, $3, 'ada@example.org', 'ada@example.org', 'from before', now(), $4, $5)`,
      [randomUUID(), prefix, hmac(key), extra.revokedAt ?? null, extra.expiresAt ?? null],
    );

  beforeAll(async () => {
    db = await createTestDatabase('keydigest');
    // The schema as the first release left it, with its keys.
    await new ApiKeys1732500000000().up({ query: (sql: string) => db.query(sql) } as never);
    await insertLegacy(legacyKey, 'OldKey01');
    await insertLegacy(legacyRevokedKey, 'OldKey02', { revokedAt: new Date().toISOString() });
    await insertLegacy(legacyExpiredKey, 'OldKey03', { expiresAt: new Date(Date.now() - 60_000).toISOString() });
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    service = await startService('key-registry', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      KEY_HASH_SECRET: SERVER_SECRET,
    });
  });

  afterAll(async () => {
    await service?.stop();
    await nc?.close();
    await db?.drop();
  });

  it('creates a key that verifies from its prefix and digest, and stores HMAC(server secret, digest)', async () => {
    const created = await bus.request('key-registry.create', { userEmail: 'grace@example.org', name: 'digest' });
    const request = keyVerifyRequest(created.secret)!;
    expect(request).toEqual({ prefix: created.key.prefix, digest: keyDigest(created.secret) });
    expect(await bus.request('key-registry.verify', request)).toMatchObject({ valid: true, key: { keyId: created.key.keyId } });

    const [row] = await db.query<{ hash: Buffer; hash_version: number }>('SELECT hash, hash_version FROM api_keys WHERE key_id = $1', [
      created.key.keyId,
    ]);
    expect(row.hash_version).toBe(2);
    expect(row.hash.equals(hmac(keyDigest(created.secret)))).toBe(true);
    expect(created.key.legacy).toBeUndefined();
  });

  it('answers a create that names sealTo with the key sealed to it, and refuses a sealTo that is no X25519 key', async () => {
    const sealing = newSealingKeys();
    const created = await bus.request('key-registry.create', { userEmail: 'grace@example.org', name: 'sealed', sealTo: sealing.sealTo });
    expect(isSealed(created.secret)).toBe(true);
    const secret = openSealedSecret(created.secret, sealing);
    expect(secret).toMatch(new RegExp(`^sk-${created.key.prefix}_[A-Za-z0-9_-]{43}$`));
    expect(() => openSealedSecret(created.secret, newSealingKeys())).toThrow();
    expect(await bus.request('key-registry.verify', keyVerifyRequest(secret)!)).toMatchObject({
      valid: true,
      key: { keyId: created.key.keyId },
    });

    // The all-zero point passes the pattern but no exchange works with it: refused, and no key is left behind.
    const before = (await bus.request('key-registry.list', { userEmail: 'grace@example.org' })).keys.length;
    await expect(bus.request('key-registry.create', { userEmail: 'grace@example.org', sealTo: 'A'.repeat(43) })).rejects.toThrow(
      /sealTo is not an X25519 public key/,
    );
    expect((await bus.request('key-registry.list', { userEmail: 'grace@example.org' })).keys).toHaveLength(before);
  });

  it('refuses a wrong digest, a digest of another key under the same prefix, and the key sent in place of its digest', async () => {
    const created = await bus.request('key-registry.create', { userEmail: 'grace@example.org' });
    const { prefix } = created.key;
    const other = `sk-${prefix}_${randomBytes(32).toString('base64url')}`;
    expect(await bus.request('key-registry.verify', { prefix, digest: keyDigest(other) })).toEqual({ valid: false, reason: 'unknown' });
    expect(await bus.request('key-registry.verify', { prefix, digest: randomBytes(32).toString('base64url') })).toEqual({
      valid: false,
      reason: 'unknown',
    });
    // A digest for an unknown prefix.
    expect(await bus.request('key-registry.verify', { prefix: 'Nobody00', digest: keyDigest(created.secret) })).toEqual({
      valid: false,
      reason: 'unknown',
    });
    // The old message shape, or the key where the digest goes, is malformed: a service error, the key not looked at.
    const subject = new Subjects(namespace).subject('key-registry.verify');
    for (const body of [
      { key: created.secret },
      { prefix, digest: created.secret },
      { prefix, digest: keyDigest(created.secret), key: created.secret },
    ]) {
      const raw = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 2000 });
      expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('400');
    }
    expect((await bus.request('key-registry.verify', keyVerifyRequest(created.secret)!)).valid).toBe(true);
  });

  it('warns at start once per legacy key still in use, with the count, and lists those keys as legacy', async () => {
    const warnings = service.records().filter((r) => r.level === 'warn' && String(r.msg).startsWith('legacy key refused'));
    expect(warnings.map((w) => ({ prefix: w.prefix, userEmail: w.userEmail, legacyKeys: w.legacyKeys }))).toEqual([
      { prefix: 'OldKey01', userEmail: 'ada@example.org', legacyKeys: 1 },
    ]);
    expect(service.records().filter((r) => r.msg === 'legacy keys refused until replaced')).toEqual([
      expect.objectContaining({ legacyKeys: 1 }),
    ]);

    const listed = await bus.request('key-registry.list', { userEmail: 'ada@example.org', includeRevoked: true });
    expect(listed.keys.map((k) => [k.prefix, k.legacy ?? false])).toEqual([
      ['OldKey01', true],
      ['OldKey02', true],
      ['OldKey03', true],
    ]);
    // No log line holds a key.
    for (const key of [legacyKey, legacyRevokedKey, legacyExpiredKey]) expect(service.lines.join('\n')).not.toContain(key.slice(12));
  });

  it('shows legacy keys in `maas keys list` as refused until replaced', async () => {
    const proc = startNode('bin/maas.js', { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace }, [
      'keys',
      'list',
      '--user',
      'ada@example.org',
    ]);
    const code = await new Promise<number | null>((resolve) =>
      proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
    );
    expect(code).toBe(0);
    // Revoked keys are listed only with --all; an expired one says so, whatever its hash.
    const listed = proc.lines.filter((l) => l.includes('sk-'));
    expect(listed).toEqual([
      expect.stringMatching(/sk-OldKey01_….*legacy \(refused: made before keys were verified by digest; create a new key/),
      expect.stringMatching(/sk-OldKey03_….*expired /),
    ]);
  });

  it('refuses a legacy key with a message naming its prefix and how to replace it; revoked or expired ones are simply unknown', async () => {
    const reply = await bus.request('key-registry.verify', keyVerifyRequest(legacyKey)!);
    expect(reply).toEqual({ valid: false, reason: 'legacy', message: expect.stringContaining('sk-OldKey01_') });
    expect(reply.message).toMatch(/create a new key \(maas keys create, or Keys in the portal\)/);
    // The stored HMAC of the key cannot be checked from a digest, whatever the digest: no way in for a legacy row.
    expect(await bus.request('key-registry.verify', { prefix: 'OldKey01', digest: keyDigest('anything') })).toMatchObject({
      valid: false,
      reason: 'legacy',
    });
    expect(await bus.request('key-registry.verify', keyVerifyRequest(legacyRevokedKey)!)).toEqual({ valid: false, reason: 'unknown' });
    expect(await bus.request('key-registry.verify', keyVerifyRequest(legacyExpiredKey)!)).toEqual({ valid: false, reason: 'unknown' });
  });
});
