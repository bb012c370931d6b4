import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { keyDigest, sealSecret } from '@maas/contracts';

const PREFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * How a key's hash was made. 1: HMAC(server secret, key), from before keys were verified by digest;
 * the key would have to cross the bus to be checked, so such keys are refused. 2: HMAC(server
 * secret, keyDigest(key)), checked from the digest the gateway sends.
 */
export const LEGACY_HASH_VERSION = 1;
export const DIGEST_HASH_VERSION = 2;

/** Key material: `sk-<prefix>_<secret>`; 8 prefix chars shown in listings, 256 random bits of secret. */
export class KeyHasher {
  constructor(private readonly serverSecret: string) {}

  generate(): { secret: string; prefix: string } {
    // Letters and digits only, so the prefix never contains the `_` that ends it.
    const prefix = [...randomBytes(8)].map((b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
    const secret = `sk-${prefix}_${randomBytes(32).toString('base64url')}`;
    return { secret, prefix };
  }

  /** What is stored for a new key (hash version 2): only the digest is ever hashed, so only the digest need travel. */
  hashKey(secret: string): Buffer {
    return this.hash(keyDigest(secret));
  }

  /** HMAC of a key's digest under the server secret: a stolen table cannot be checked against digests seen on the bus. */
  hash(digest: string): Buffer {
    return createHmac('sha256', this.serverSecret).update(digest).digest();
  }

  /** Constant-time comparison of a presented digest with a stored (version 2) hash. */
  matches(digest: string, stored: Buffer): boolean {
    const computed = this.hash(digest);
    return computed.length === stored.length && timingSafeEqual(computed, stored);
  }

  /** A new key sealed to its creator's one-time public key (sealTo), so the reply carries it unreadable to the bus. */
  seal(secret: string, sealTo: string): string {
    return sealSecret(secret, sealTo);
  }

  static prefixOf(secret: string): string | undefined {
    return /^sk-([A-Za-z0-9_-]{8})_[A-Za-z0-9_-]{20,}$/.exec(secret)?.[1];
  }
}
