import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';

/** Randomness and hashing for session and CSRF tokens. */
@Injectable()
export class Tokens {
  /** 256 random bits, URL-safe. */
  create(): string {
    return randomBytes(32).toString('base64url');
  }

  hash(token: string): Buffer {
    return createHash('sha256').update(token).digest();
  }

  /** Constant-time comparison of two tokens. */
  same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  uuid(): string {
    return randomUUID();
  }
}
