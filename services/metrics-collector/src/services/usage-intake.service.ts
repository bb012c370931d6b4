import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { messageValidator } from '@maas/contracts';
import type {
  RequestCompleted,
  RequestsCompleted,
  UsageDeadLetterListReply,
  UsageDeadLetterListRequest,
  UsageRedriveReply,
  UsageRedriveRequest,
} from '@maas/contracts';
import { Logger } from '@maas/logging';
import { RedeliverLater } from '@maas/nats';
import { Clock, CLOCK } from '@maas/platform';
import { classifyLedgerError } from '../policy/ledger-failure';
import { usageModel } from '../policy/usage-model';
import { UsageDeadLetterRepository } from '../repositories/usage-dead-letter.repository';
import { DemandSeriesService } from './demand-series.service';
import { traceRecords } from './record-trace';
import { UsageLedgerService } from './usage-ledger.service';

const deadLettered = new Counter({
  name: 'maas_usage_dead_letters_total',
  help: 'Usage events the ledger refused for good and set aside (see maas usage redrive)',
});
const rejected = new Counter({
  name: 'maas_usage_records_rejected_total',
  help: 'Records of usage batches that are not valid usage events (logged, not stored), as single events the transport rejects',
});
const redriven = new Counter({ name: 'maas_usage_redriven_total', help: 'Dead-lettered usage events put back into the ledger' });

type Stored = { ok: true; fresh: boolean } | { ok: false; reason: string };
type Refused = { event: RequestCompleted; reason: string };

/**
 * Usage events into the ledger, losing none: while the database is away an event is deferred
 * (it waits in the stream, redelivered with backoff, for as long as it takes); an event whose values
 * the database refuses for good is dead-lettered with the reason instead of being retried forever.
 * A batch (`usage.requests-completed`) is one write; the same rules hold for each of its records.
 */
@Injectable()
export class UsageIntakeService {
  /** Since when the database has been away, while it is. */
  private awaySince?: number;
  private readonly validator = messageValidator();

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
    if (!stored.ok) await this.deadLetter(u, stored.reason);
  }

  private async deadLetter(u: RequestCompleted, reason: string): Promise<void> {
    await this.database(() => this.deadLetters.add(u, reason));
    deadLettered.inc();
    this.logger.error('usage event dead-lettered: the ledger refuses it', { requestId: u.requestId, reason });
  }

  /**
   * A batch from the stream, in one ledger write; a record the ledger refuses is dead-lettered and the
   * others stored. A record that is not a valid usage event is logged and left out, as the transport
   * does with such a single event. Throws RedeliverLater while the database is away: the whole batch
   * comes back, and what was stored already is skipped by request id.
   */
  async requestsCompleted(batch: RequestsCompleted): Promise<void> {
    const events: RequestCompleted[] = [];
    const refused: Refused[] = [];
    const seen = new Set<string>();
    for (const { event } of batch.records) {
      const checked = this.validator.message('usage.request-completed', event);
      if (!checked.ok) {
        rejected.inc();
        this.logger.error('usage record rejected: not a valid usage.request-completed', {
          requestId: event.requestId,
          error: checked.error,
        });
      } else if (!seen.has(event.requestId)) {
        seen.add(event.requestId);
        events.push(checked.value);
      }
    }
    await traceRecords(batch.records, async () => {
      refused.push(...(await this.storeMany(events)));
      for (const r of refused) await this.deadLetter(r.event, r.reason);
    });
  }

  async listDeadLetters(req: UsageDeadLetterListRequest): Promise<UsageDeadLetterListReply> {
    // Counted first: a letter added between the two reads then shows in the list but not yet in the total,
    // never the other way round (a total that promises letters the list does not hold).
    const total = await this.deadLetters.count();
    const letters = await this.deadLetters.list(req.limit ?? 100);
    return {
      total,
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

  /**
   * Records events in one write; returns those the ledger refuses. When the write is refused, the
   * events are stored one by one to find which (a statement is all or nothing).
   */
  private async storeMany(events: readonly RequestCompleted[]): Promise<Refused[]> {
    if (events.length === 0) return [];
    const models = events.map((u) => usageModel(u));
    let fresh: Set<string>;
    try {
      fresh = await this.database(() => this.ledger.requestsCompleted(events.map((u, i) => ({ ...u, model: models[i].ledger }))));
    } catch (err) {
      if (err instanceof RedeliverLater || classifyLedgerError(err).kind !== 'invalid') throw err;
      const refused: Refused[] = [];
      for (const u of events) {
        const stored = await this.store(u);
        if (!stored.ok) refused.push({ event: u, reason: stored.reason });
      }
      return refused;
    }
    events.forEach((u, i) => {
      const demand = models[i].demand;
      if (demand && fresh.has(u.requestId)) this.series.requestCompleted({ ...u, model: demand });
    });
    return [];
  }

  /** Records the event; a refusal of its values comes back as a reason, the database's absence as RedeliverLater. */
  private async store(u: RequestCompleted): Promise<Stored> {
    const checked = this.validator.message('usage.request-completed', u);
    if (!checked.ok) return { ok: false, reason: `invalid usage.request-completed: ${checked.error}` };
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
