import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Key material: `sk-<prefix>_<secret>`; 8 prefix chars shown in listings, 256 random bits of secret. */
export class KeyHasher {
  constructor(private readonly serverSecret: string) {}

  generate(): { secret: string; prefix: string } {
    const prefix = randomBytes(6).toString('base64url').slice(0, 8);
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
