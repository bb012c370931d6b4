import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { keyVerifyRequest, type KeyRevoked } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { AuthFailureLimiter } from '../policy/auth-failures';
import { KeyCache, KeyVerdict, PresentedKey, toVerifiedKey, VerifiedKey } from '../policy/key-cache';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { KeyRegistryRepository } from '../repositories/key-registry.repository';

const lookups = new Counter({
  name: 'maas_gateway_key_lookups_total',
  help: 'API key checks by source (cache, registry, stale) and verdict',
  labelNames: ['source', 'verdict'],
});

export type Authentication =
  | { ok: true; key: VerifiedKey }
  | { ok: false; status: 401 | 403 | 429 | 503; message: string; code: string; headers?: Record<string, string> };

const MALFORMED: KeyVerdict = { valid: false, reason: 'malformed' };

/**
 * Checks the bearer key of every /v1 call: from the local cache when it can, from key-registry
 * over NATS on a miss (one request per key at a time), and drops a key the moment its revocation
 * is broadcast. Past the Authorization header the key is held only as its prefix and digest: that
 * is what the cache is keyed on and all that is sent to key-registry.
 */
@Injectable()
export class KeyAuthService {
  private readonly cache: KeyCache;
  private readonly pending = new Map<string, Promise<KeyVerdict | undefined>>();
  private readonly failures: AuthFailureLimiter;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: KeyRegistryRepository,
    private readonly logger: Logger,
  ) {
    this.cache = new KeyCache({
      ttlMs: config.GATEWAY_KEY_CACHE_TTL,
      negativeTtlMs: config.GATEWAY_KEY_NEGATIVE_TTL,
      staleGraceMs: config.GATEWAY_KEY_STALE_GRACE,
      maxEntries: 100_000,
      maxNegativeEntries: 20_000,
    });
    this.failures = new AuthFailureLimiter({ maxPerMinute: config.GATEWAY_AUTH_FAILURES_PER_MINUTE, maxAddresses: 50_000 });
  }

  /** The secret from `Authorization: Bearer sk-…`, or undefined. */
  static bearer(header: string | undefined): string | undefined {
    if (!header || header.length > 300) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }

  async authenticate(header: string | undefined, address: string | undefined): Promise<Authentication> {
    const secret = KeyAuthService.bearer(header);
    if (!secret) return { ok: false, status: 401, message: 'missing API key: send "Authorization: Bearer sk-…"', code: 'missing_api_key' };
    const now = this.clock.now();
    const from = address ?? 'unknown';
    const presented = keyVerifyRequest(secret);
    let verdict = presented ? this.cache.fresh(presented.digest, now) : MALFORMED;
    if (verdict) lookups.inc({ source: 'cache', verdict: verdict.valid ? 'valid' : 'invalid' });
    if (!verdict?.valid) {
      // An address guessing keys is refused before its guesses cost a key-registry lookup (keys it was seen to hold still work).
      const wait = this.failures.blocked(from, now);
      if (wait !== undefined) {
        return {
          ok: false,
          status: 429,
          message: `too many failed API key checks from ${from}; retry after ${wait} s`,
          code: 'too_many_failed_authentications',
          headers: { 'retry-after': String(wait) },
        };
      }
    }
    verdict ??= await this.ask(presented!);
    if (!verdict) {
      return {
        ok: false,
        status: 503,
        message: 'the key service cannot be reached; try again shortly',
        code: 'key_service_unavailable',
        headers: { 'retry-after': '2' },
      };
    }
    if (!verdict.valid) return this.refused(from, now, verdict.message ?? `invalid API key (${verdict.reason})`);
    const key = verdict.key;
    if (key.expiresAt !== undefined && key.expiresAt <= now) return this.refused(from, now, 'invalid API key (expired)');
    if (key.allowsAddress && !(address && key.allowsAddress(address))) {
      return {
        ok: false,
        status: 403,
        message: `API key ${key.prefix} may not be used from ${address ?? 'an unknown address'} (not in its allowed CIDRs)`,
        code: 'address_not_allowed',
      };
    }
    return { ok: true, key };
  }

  private refused(from: string, now: number, message: string): Authentication {
    this.failures.failed(from, now);
    return { ok: false, status: 401, message, code: 'invalid_api_key' };
  }

  private ask(key: PresentedKey): Promise<KeyVerdict | undefined> {
    let p = this.pending.get(key.digest);
    if (!p) {
      p = this.verify(key).finally(() => this.pending.delete(key.digest));
      this.pending.set(key.digest, p);
    }
    return p;
  }

  private async verify(key: PresentedKey): Promise<KeyVerdict | undefined> {
    const askedAt = this.clock.now();
    try {
      const verdict = toVerifiedKey(await this.registry.verify(key, this.config.GATEWAY_KEY_VERIFY_TIMEOUT));
      const kept = this.cache.store(key, verdict, this.clock.now(), askedAt);
      lookups.inc({ source: 'registry', verdict: verdict.valid ? 'valid' : 'invalid' });
      return kept ? verdict : { valid: false, reason: 'revoked' };
    } catch (err) {
      const stale = this.cache.stale(key.digest, this.clock.now());
      this.logger.warn('key-registry verify failed', { error: (err as Error).message, prefix: key.prefix, servedStale: !!stale });
      lookups.inc({ source: stale ? 'stale' : 'unavailable', verdict: stale ? 'valid' : 'unknown' });
      return stale;
    }
  }

  revoked(msg: KeyRevoked): void {
    const n = this.cache.evict(msg.keyId, msg.prefix, this.clock.now());
    this.logger.info('key revoked: dropped from cache', { keyId: msg.keyId, prefix: msg.prefix, entries: n });
  }
}
