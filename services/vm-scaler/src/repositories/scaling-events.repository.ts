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

/** Events published at once before their acknowledgements are awaited. */
const BATCH = 100;
/** Stored events kept in memory to publish; more (JetStream away for long) are read back from the table. */
const MAX_REMEMBERED = 2000;

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
  /** Events stored and not yet published, in the order stored. */
  private unpublished: OutboxEvent[] = [];
  /** Whether `unpublished` holds every pending event of the table (a read of it found its end since). */
  private caughtUp = false;
  /** Marks of acknowledged events, in order, off the publishing path. */
  private marking: Promise<void> = Promise.resolve();
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

  /** Resolves once everything handed over so far is stored and, NATS connected, published and marked. */
  async settled(): Promise<void> {
    await this.writing;
    if (this.link.state.connected) await this.flush();
    await this.marking;
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
      this.remember(batch.flatMap((w) => w.events));
    });
    const write = this.nextWrite;
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Stored events to publish from memory; beyond a bound, the table is read instead. */
  private remember(events: readonly OutboxEvent[]): void {
    this.unpublished.push(...events);
    if (this.unpublished.length <= MAX_REMEMBERED) return;
    this.unpublished = [];
    this.caughtUp = false;
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

  /**
   * Publishes every unacknowledged outbox event, oldest first; one run at a time, re-run when asked
   * during one. `fromTable` reads what is pending from the table even when this process knows it
   * (the periodic retry does, so nothing the process missed waits longer than a retry period).
   */
  flush(fromTable = false): Promise<void> {
    this.requested = true;
    if (fromTable) this.caughtUp = false;
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
   * are awaited together and the acknowledged events marked in one statement, off the publishing path.
   * Each carries its outbox id as the de-duplication id, so an event published again (after a lost
   * acknowledgement, or read from the table as well as remembered) is stored once. Once a read of the
   * table has reached its end, the events this process stores next are published from memory, in the
   * order stored, with no read of the table.
   */
  private async publishPending(): Promise<void> {
    // With the link down a publish would only wait for its timeout; the reconnection flushes.
    if (!this.link.state.connected) {
      this.caughtUp = false;
      return this.holding('NATS disconnected');
    }
    let published = 0;
    try {
      for (;;) {
        const fromMemory = this.caughtUp;
        let batch: readonly OutboxEvent[];
        if (fromMemory) batch = this.unpublished.slice(0, BATCH);
        else {
          await this.marking; // what was acknowledged is not read again as pending
          batch = await this.outbox.pending(BATCH);
        }
        if (fromMemory && batch.length === 0) break;
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
        if (fromMemory) this.unpublished.splice(0, batch.length);
        else {
          const done = new Set(batch.map((e) => e.messageId));
          this.unpublished = this.unpublished.filter((e) => !done.has(e.messageId));
        }
        // acknowledged means stored in the stream, even after one that was not
        const at = new Date();
        this.marking = this.marking
          .then(() => this.outbox.markPublished(acknowledged, at))
          .catch((err: Error) => this.logger.warn('could not mark events published; they will be published again', { error: err.message }));
        published += acknowledged.length;
        if (failed) {
          this.caughtUp = false;
          await this.outbox.markAttempt(failed.messageId, failed.message);
          return this.holding(failed.message);
        }
        if (!fromMemory && batch.length < BATCH) this.caughtUp = true; // the table's end: what is stored from now on is remembered
      }
    } catch (err) {
      this.caughtUp = false;
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
