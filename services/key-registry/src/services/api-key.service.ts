import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type {
  KeyCreated,
  KeyCreateRequest,
  KeyListReply,
  KeyListRequest,
  KeyRevokeRequest,
  KeySummary,
  KeyVerifyReply,
} from '@maas/contracts';
import { Logger } from '@maas/logging';
import { ApiKeyEntity } from '../repositories/api-key.entity';
import { AccountStatusRepository } from '../repositories/account-status.repository';
import { ApiKeyRepository } from '../repositories/api-key.repository';
import { KeyEventsRepository } from '../repositories/key-events.repository';
import { DIGEST_HASH_VERSION, KeyHasher, LEGACY_HASH_VERSION } from '../repositories/key-hasher';
import { CLOCK, Clock } from '@maas/platform';
import { invalidCidr } from '../policy/cidr';

const TOUCH_EVERY_MS = 60_000;
/** How far back each look for disabled accounts reaches: covers clock skew between auth's host and ours. */
const DISABLED_LOOKBACK_MS = 60_000;

export const ACCOUNT_POLL_MS = Symbol('ACCOUNT_POLL_MS');

/** Thrown for requests that name a key that does not exist (or not for this user). */
export class KeyNotFoundError extends Error {}

/** Thrown for a create request the schema lets through but that cannot work (the message names the field). */
export class InvalidKeyRequestError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

