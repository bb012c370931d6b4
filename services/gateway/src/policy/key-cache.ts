import type { KeyLimits, KeyVerifyReply, KeyVerifyRequest } from '@maas/contracts';
import { addressMatcher } from './client-address';
import { modelMatcher } from './model-access';

/** A key key-registry vouched for, with what the gateway checks on every request compiled once. */
export interface VerifiedKey {
  readonly keyId: string;
  readonly userId: string;
  readonly userEmail?: string;
  readonly prefix: string;
  readonly trusted: boolean;
  readonly limits: KeyLimits;
  /** Epoch ms, or undefined for keys that never expire. */
  readonly expiresAt?: number;
  /** The model globs `allowsModel` matches (empty: every model). */
  readonly allowedModels?: readonly string[];
  readonly allowsModel: (model: string) => boolean;
  /** Undefined when the key may be used from anywhere. */
  readonly allowsAddress?: (address: string) => boolean;
}

export type KeyVerdict =
  { valid: true; key: VerifiedKey } | { valid: false; reason: NonNullable<KeyVerifyReply['reason']> | 'malformed'; message?: string };

/** A presented key as the gateway holds it past the first line of a request: its visible prefix and digest, not the key. */
export type PresentedKey = KeyVerifyRequest;

interface Entry {
  readonly prefix: string;
  readonly verdict: KeyVerdict;
  readonly checkedAt: number;
}

export interface KeyCacheSpec {
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly staleGraceMs: number;
  readonly maxEntries: number;
  /** Invalid verdicts are kept apart, so keys nobody holds never push valid ones out (default: maxEntries / 10). */
  readonly maxNegativeEntries?: number;
}

export function toVerifiedKey(reply: KeyVerifyReply): KeyVerdict {
  if (!reply.valid || !reply.key)
    return { valid: false, reason: reply.reason ?? 'unknown', ...(reply.message ? { message: reply.message } : {}) };
  const k = reply.key;
  return {
    valid: true,
    key: {
      keyId: k.keyId,
      userId: k.userId,
      userEmail: k.userEmail,
      prefix: k.prefix,
      trusted: k.trusted,
      limits: k.limits ?? {},
      expiresAt: k.expiresAt ? Date.parse(k.expiresAt) : undefined,
      allowedModels: k.allowedModels,
      allowsModel: modelMatcher(k.allowedModels),
      allowsAddress: addressMatcher(k.allowedCidrs ?? []),
    },
  };
}

/**
 * What the gateway remembers about presented keys: valid ones for a short TTL, invalid ones for a
 * shorter one, bounded in size (oldest first out). Entries are keyed on the key's digest, so the
 * keys themselves are never kept. Time is passed in; nothing here does I/O.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  /** Invalid verdicts (unknown, revoked, expired keys), bounded on their own. */
  private readonly negatives = new Map<string, Entry>();
  /** Revocations by prefix and when they arrived: a verify reply that left key-registry earlier is ignored. */
  private readonly revoked = new Map<string, number>();

  constructor(private readonly spec: KeyCacheSpec) {}

  /** A verdict still fresh enough to use without asking key-registry. */
  fresh(digest: string, now: number): KeyVerdict | undefined {
    const e = this.entries.get(digest) ?? this.negatives.get(digest);
    if (!e) return undefined;
    const ttl = e.verdict.valid ? this.spec.ttlMs : this.spec.negativeTtlMs;
    return now - e.checkedAt <= ttl ? e.verdict : undefined;
  }

  /** A positive verdict within the grace window: used only when key-registry cannot be reached. */
  stale(digest: string, now: number): KeyVerdict | undefined {
    const e = this.entries.get(digest);
    return e && e.verdict.valid && now - e.checkedAt <= this.spec.staleGraceMs ? e.verdict : undefined;
  }

  /** Stores a verdict asked for at `askedAt`; false (and not stored) when the key was revoked since. */
  store(key: PresentedKey, verdict: KeyVerdict, now: number, askedAt = now): boolean {
    if (verdict.valid) {
      const revokedAt = this.revoked.get(verdict.key.prefix);
      if (revokedAt !== undefined && revokedAt >= askedAt) return false;
    }
    this.entries.delete(key.digest);
    this.negatives.delete(key.digest);
    const map = verdict.valid ? this.entries : this.negatives;
    map.set(key.digest, { prefix: key.prefix, verdict, checkedAt: now });
    if (
      map.size >
      (verdict.valid ? this.spec.maxEntries : (this.spec.maxNegativeEntries ?? Math.max(1, Math.floor(this.spec.maxEntries / 10))))
    ) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    return true;
  }

  /** Drops every entry of a revoked key (by id or visible prefix); returns how many. */
  evict(keyId: string, prefix: string, now: number): number {
    this.revoked.set(prefix, now);
    if (this.revoked.size > 10_000) this.revoked.delete(this.revoked.keys().next().value as string);
    let n = 0;
    for (const [digest, e] of this.entries) {
      if ((e.verdict.valid && e.verdict.key.keyId === keyId) || e.prefix === prefix) {
        this.entries.delete(digest);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
