import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { RequestCompleted, UsageDeadLetterListReply, UsageDeadLetterListRequest, UsageRedriveReply, UsageRedriveRequest } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { RedeliverLater } from '@maas/nats';
import { Clock, CLOCK } from '@maas/platform';
import { classifyLedgerError } from '../policy/ledger-failure';
import { usageModel } from '../policy/usage-model';
import { UsageDeadLetterRepository } from '../repositories/usage-dead-letter.repository';
import { DemandSeriesService } from './demand-series.service';
import { UsageLedgerService } from './usage-ledger.service';

const deadLettered = new Counter({ name: 'maas_usage_dead_letters_total', help: 'Usage events the ledger refused for good and set aside (see maas usage redrive)' });
const redriven = new Counter({ name: 'maas_usage_redriven_total', help: 'Dead-lettered usage events put back into the ledger' });

type Stored = { ok: true; fresh: boolean } | { ok: false; reason: string };

/**
 * Usage events into the ledger, losing none: while the database is away an event is deferred
 * (it waits in the stream, redelivered with backoff, for as long as it takes); an event whose values
 * the database refuses for good is dead-lettered with the reason instead of being retried forever.
 */
@Injectable()
export class UsageIntakeService {
  /** Since when the database has been away, while it is. */
  private awaySince?: number;

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly ledger: UsageLedgerService,
    private readonly deadLetters: UsageDeadLetterRepository,
    private readonly series: DemandSeriesService,
    private readonly logger: Logger,
  ) {}

  /** One event from the stream; throws RedeliverLater while the database is away. */
  async requestCompleted(u: RequestCompleted): Promise<void> {
    const stored = await this.store(u);
    if (stored.ok) return;
    await this.database(() => this.deadLetters.add(u, stored.reason));
    deadLettered.inc();
    this.logger.error('usage event dead-lettered: the ledger refuses it', { requestId: u.requestId, reason: stored.reason });
  }

  async listDeadLetters(req: UsageDeadLetterListRequest): Promise<UsageDeadLetterListReply> {
    const letters = await this.deadLetters.list(req.limit ?? 100);
    return {
      total: await this.deadLetters.count(),
      deadLetters: letters.map((l) => ({ ...l, firstFailedAt: l.firstFailedAt.toISOString(), lastFailedAt: l.lastFailedAt.toISOString() })),
    };
  }

  /** Puts dead letters back into the ledger (after a fix); those refused again stay, with the new reason. */
  async redrive(req: UsageRedriveRequest): Promise<UsageRedriveReply> {
    const letters = await this.deadLetters.list(req.limit ?? 1000, req.requestIds);
    const refused: UsageRedriveReply['refused'] = [];
    let count = 0;
    for (const letter of letters) {
      const stored = await this.store(letter.event);
      if (stored.ok) {
        await this.deadLetters.remove(letter.requestId);
        count++;
      } else {
        await this.deadLetters.add(letter.event, stored.reason);
        refused.push({ requestId: letter.requestId, reason: stored.reason });
      }
    }
    redriven.inc(count);
    if (letters.length) this.logger.info('usage dead letters redriven', { redriven: count, refused: refused.length });
    return { redriven: count, refused, remaining: await this.deadLetters.count() };
  }

  /** Records the event; a refusal of its values comes back as a reason, the database's absence as RedeliverLater. */
  private async store(u: RequestCompleted): Promise<Stored> {
    const model = usageModel(u);
    try {
      const fresh = await this.database(() => this.ledger.requestCompleted({ ...u, model: model.ledger }));
      if (fresh && model.demand) this.series.requestCompleted({ ...u, model: model.demand });
      return { ok: true, fresh };
    } catch (err) {
      const failure = classifyLedgerError(err);
      if (failure.kind === 'invalid') return { ok: false, reason: failure.reason };
      throw err;
    }
  }

  /** Runs one database call, turning the database's absence into RedeliverLater and noting when it comes back. */
  private async database<T>(call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      const failure = classifyLedgerError(err);
      if (failure.kind !== 'unavailable') throw err;
      if (this.awaySince === undefined) {
        this.awaySince = this.clock.now();
        this.logger.warn('ledger database unavailable; usage events wait in the stream', { reason: failure.reason });
      }
      throw new RedeliverLater(`ledger database unavailable: ${failure.reason}`);
    }
    if (this.awaySince !== undefined) {
      this.logger.info('ledger database back; usage events flowing', { awayMs: this.clock.now() - this.awaySince });
      this.awaySince = undefined;
    }
    return result;
  }
}
