import { keyDigest } from '@maas/contracts';
import { KeyHasher } from './key-hasher';

describe('KeyHasher', () => {
  const hasher = new KeyHasher('secret');

  it('generates keys with a visible prefix and 256 bits of secret', () => {
    const { secret, prefix } = hasher.generate();
    expect(secret).toMatch(/^sk-[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
    expect(KeyHasher.prefixOf(secret)).toBe(prefix);
  });

  it('stores the HMAC of the key’s digest and matches only that digest under the same server secret', () => {
    const { secret } = hasher.generate();
    const stored = hasher.hashKey(secret);
    expect(hasher.matches(keyDigest(secret), stored)).toBe(true);
    expect(hasher.matches(keyDigest(`${secret}x`), stored)).toBe(false);
    // The key itself is not what is hashed: presenting it in place of its digest fails.
    expect(hasher.matches(secret, stored)).toBe(false);
    expect(new KeyHasher('other').matches(keyDigest(secret), stored)).toBe(false);
  });

  it.each(['', 'sk-', 'sk-short_abc', 'Bearer sk-abcdefgh_' + 'x'.repeat(43)])('finds no prefix in %j', (s) => {
    expect(KeyHasher.prefixOf(s)).toBeUndefined();
  });
});
