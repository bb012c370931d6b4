import { isSealed, newSealingKeys, openSealedSecret, sealSecret } from '@maas/contracts';

describe('sealing a new key to its creator', () => {
  const secret = 'sk-AbCdEfGh_' + 'z'.repeat(43);

  it('opens only with the private half of the keys it was sealed to, and never shows the key', () => {
    const keys = newSealingKeys();
    const sealed = sealSecret(secret, keys.sealTo);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('z'.repeat(8));
    expect(openSealedSecret(sealed, keys)).toBe(secret);
    expect(() => openSealedSecret(sealed, newSealingKeys())).toThrow();
  });

  it('seals the same key differently every time (one-time key and nonce)', () => {
    const keys = newSealingKeys();
    const [a, b] = [sealSecret(secret, keys.sealTo), sealSecret(secret, keys.sealTo)];
    expect(a).not.toBe(b);
    expect([openSealedSecret(a, keys), openSealedSecret(b, keys)]).toEqual([secret, secret]);
  });

  it('refuses an altered seal and a key sent in clear', () => {
    const keys = newSealingKeys();
    const sealed = sealSecret(secret, keys.sealTo);
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    expect(() => openSealedSecret(sealed.slice(0, -2) + last + sealed.at(-1), keys)).toThrow();
    expect(isSealed(secret)).toBe(false);
    expect(() => openSealedSecret(secret, keys)).toThrow(/not a sealed key/);
  });

  it.each(['', 'not-a-key', 'A'.repeat(44)])('refuses to seal to %j', (sealTo) => {
    expect(() => sealSecret(secret, sealTo)).toThrow();
  });
});