export function summary(k: ApiKeyEntity): KeySummary {
  return {
    keyId: k.keyId,
    prefix: k.prefix,
    userId: k.userId,
    userEmail: k.userEmail,
    name: k.name,
    allowedModels: k.allowedModels,
    allowedCidrs: k.allowedCidrs,
    trusted: k.trusted,
    ...(k.hashVersion === LEGACY_HASH_VERSION ? { legacy: true } : {}),
    limits: k.limits,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

/** What the holder of a key from before digests is told. */
export function legacyMessage(prefix: string): string {
  return (
    `API key sk-${prefix}_… was created before keys were verified by digest and can no longer be checked; ` +
    'create a new key (maas keys create, or Keys in the portal) and revoke this one'
  );
}

/** API keys: created once (secret shown once), verified on gateway cache misses, revoked everywhere. */
@Injectable()
export class ApiKeyService implements OnModuleInit, OnApplicationShutdown {
  private readonly touchedAt = new Map<string, number>();
  /** Disabled accounts whose keys were already announced, by e-mail → disabled_at. */
  private readonly announced = new Map<string, number>();
  private accountTimer?: NodeJS.Timeout;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly accounts: AccountStatusRepository,
    private readonly hasher: KeyHasher,
    private readonly keyEvents: KeyEventsRepository,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ACCOUNT_POLL_MS) private readonly accountPollMs: number,
  ) {}

  /** Disabling an account stops its keys within one poll: gateways drop them (key.revoked) and verify refuses them. */
  async onModuleInit(): Promise<void> {
    this.accountTimer = setInterval(() => void this.announceDisabledAccounts(), this.accountPollMs);
    this.accountTimer.unref();
    await this.warnOfLegacyKeys();
  }

  /** One warning per key that predates digests and still looks usable, so operators can tell their holders. */
  async warnOfLegacyKeys(): Promise<void> {
    try {
      const legacy = await this.keys.activeLegacy(LEGACY_HASH_VERSION, new Date(this.clock.now()));
      for (const k of legacy) {
        this.logger.warn('legacy key refused: it was made before keys were verified by digest; its holder must make a new one', {
          keyId: k.keyId,
          prefix: k.prefix,
          userEmail: k.userEmail,
          legacyKeys: legacy.length,
        });
      }
      if (legacy.length) this.logger.warn('legacy keys refused until replaced', { legacyKeys: legacy.length });
    } catch (err) {
      this.logger.warn('could not look for legacy keys', { err: (err as Error).message });
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.accountTimer);
  }

  async announceDisabledAccounts(): Promise<void> {
    const now = this.clock.now();
    try {
      for (const { email, disabledAt } of await this.accounts.disabledSince(new Date(now - this.accountPollMs - DISABLED_LOOKBACK_MS))) {
        if (this.announced.get(email) === disabledAt.getTime()) continue;
        this.announced.set(email, disabledAt.getTime());
        const active = await this.keys.list(email, false);
        for (const k of active) this.keyEvents.revoked({ keyId: k.keyId, prefix: k.prefix, revokedAt: disabledAt.toISOString() });
        this.logger.info('account disabled: its keys stopped', { userEmail: email, keys: active.length });
      }
      for (const [email, at] of this.announced)
        if (at < now - 2 * (this.accountPollMs + DISABLED_LOOKBACK_MS)) this.announced.delete(email);
    } catch (err) {
      this.logger.warn('could not check for disabled accounts', { err: (err as Error).message });
    }
  }

  async create(req: KeyCreateRequest): Promise<KeyCreated> {
    // Checked here, not at use: a stored bad CIDR would fail every request the key makes.
    const badCidr = invalidCidr(req.allowedCidrs ?? []);
    if (badCidr) throw new InvalidKeyRequestError('allowedCidrs', badCidr);
    const { secret, prefix } = this.hasher.generate();
    // Sealed before anything is stored: a sealTo that is no X25519 key refuses the request, leaving no key nobody can read.
    let shown = secret;
    if (req.sealTo !== undefined) {
      try {
        shown = this.hasher.seal(secret, req.sealTo);
      } catch {
        throw new InvalidKeyRequestError('sealTo', `sealTo is not an X25519 public key (base64url): ${req.sealTo}`);
      }
    }
    const email = req.userEmail.trim().toLowerCase();
    const entity: ApiKeyEntity = {
      keyId: randomUUID(),
      prefix,
      hash: this.hasher.hashKey(secret),
      hashVersion: DIGEST_HASH_VERSION,
      userId: email,
      userEmail: email,
      name: req.name ?? null,
      allowedModels: req.allowedModels ?? [],
      allowedCidrs: req.allowedCidrs ?? [],
      trusted: req.trusted ?? false,
      limits: req.limits ?? {},
      createdAt: new Date(this.clock.now()),
      expiresAt: req.expiresAt ? new Date(req.expiresAt) : null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.keys.insert(entity);
    this.logger.info('key created', { keyId: entity.keyId, prefix, userEmail: email, trusted: entity.trusted, sealed: shown !== secret });
    return { secret: shown, key: summary(entity) };
  }

  /** Checks a key from its visible prefix and its digest (the key itself never reaches key-registry). */
  async verify(prefix: string, digest: string): Promise<KeyVerifyReply> {
    const key = await this.keys.byPrefix(prefix);
    if (!key) return { valid: false, reason: 'unknown' };
    const now = this.clock.now();
    if (key.hashVersion === LEGACY_HASH_VERSION) {
      // No digest can be checked against HMAC(secret, key): the holder is told what to do, nothing more.
      if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) return { valid: false, reason: 'unknown' };
      return { valid: false, reason: 'legacy', message: legacyMessage(key.prefix) };
    }
    if (!this.hasher.matches(digest, key.hash)) return { valid: false, reason: 'unknown' };
    if (key.revokedAt) return { valid: false, reason: 'revoked' };
    if (key.expiresAt && key.expiresAt.getTime() <= now) return { valid: false, reason: 'expired' };
    if (await this.accounts.isDisabled(key.userEmail)) return { valid: false, reason: 'revoked' };
    this.touch(key.keyId, now);
    const s = summary(key);
    return {
      valid: true,
      key: {
        keyId: s.keyId,
        userId: s.userId,
        userEmail: s.userEmail,
        ...(s.name ? { name: s.name } : {}),
        prefix: s.prefix,
        allowedModels: s.allowedModels,
        allowedCidrs: s.allowedCidrs ?? [],
        expiresAt: s.expiresAt ?? null,
        trusted: s.trusted,
        limits: s.limits ?? {},
      },
    };
  }

  async list(req: KeyListRequest): Promise<KeyListReply> {
    const rows = await this.keys.list(req.userEmail?.trim().toLowerCase(), req.includeRevoked ?? false);
    return { keys: rows.map(summary) };
  }

  async get(keyId: string): Promise<KeySummary> {
    const key = await this.keys.byId(keyId).catch(() => null);
    if (!key) throw new KeyNotFoundError(`no key ${keyId}`);
    return summary(key);
  }

  async revoke(req: KeyRevokeRequest): Promise<KeySummary> {
    const existing = await this.keys.byId(req.keyId).catch(() => null);
    if (!existing || (req.userEmail && existing.userEmail !== req.userEmail.trim().toLowerCase())) {
      throw new KeyNotFoundError(`no key ${req.keyId}${req.userEmail ? ` for ${req.userEmail}` : ''}`);
    }
    const revoked = (await this.keys.revoke(req.keyId, new Date(this.clock.now())))!;
    this.keyEvents.revoked({ keyId: revoked.keyId, prefix: revoked.prefix, revokedAt: revoked.revokedAt!.toISOString() });
    this.logger.info('key revoked', { keyId: revoked.keyId, prefix: revoked.prefix });
    return summary(revoked);
  }

  /** last_used_at at minute resolution: one write per key per minute, off the verify path. */
  private touch(keyId: string, now: number): void {
    if (now - (this.touchedAt.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    this.touchedAt.set(keyId, now);
    this.keys.touch(keyId, new Date(now)).catch((err) => this.logger.warn('could not record key use', { keyId, err }));
  }
}
