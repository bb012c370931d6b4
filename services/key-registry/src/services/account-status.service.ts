import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { AccountStatusChanged } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { BusLink, CLOCK, Clock } from '@maas/platform';
import { AccountStatusRepository } from '../repositories/account-status.repository';
import { AuthAccountsRepository } from '../repositories/auth-accounts.repository';
import { ACCOUNT_POLL_MS } from './api-key.service';

/** A catch-up reaches this far before auth's previous answer: covers a disabling committed while that answer was being read. */
const CATCH_UP_OVERLAP_MS = 60_000;
/** A full resynchronisation at least this often, besides start-up and every reconnection. */
const FULL_RESYNC_MS = 5 * 60_000;

/**
 * key-registry's view of disabled accounts, from auth: its events as they come, a catch-up each
 * poll (what auth disabled since its last answer, for an event lost while NATS was away), and the
 * whole list at start, on every reconnection and every few minutes (accounts enabled meanwhile).
 */
@Injectable()
export class AccountStatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private syncing = false;
  /** auth's time of the last answer taken in; undefined until a full list has been taken in (since start or reconnection). */
  private lastAnswerAt?: number;
  private lastFullAt = 0;
  /** An event arrived while a sync was in flight: that answer may predate it, so the next sync is a full one. */
  private eventDuringSync = false;

  constructor(
    private readonly accounts: AccountStatusRepository,
    private readonly auth: AuthAccountsRepository,
    private readonly link: BusLink,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ACCOUNT_POLL_MS) private readonly pollMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.link.onChange((state) => {
      if (!state.connected) return;
      this.lastAnswerAt = undefined;
      void this.sync();
    });
    this.timer = setInterval(() => void this.sync(), this.pollMs);
    this.timer.unref();
    void this.sync();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  async statusChanged(event: AccountStatusChanged): Promise<void> {
    if (this.syncing) this.eventDuringSync = true;
    const now = new Date(this.clock.now());
    if (event.disabled && event.disabledAt)
      await this.accounts.markDisabled([{ email: event.email, disabledAt: new Date(event.disabledAt) }], now);
    else if (!event.disabled) await this.accounts.markEnabled(event.email);
    this.logger.info(event.disabled ? 'account disabled: its keys stop' : 'account enabled: its keys work again', {
      userEmail: event.email,
    });
  }

  /** Takes in auth's answer: the whole list, or what was disabled since the previous answer. */
  async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    this.eventDuringSync = false;
    const now = this.clock.now();
    try {
      const full = this.lastAnswerAt === undefined || now - this.lastFullAt >= FULL_RESYNC_MS;
      const answer = await this.auth.disabled(full ? undefined : new Date(this.lastAnswerAt! - CATCH_UP_OVERLAP_MS));
      if (full) await this.accounts.replaceAll(answer.accounts, new Date(this.clock.now()));
      else await this.accounts.markDisabled(answer.accounts, new Date(this.clock.now()));
      if (full) this.lastFullAt = now;
      this.lastAnswerAt = this.eventDuringSync ? undefined : answer.takenAt.getTime();
    } catch (err) {
      this.logger.warn('could not ask auth for disabled accounts; keeping the last known', { err: (err as Error).message });
    } finally {
      this.syncing = false;
    }
  }
}
