import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { EventName, MessageTypes } from '@maas/contracts';

/** One event waiting for (or past) its JetStream acknowledgement; `messageId` is its de-duplication id. */
export interface OutboxEvent<N extends EventName = EventName> {
  readonly messageId: string;
  readonly name: N;
  readonly payload: MessageTypes[N];
}

export interface PendingOutboxEvent extends OutboxEvent {
  readonly createdAt: Date;
  readonly attempts: number;
}

/** Rows per INSERT: 3 parameters each, far below PostgreSQL's 65,535. */
export const ROWS_PER_INSERT = 500;

/**
 * The INSERT of `events`, its parameters appended to `params` (numbered after those already there).
 * VALUES rows take their sequence numbers in the order listed: the order they are published in.
 */
export function outboxInsert(events: readonly OutboxEvent[], params: unknown[]): string {
  const values = events.map((e) => {
    params.push(e.messageId, e.name, JSON.stringify(e.payload));
    const n = params.length;
    return `($${n - 2}, $${n - 1}, $${n})`;
  });
  return `INSERT INTO event_outbox (message_id, name, payload) VALUES ${values.join(', ')} ON CONFLICT (message_id) DO NOTHING`;
}

/** The `event_outbox` table: events are stored here first, in the transaction of what they describe. */
@Injectable()
export class EventOutboxRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Adds events in one statement per few hundred (an id already there is kept as it is); inside
   * `tx` when given, so they commit with the state they describe. They are published in the order given.
   */
  async add(events: readonly OutboxEvent[], tx?: EntityManager): Promise<void> {
    const q = tx ?? this.db.manager;
    for (let from = 0; from < events.length; from += ROWS_PER_INSERT) {
      const params: unknown[] = [];
      await q.query(outboxInsert(events.slice(from, from + ROWS_PER_INSERT), params), params);
    }
  }

  /** Unacknowledged events, in the order they were added. */
  async pending(limit: number): Promise<PendingOutboxEvent[]> {
    const rows = (await this.db.query(
      `SELECT message_id, name, payload, created_at, attempts FROM event_outbox
       WHERE published_at IS NULL AND unpublishable IS NULL ORDER BY seq LIMIT $1`,
      [limit],
    )) as { message_id: string; name: EventName; payload: MessageTypes[EventName]; created_at: Date; attempts: number }[];
    return rows.map((r) => ({ messageId: r.message_id, name: r.name, payload: r.payload, createdAt: r.created_at, attempts: r.attempts }));
  }

  /** Marks events JetStream acknowledged, in one statement. */
  async markPublished(messageIds: readonly string[], at: Date): Promise<void> {
    if (messageIds.length === 0) return;
    await this.db.query(
      'UPDATE event_outbox SET published_at = $2, attempts = attempts + 1, last_error = NULL WHERE message_id = ANY($1::text[])',
      [messageIds, at],
    );
  }

  async markAttempt(messageId: string, error: string): Promise<void> {
    await this.db.query('UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE message_id = $1', [
      messageId,
      error.slice(0, 500),
    ]);
  }

  /** Set aside for good (the event fails its schema): kept with the reason, never retried. */
  async markUnpublishable(messageId: string, reason: string): Promise<void> {
    await this.db.query('UPDATE event_outbox SET attempts = attempts + 1, unpublishable = $2 WHERE message_id = $1', [
      messageId,
      reason.slice(0, 500),
    ]);
  }

  /** Drops acknowledged events published before `before`; returns how many. */
  async prunePublished(before: Date): Promise<number> {
    const result = (await this.db.query('DELETE FROM event_outbox WHERE published_at < $1', [before])) as [unknown[], number];
    return result[1] ?? 0;
  }
}
