import { createHash } from 'node:crypto';
import { CREDENTIAL_DIGEST, keyDigest, keyVerifyRequest, MessageValidator, sessionDigest, sessionVerifyRequest } from '@maas/contracts';

describe('credential digests', () => {
  const key = 'sk-AbCdEfGh_' + 'k'.repeat(43);
  const cookie = 'c'.repeat(43);

  it('is base64url SHA-256 of the tagged credential, 43 characters, the same every time', () => {
    expect(keyDigest(key)).toBe(createHash('sha256').update(`maas-key-v1:${key}`).digest('base64url'));
    expect(sessionDigest(cookie)).toBe(createHash('sha256').update(`maas-session-v1:${cookie}`).digest('base64url'));
    expect(keyDigest(key)).toMatch(CREDENTIAL_DIGEST);
    expect(keyDigest(key)).toBe(keyDigest(`${key}`));
  });

  it('keeps keys, sessions and bare hashes apart, and changes with every character', () => {
    const same = 'x'.repeat(50);
    expect(keyDigest(same)).not.toBe(sessionDigest(same));
    expect(keyDigest(same)).not.toBe(createHash('sha256').update(same).digest('base64url'));
    expect(keyDigest(`${key.slice(0, -1)}j`)).not.toBe(keyDigest(key));
  });

  it('is what the verify messages accept, and the only thing they accept', () => {
    const v = new MessageValidator();
    expect(v.message('key-registry.verify', { prefix: 'AbCdEfGh', digest: keyDigest(key) }).ok).toBe(true);
    expect(v.message('auth.verify-session', { tokenDigest: sessionDigest(cookie) }).ok).toBe(true);
    expect(v.message('key-registry.verify', { key } as never).ok).toBe(false);
    expect(v.message('key-registry.verify', { prefix: 'AbCdEfGh', digest: key } as never).ok).toBe(false);
    expect(v.message('auth.verify-session', { token: cookie } as never).ok).toBe(false);
    expect(v.message('auth.verify-session', { tokenDigest: `${cookie}!` }).ok).toBe(false);
  });

  it('builds the verify messages from a presented key or cookie: the prefix travels, the secret part does not', () => {
    // base64url prefixes may contain `_`: the prefix is the 8 characters after sk-, not up to the first `_`.
    expect(keyVerifyRequest('sk-ab_cd-ef_' + 'k'.repeat(43))).toEqual({
      prefix: 'ab_cd-ef',
      digest: keyDigest('sk-ab_cd-ef_' + 'k'.repeat(43)),
    });
    expect(keyVerifyRequest('sk-_b_d-f_h_0123456789')?.prefix).toBe('_b_d-f_h');
    expect(JSON.stringify(keyVerifyRequest(key))).not.toContain('k'.repeat(43));
    expect(sessionVerifyRequest(cookie)).toEqual({ tokenDigest: sessionDigest(cookie) });
    for (const bad of ['', 'sk-', 'sk-_x', 'sk-abc', 'sk-short_abc', 'Bearer ' + key, 'pk-AbCdEfGh_' + 'k'.repeat(43), key + ' ']) {
      expect(keyVerifyRequest(bad)).toBeUndefined();
    }
  });
});
