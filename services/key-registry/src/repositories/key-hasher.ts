import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Key material: `sk-<prefix>_<secret>`; 8 prefix chars shown in listings, 256 random bits of secret. */
export class KeyHasher {
  constructor(private readonly serverSecret: string) {}

  generate(): { secret: string; prefix: string } {
    // Letters and digits only, so the prefix never contains the `_` that ends it.
    const prefix = [...randomBytes(8)].map((b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join('');
    const secret = `sk-${prefix}_${randomBytes(32).toString('base64url')}`;
    return { secret, prefix };
  }

  hash(secret: string): Buffer {
    return createHmac('sha256', this.serverSecret).update(secret).digest();
  }

  /** Constant-time comparison of a presented key with a stored hash. */
  matches(secret: string, stored: Buffer): boolean {
    const computed = this.hash(secret);
    return computed.length === stored.length && timingSafeEqual(computed, stored);
  }

  static prefixOf(secret: string): string | undefined {
    return /^sk-([A-Za-z0-9_-]{8})_[A-Za-z0-9_-]{20,}$/.exec(secret)?.[1];
  }
}
