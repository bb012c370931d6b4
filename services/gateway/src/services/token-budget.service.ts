import { Inject, Injectable, Optional } from '@nestjs/common';
import type { KeyLimits } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import type { LimitState } from '../policy/key-limits';
import {
  KeyTokenWindows,
  ledgerInstants,
  SharedRecent,
  UsageKind,
  usageReport,
  WindowExceeded,
  windowLimit,
  WindowSpec,
  WindowWouldExceed,
} from '../policy/token-windows';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { LedgerRepository } from '../repositories/ledger.repository';
import { KeyLimitsService } from './key-limits.service';

const MAX_KEYS = 50_000;
/** After the ledger could not be asked, the next try waits this long (requests are not held meanwhile). */
const RETRY_SEED_MS = 5000;

/**
 * Per-key token use over the short and long windows: counted in process from this gateway's own
 * requests, seeded on first use (and re-seeded every GATEWAY_LEDGER_RESEED) from metrics-collector's
 * ledger, so several gateways and a restarted one see the same totals. Between two ledger answers the
 * tokens every gateway finished come from the key-limits KV entry (when it is there), so gateways
 * together overrun a window only by their requests in flight and about the last second of each other's use.
 */
@Injectable()
export class TokenBudgetService {
  readonly spec: WindowSpec;
  private readonly keys = new Map<string, KeyTokenWindows>();
  private readonly seeding = new Map<string, Promise<void>>();
  private readonly failedAt = new Map<string, number>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly ledger: LedgerRepository,
    private readonly logger: Logger,
    @Optional() private readonly shared?: KeyLimitsService,
  ) {
    this.spec = { shortMs: config.GATEWAY_SHORT_WINDOW, longMs: config.GATEWAY_LONG_WINDOW };
  }

  /** The first window of `kind` whose ceiling the key has reached, or undefined. */
  async exceeded(key: VerifiedKey, kind: UsageKind): Promise<WindowExceeded | undefined> {
    if (windowLimit(key.limits, kind, 'short') === null && windowLimit(key.limits, kind, 'long') === null) return undefined;
    const windows = await this.seeded(key.keyId);
    return windows.exceeded(kind, key.limits, this.clock.now(), await this.sharedSince(key.keyId, kind, windows));
  }

  /** The first window of `kind` already at its ceiling or that `tokens` more would take past it, or undefined. */
  async exceededWith(key: VerifiedKey, kind: UsageKind, tokens: number): Promise<WindowWouldExceed | undefined> {
    if (windowLimit(key.limits, kind, 'short') === null && windowLimit(key.limits, kind, 'long') === null) return undefined;
    const windows = await this.seeded(key.keyId);
    return windows.exceededWith(kind, key.limits, tokens, this.clock.now());
  }

  /** The key's tightest token window of `kind` from what is counted now (no ledger round trip); undefined without window limits. */
  standing(key: VerifiedKey, kind: UsageKind): LimitState | undefined {
    if (windowLimit(key.limits, kind, 'short') === null && windowLimit(key.limits, kind, 'long') === null) return undefined;
    return this.windows(key.keyId).standing(kind, key.limits, this.clock.now());
  }

  /** Counts a finished request's tokens (called for every request this gateway served). */
  record(keyId: string, kind: UsageKind, tokens: number, at = this.clock.now(), limits?: KeyLimits): void {
    if (tokens <= 0) return;
    this.windows(keyId).add(kind, tokens, at);
    if (limits && (windowLimit(limits, kind, 'short') !== null || windowLimit(limits, kind, 'long') !== null))
      this.shared?.recordWindowTokens(keyId, kind, tokens, at);
  }

  /** Every gateway's tokens of `kind` since the ledger's last answer, from the shared KV entry; undefined without one. */
  private async sharedSince(keyId: string, kind: UsageKind, windows: KeyTokenWindows): Promise<SharedRecent | undefined> {
    const since = windows.seededUntil;
    if (since === undefined || !this.shared) return undefined;
    const tokens = await this.shared.windowTokensSince(keyId, kind, since);
    return tokens === undefined ? undefined : { since, tokens };
  }

  /** `GET /v1/usage` for one key, in the production service's shape. */
  async report(key: VerifiedKey) {
    const windows = await this.seeded(key.keyId);
    const now = this.clock.now();
    return {
      api_key_id: key.keyId,
      chat: usageReport(windows, key.limits, 'chat', this.spec, now),
      batch: usageReport(windows, key.limits, 'batch', this.spec, now),
    };
  }

  private windows(keyId: string): KeyTokenWindows {
    let w = this.keys.get(keyId);
    if (!w) {
      if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(keyId, (w = new KeyTokenWindows(this.spec)));
    }
    return w;
  }

  /** Waits for the first seeding of a key; later re-seeds run in the background. */
  private async seeded(keyId: string): Promise<KeyTokenWindows> {
    const w = this.windows(keyId);
    const now = this.clock.now();
    const failed = this.failedAt.get(keyId);
    if (failed !== undefined && now - failed < RETRY_SEED_MS) return w;
    if (w.seededAt === undefined) await this.seed(keyId, w);
    else if (now - w.seededAt >= this.config.GATEWAY_LEDGER_RESEED) void this.seed(keyId, w);
    return w;
  }

  private seed(keyId: string, w: KeyTokenWindows): Promise<void> {
    let p = this.seeding.get(keyId);
    if (!p) {
      p = this.ask(keyId, w).finally(() => this.seeding.delete(keyId));
      this.seeding.set(keyId, p);
    }
    return p;
  }

  private async ask(keyId: string, w: KeyTokenWindows): Promise<void> {
    const askedAt = this.clock.now();
    const instants = ledgerInstants(this.spec, askedAt);
    try {
      // The ledger answers up to `until`; later requests (maybe not stored yet) stay counted locally.
      const until = Math.floor((askedAt - this.config.GATEWAY_LEDGER_LAG) / 1000) * 1000;
      const reply = await this.ledger.keyUsage(keyId, instants, until, this.config.GATEWAY_LEDGER_TIMEOUT);
      w.seed(
        reply.windows.map((x, i) => ({ since: instants[i], chat: x.interactiveTokens, batch: x.batchTokens })),
        askedAt,
        until,
      );
      this.failedAt.delete(keyId);
    } catch (err) {
      // Without the ledger the gateway still limits on what it counted itself.
      this.failedAt.set(keyId, this.clock.now());
      this.logger.warn('could not read the usage ledger; limiting on local counts', { keyId, error: (err as Error).message });
    }
  }
}
