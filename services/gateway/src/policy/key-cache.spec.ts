import type { KeyVerifyReply } from '@maas/contracts';
import { KeyCache, keyPrefix, toVerifiedKey } from './key-cache';

const reply = (over: Partial<NonNullable<KeyVerifyReply['key']>> = {}): KeyVerifyReply => ({
  valid: true,
  key: { keyId: 'k1', userId: 'u1', prefix: 'abcd1234', allowedModels: [], trusted: false, limits: {}, ...over },
});
const spec = { ttlMs: 1000, negativeTtlMs: 100, staleGraceMs: 10_000, maxEntries: 3 };
const SECRET = 'sk-abcd1234_secret12';

describe('KeyCache', () => {
  it('keeps valid keys for the TTL and invalid ones for the shorter negative TTL', () => {
    const c = new KeyCache(spec);
    c.store(SECRET, toVerifiedKey(reply()), 0);
    c.store('sk-zzzz9999_xxxxxxxxxx', { valid: false, reason: 'unknown' }, 0);
    expect(c.fresh(SECRET, 1000)?.valid).toBe(true);
    expect(c.fresh(SECRET, 1001)).toBeUndefined();
    expect(c.fresh('sk-zzzz9999_xxxxxxxxxx', 100)?.valid).toBe(false);
    expect(c.fresh('sk-zzzz9999_xxxxxxxxxx', 101)).toBeUndefined();
  });

  it('offers an expired positive entry only as stale, within the grace window', () => {
    const c = new KeyCache(spec);
    c.store(SECRET, toVerifiedKey(reply()), 0);
    expect(c.stale(SECRET, 10_000)?.valid).toBe(true);
    expect(c.stale(SECRET, 10_001)).toBeUndefined();
  });

  it('evicts a revoked key and refuses a verify reply that left key-registry before the revocation', () => {
    const c = new KeyCache(spec);
    c.store(SECRET, toVerifiedKey(reply()), 0);
    expect(c.evict('k1', 'abcd1234', 50)).toBe(1);
    expect(c.fresh(SECRET, 60)).toBeUndefined();
    expect(c.store(SECRET, toVerifiedKey(reply()), 70, 40)).toBe(false);
    expect(c.store(SECRET, toVerifiedKey(reply()), 70, 60)).toBe(true);
  });

  it('stays bounded, dropping the oldest entry', () => {
    const c = new KeyCache(spec);
    for (const s of ['sk-a1_x', 'sk-a2_x', 'sk-a3_x', 'sk-a4_x']) c.store(s, toVerifiedKey(reply()), 0);
    expect(c.size).toBe(3);
    expect(c.fresh('sk-a1_x', 0)).toBeUndefined();
    expect(c.fresh('sk-a4_x', 0)?.valid).toBe(true);
  });

  it('never lets keys nobody holds push valid ones out: invalid verdicts are bounded apart', () => {
    const c = new KeyCache({ ...spec, maxNegativeEntries: 2 });
    c.store(SECRET, toVerifiedKey(reply()), 0);
    for (let i = 0; i < 1000; i++) c.store(`sk-rand${String(i).padStart(4, '0')}_xxxxxxxxxx`, { valid: false, reason: 'unknown' }, 0);
    expect(c.fresh(SECRET, 0)?.valid).toBe(true);
    expect(c.fresh('sk-rand0999_xxxxxxxxxx', 0)).toEqual({ valid: false, reason: 'unknown' });
    expect(c.fresh('sk-rand0997_xxxxxxxxxx', 0)).toBeUndefined();
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

  it('reads the visible prefix of a key', () => {
    expect([
      keyPrefix(SECRET),
      keyPrefix('sk-_b_d-f_h_0123456789'),
      keyPrefix('sk-_x'),
      keyPrefix('pk-abcd1234_secret'),
      keyPrefix('sk-abc'),
    ]).toEqual(['abcd1234', '_b_d-f_h', undefined, undefined, undefined]);
  });
});
