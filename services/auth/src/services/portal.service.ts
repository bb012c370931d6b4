import { Inject, Injectable } from '@nestjs/common';
import type { BatchListReply, KeyCreated, KeySummary, RegistrySnapshot } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { BusRequestError } from '@maas/nats';
import { CLOCK, Clock } from '@maas/platform';
import { AUTH_CONFIG, AuthConfig } from '../auth.config';
import { dailySeries, UsageDay } from '../policy/usage-series';
import { BatchDirectoryRepository, KeyRegistryRepository, WorkerDirectoryRepository } from '../repositories/platform-directory.repository';
import { UsageLedgerRepository } from '../repositories/usage-ledger.repository';
import { UserEntity } from '../repositories/user.entity';
import { UserRepository } from '../repositories/user.repository';
import type { BrowserCaller } from './session.service';

const DAY_MS = 86_400_000;

/** A model as the portal lists it: what it can do and how many workers serve it now. */
export interface ModelView {
  id: string;
  capabilities: string[];
  readyWorkers: number;
  otherWorkers: number;
}

/** Part of a page that could not be loaded says so instead of failing the page. */
export type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

/** A batch with its progress, as the gateway reports it. */
export type BatchView = BatchListReply['batches'][number];

export interface PortalOverview {
  models: Loaded<ModelView[]>;
  keys: Loaded<KeySummary[]>;
  usage: Loaded<UsageDay[]>;
  batches: Loaded<BatchView[]>;
  timeZone: string;
}

export interface AdminOverview {
  users: Loaded<UserEntity[]>;
  workers: Loaded<RegistrySnapshot['workers']>;
  models: Loaded<ModelView[]>;
  keys: Loaded<KeySummary[]>;
  batches: Loaded<BatchView[]>;
}

/** A request the user can fix (shown on the page, 400). */
export class PortalInputError extends Error {}

const EXPIRY_DAYS = new Set([0, 7, 30, 90, 365]);

export function modelsOf(snapshot: RegistrySnapshot): ModelView[] {
  const byId = new Map<string, ModelView>();
  for (const w of snapshot.workers) {
    for (const m of w.registration.models) {
      const view = byId.get(m.id) ?? { id: m.id, capabilities: [], readyWorkers: 0, otherWorkers: 0 };
      view.capabilities = [...new Set([...view.capabilities, ...m.capabilities])].sort();
      if (w.state === 'ready') view.readyWorkers += 1;
      else view.otherWorkers += 1;
      byId.set(m.id, view);
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** What the portal shows and does for a logged-in user: models, API keys, usage; and the admin view. */
@Injectable()
export class PortalService {
  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly keys: KeyRegistryRepository,
    private readonly workers: WorkerDirectoryRepository,
    private readonly batches: BatchDirectoryRepository,
    private readonly usage: UsageLedgerRepository,
    private readonly users: UserRepository,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private async load<T>(what: string, work: () => Promise<T>): Promise<Loaded<T>> {
    try {
      return { ok: true, value: await work() };
    } catch (err) {
      this.logger.warn(`portal could not load ${what}`, { err: (err as Error).message });
      return { ok: false, error: `${what} are unavailable right now` };
    }
  }

  async overview(caller: BrowserCaller): Promise<PortalOverview> {
    const now = this.clock.now();
    const tz = this.config.PORTAL_TIME_ZONE;
    const days = this.config.PORTAL_USAGE_DAYS;
    const [models, keys, usage, batches] = await Promise.all([
      this.load('models', async () => modelsOf(await this.workers.snapshot())),
      this.load('keys', () => this.keys.list(caller.user.email)),
      this.load('usage figures', async () =>
        dailySeries(await this.usage.dailyForUser(caller.user.email, new Date(now - (days + 1) * DAY_MS), tz), now, days, tz),
      ),
      this.load('batches', () => this.batches.list(caller.user.email)),
    ]);
    return { models, keys, usage, batches, timeZone: tz };
  }

  async createKey(caller: BrowserCaller, form: { name?: unknown; expiresInDays?: unknown }): Promise<KeyCreated> {
    const name = typeof form.name === 'string' ? form.name.trim() : '';
    if (!name || name.length > 128)
      throw new PortalInputError('Give the key a name of 1 to 128 characters, so you can tell your keys apart.');
    const days = Number(form.expiresInDays ?? 0);
    if (!EXPIRY_DAYS.has(days)) throw new PortalInputError('Choose one of the offered expiry periods.');
    const created = await this.keys.create({
      userEmail: caller.user.email,
      name,
      ...(days ? { expiresAt: new Date(this.clock.now() + days * DAY_MS).toISOString() } : {}),
    });
    this.logger.info('key created from the portal', {
      userId: caller.user.userId,
      keyId: created.key.keyId,
      sessionId: caller.session.sessionId,
    });
    return created;
  }

  async revokeKey(caller: BrowserCaller, keyId: string): Promise<KeySummary> {
    // Scoped to the caller's address: key-registry refuses someone else's key.
    const revoked = await this.keys.revoke(keyId, caller.user.email).catch((err: Error) => {
      if (err instanceof BusRequestError && /no key/.test(err.message))
        throw new PortalInputError('That key does not exist or is not yours.');
      throw err;
    });
    this.logger.info('key revoked from the portal', { userId: caller.user.userId, keyId, sessionId: caller.session.sessionId });
    return revoked;
  }

  async adminOverview(): Promise<AdminOverview> {
    const snapshot = this.load('workers', () => this.workers.snapshot());
    const [users, snap, keys, batches] = await Promise.all([
      this.load('users', () => this.users.list()),
      snapshot,
      this.load('keys', () => this.keys.list()),
      this.load('batches', () => this.batches.list(undefined)),
    ]);
    return {
      users,
      workers: snap.ok ? { ok: true, value: snap.value.workers } : snap,
      models: snap.ok ? { ok: true, value: modelsOf(snap.value) } : snap,
      keys,
      batches,
    };
  }
}
