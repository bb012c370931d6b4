import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ScalingAction, ScalingDecided } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { BusLink } from '@maas/platform';
import type { CapacityEvent } from '@maas/scaling';
import { EventOutboxRepository, OutboxEvent, outboxInsert, ROWS_PER_INSERT } from './event-outbox.repository';
import { decisionsInsert } from './scaling-decision.repository';

const BATCH = 100;

/** The de-duplication id of a decision's event, also its outbox key (written with the decision row). */
export const decidedEvent = (d: ScalingDecided): OutboxEvent<'scaling.decided'> => ({
  messageId: d.decisionId,
  name: 'scaling.decided',
  payload: d,
});

/** A node's state change as its event; the id is what makes it once in the stream. */
export function vmChangedEvent(e: CapacityEvent): OutboxEvent<'vm.state-changed'> {
  const at = new Date(e.at * 1000).toISOString();
  return {
    messageId: `${e.vmId}/${e.from}/${e.to}/${at}`,
    name: 'vm.state-changed',
    payload: { vmId: e.vmId, provider: e.provider, vmType: e.vmType, model: e.model, from: e.from, to: e.to, reason: e.reason, at },
  };
}

interface QueuedWrite {
  readonly events: readonly OutboxEvent[];
  /** A decision's row, stored in the same transaction as its event. */
  readonly decision?: ScalingDecided;
}

/**
 * Decisions, actions and node state changes on the JetStream SCALING stream (replayable), through
 * the `event_outbox` table: each event is stored in PostgreSQL first, published with its id as the
 * de-duplication id, and marked once JetStream acknowledged it. What an outage kept from the
 * stream is published again, in order, when NATS is back, so the stream and the table agree.
 */
@Injectable()
export class ScalingEventsRepository {
  private running?: Promise<void>;
  private queued: QueuedWrite[] = [];
  /** The write that takes what is queued now (it starts once the one before it ends). */
  private nextWrite?: Promise<void>;
  private writing: Promise<void> = Promise.resolve();
  private requested = false;
  private backlogSince?: number;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly bus: MessageBus,
    private readonly outbox: EventOutboxRepository,
    private readonly link: BusLink,
    private readonly logger: Logger,
  ) {}

  /** Stores the decision with its `scaling.decided` outbox event (one transaction, with whatever else is waiting), then publishes it. */
  async decided(d: ScalingDecided): Promise<void> {
    await this.store([decidedEvent(d)], d);
    this.publishSoon();
  }

  async action(a: ScalingAction): Promise<void> {
    const name =
      a.phase === 'started' ? 'scaling.action-started' : a.phase === 'completed' ? 'scaling.action-completed' : 'scaling.action-failed';
    await this.store([{ messageId: `${a.actionId}/${a.phase}`, name, payload: a }]);
    this.publishSoon();
  }

  async vmsChanged(changes: readonly CapacityEvent[]): Promise<void> {
    await this.store(changes.map(vmChangedEvent));
    this.publishSoon();
  }

  /** Resolves once everything handed over so far is stored (or failed to be). */
  async stored(): Promise<void> {
    await this.writing;
  }

  /**
   * Group commit: what is handed over while a write runs goes in the next one, a single transaction
   * of one multi-row INSERT per table, in the order handed over. Resolves when the caller's events are stored.
   */
  private store(events: readonly OutboxEvent[], decision?: ScalingDecided): Promise<void> {
    this.queued.push({ events, decision });
    this.nextWrite ??= this.writing.then(async () => {
      const batch = this.queued;
      this.queued = [];
      this.nextWrite = undefined;
      await this.write(batch);
    });
    const write = this.nextWrite;
    this.writing = write.catch(() => undefined);
    return write;
  }

  private async write(batch: readonly QueuedWrite[]): Promise<void> {
    const decisions = batch.flatMap((w) => (w.decision ? [w.decision] : []));
    const events = batch.flatMap((w) => w.events);
    if (decisions.length === 0 || events.length > ROWS_PER_INSERT) {
      if (decisions.length === 0) return this.outbox.add(events);
      return this.db.transaction(async (tx) => {
        const params: unknown[] = [];
        await tx.query(decisionsInsert(decisions, params), params);
        await this.outbox.add(events, tx);
      });
    }
    // one statement, one round trip: the decisions and the events commit together
    const params: unknown[] = [];
    const sql = `WITH decisions AS (${decisionsInsert(decisions, params)}) ${outboxInsert(events, params)}`;
    await this.db.query(sql, params);
  }

  /**
   * Stored is safe: publishing goes on in the background, so a JetStream publish waiting out its
   * timeout when NATS has just died never holds the scaling loop.
   */
  private publishSoon(): void {
    void this.flush();
  }

  /** Publishes every unacknowledged outbox event, oldest first; one run at a time, re-run when asked during one. */
  flush(): Promise<void> {
    this.requested = true;
    if (!this.running) {
      this.running = (async () => {
        try {
          while (this.requested) {
            this.requested = false;
            await this.publishPending();
          }
        } finally {
          this.running = undefined;
        }
      })();
    }
    return this.running;
  }

  /**
   * Publishes the pending events a batch at a time: every publish of the batch is sent at once, in
   * order, on the one connection (so the stream stores them in that order), then the acknowledgements
   * are awaited together and the acknowledged events marked in one statement. Each carries its outbox
   * id as the de-duplication id, so an event published again after a lost acknowledgement is stored once.
   */
  private async publishPending(): Promise<void> {
    // With the link down a publish would only wait for its timeout; the reconnection flushes.
    if (!this.link.state.connected) return this.holding('NATS disconnected');
    let published = 0;
    try {
      for (;;) {
        const batch = await this.outbox.pending(BATCH);
        const results = await Promise.allSettled(batch.map((e) => this.bus.persist(e.name, e.payload as never, e.messageId)));
        const acknowledged: string[] = [];
        let failed: { messageId: string; message: string } | undefined;
        for (const [k, r] of results.entries()) {
          const e = batch[k];
          if (r.status === 'fulfilled') {
            acknowledged.push(e.messageId);
            continue;
          }
          const message = (r.reason as Error).message;
          if (message.startsWith('refusing to send invalid')) {
            // never sent: it holds no place in the stream
            this.logger.error('outbox event fails its schema; set aside', { messageId: e.messageId, name: e.name, error: message });
            await this.outbox.markUnpublishable(e.messageId, message);
          } else failed ??= { messageId: e.messageId, message };
        }
        // acknowledged means stored in the stream, even after one that was not
        await this.outbox.markPublished(acknowledged, new Date());
        published += acknowledged.length;
        if (failed) {
          await this.outbox.markAttempt(failed.messageId, failed.message);
          return this.holding(failed.message);
        }
        if (batch.length < BATCH) break;
      }
    } catch (err) {
      return this.holding(`outbox unavailable: ${(err as Error).message}`);
    }
    if (this.backlogSince !== undefined) {
      this.logger.info('scaling events caught up with JetStream', { published, waitedMs: Date.now() - this.backlogSince });
      this.backlogSince = undefined;
    }
  }

  private holding(reason: string): void {
    if (this.backlogSince !== undefined) return;
    this.backlogSince = Date.now();
    this.logger.warn('scaling events held in the outbox until JetStream acknowledges them', { reason });
  }
}
