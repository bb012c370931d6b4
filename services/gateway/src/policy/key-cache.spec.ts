import { keyVerifyRequest, type KeyVerifyReply } from '@maas/contracts';
import { KeyCache, PresentedKey, toVerifiedKey } from './key-cache';

const reply = (over: Partial<NonNullable<KeyVerifyReply['key']>> = {}): KeyVerifyReply => ({
  valid: true,
  key: { keyId: 'k1', userId: 'u1', prefix: 'abcd1234', allowedModels: [], trusted: false, limits: {}, ...over },
});
const spec = { ttlMs: 1000, negativeTtlMs: 100, staleGraceMs: 10_000, maxEntries: 3 };
const presented = (key: string): PresentedKey => keyVerifyRequest(key)!;
const KEY = presented('sk-abcd1234_secret12');
const OTHER = presented('sk-zzzz9999_xxxxxxxxxx');

describe('KeyCache', () => {
  it('keeps valid keys for the TTL and invalid ones for the shorter negative TTL', () => {
    const c = new KeyCache(spec);
    c.store(KEY, toVerifiedKey(reply()), 0);
    c.store(OTHER, { valid: false, reason: 'unknown' }, 0);
    expect(c.fresh(KEY.digest, 1000)?.valid).toBe(true);
    expect(c.fresh(KEY.digest, 1001)).toBeUndefined();
    expect(c.fresh(OTHER.digest, 100)?.valid).toBe(false);
    expect(c.fresh(OTHER.digest, 101)).toBeUndefined();
  });

  it('keys entries on the digest, never on the key', () => {
    const c = new KeyCache(spec);
    c.store(KEY, toVerifiedKey(reply()), 0);
    expect(c.fresh('sk-abcd1234_secret12', 0)).toBeUndefined();
    expect(c.fresh(presented('sk-abcd1234_secret13').digest, 0)).toBeUndefined();
    expect(c.fresh(KEY.digest, 0)?.valid).toBe(true);
  });

  it('keeps the message key-registry gave for a refusal', () => {
    const legacy = toVerifiedKey({ valid: false, reason: 'legacy', message: 'make a new key' });
    expect(legacy).toEqual({ valid: false, reason: 'legacy', message: 'make a new key' });
    expect(toVerifiedKey({ valid: false })).toEqual({ valid: false, reason: 'unknown' });
  });

  it('offers an expired positive entry only as stale, within the grace window', () => {
    const c = new KeyCache(spec);
    c.store(KEY, toVerifiedKey(reply()), 0);
    expect(c.stale(KEY.digest, 10_000)?.valid).toBe(true);
    expect(c.stale(KEY.digest, 10_001)).toBeUndefined();
  });

  it('evicts a revoked key and refuses a verify reply that left key-registry before the revocation', () => {
    const c = new KeyCache(spec);
    c.store(KEY, toVerifiedKey(reply()), 0);
    expect(c.evict('k1', 'abcd1234', 50)).toBe(1);
    expect(c.fresh(KEY.digest, 60)).toBeUndefined();
    expect(c.store(KEY, toVerifiedKey(reply()), 70, 40)).toBe(false);
    expect(c.store(KEY, toVerifiedKey(reply()), 70, 60)).toBe(true);
  });

  it('evicts by visible prefix even when the revocation names another key id', () => {
    const c = new KeyCache(spec);
    c.store(KEY, toVerifiedKey(reply({ keyId: 'k-old' })), 0);
    c.store(OTHER, toVerifiedKey(reply({ keyId: 'k2', prefix: 'zzzz9999' })), 0);
    expect(c.evict('k-new', 'abcd1234', 10)).toBe(1);
    expect(c.fresh(KEY.digest, 20)).toBeUndefined();
    expect(c.fresh(OTHER.digest, 20)?.valid).toBe(true);
  });

  it('stays bounded, dropping the oldest entry', () => {
    const c = new KeyCache(spec);
    const keys = ['sk-aaaaaaa1_xxxxxxxx', 'sk-aaaaaaa2_xxxxxxxx', 'sk-aaaaaaa3_xxxxxxxx', 'sk-aaaaaaa4_xxxxxxxx'].map(presented);
    for (const k of keys) c.store(k, toVerifiedKey(reply({ prefix: k.prefix })), 0);
    expect(c.size).toBe(3);
    expect(c.fresh(keys[0].digest, 0)).toBeUndefined();
    expect(c.fresh(keys[3].digest, 0)?.valid).toBe(true);
  });

  it('never lets keys nobody holds push valid ones out: invalid verdicts are bounded apart', () => {
    const c = new KeyCache({ ...spec, maxNegativeEntries: 2 });
    c.store(KEY, toVerifiedKey(reply()), 0);
    const guess = (i: number) => presented(`sk-g${String(i).padStart(7, '0')}_xxxxxxxxxx`);
    for (let i = 0; i < 1000; i++) c.store(guess(i), { valid: false, reason: 'unknown' }, 0);
    expect(c.fresh(KEY.digest, 0)?.valid).toBe(true);
    expect(c.fresh(guess(999).digest, 0)).toEqual({ valid: false, reason: 'unknown' });
    expect(c.fresh(guess(997).digest, 0)).toBeUndefined();
  });

  it('compiles model globs and address ranges once', () => {
    const v = toVerifiedKey(reply({ allowedModels: ['Qwen/*', 'llm-jp/llm-jp-3.?-13b'], allowedCidrs: ['10.0.0.0/8', '127.0.0.1'] }));
    if (!v.valid) throw new Error('expected valid');
    expect(['Qwen/Qwen2.5-3B', 'llm-jp/llm-jp-3.1-13b', 'openai/gpt-oss-20b'].map(v.key.allowsModel)).toEqual([true, true, false]);
    expect(['10.1.2.3', '::ffff:127.0.0.1', '192.168.0.1'].map((a) => v.key.allowsAddress!(a))).toEqual([true, true, false]);
    expect(
      toVerifiedKey(reply()).valid && (toVerifiedKey(reply()) as { key: { allowsAddress?: unknown } }).key.allowsAddress,
    ).toBeUndefined();
  });
});
