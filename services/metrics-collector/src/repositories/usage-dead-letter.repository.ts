import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RequestCompleted } from '@maas/contracts';

export interface UsageDeadLetter {
  requestId: string;
  event: RequestCompleted;
  reason: string;
  deliveries: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
}

interface Row {
  request_id: string;
  event: string;
  reason: string;
  deliveries: number;
  first_failed_at: Date;
  last_failed_at: Date;
}

const storable = (s: string) => s.replace(/\u0000/g, '\\0');

/** Usage events the ledger refused for good: one row per request id, kept until redriven. */
@Injectable()
export class UsageDeadLetterRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Stores (or, for a repeat, counts again) a refused event; JSON text escapes whatever the ledger refused. */
  async add(event: RequestCompleted, reason: string): Promise<void> {
    await this.db.query(
      `INSERT INTO usage_dead_letters (request_id, event, reason) VALUES ($1, $2, $3)
       ON CONFLICT (request_id) DO UPDATE SET event = EXCLUDED.event, reason = EXCLUDED.reason,
         deliveries = usage_dead_letters.deliveries + 1, last_failed_at = now()`,
      [storable(String(event.requestId)), JSON.stringify(event), storable(reason)],
    );
  }

  async list(limit: number, requestIds?: readonly string[]): Promise<UsageDeadLetter[]> {
    const rows: Row[] = requestIds?.length
      ? await this.db.query('SELECT * FROM usage_dead_letters WHERE request_id = ANY($1) ORDER BY id LIMIT $2', [
          requestIds.map(storable),
          limit,
        ])
      : await this.db.query('SELECT * FROM usage_dead_letters ORDER BY id LIMIT $1', [limit]);
    return rows.map((r) => ({
      requestId: r.request_id,
      event: JSON.parse(r.event) as RequestCompleted,
      reason: r.reason,
      deliveries: r.deliveries,
      firstFailedAt: r.first_failed_at,
      lastFailedAt: r.last_failed_at,
    }));
  }

  async count(): Promise<number> {
    const rows: { n: number }[] = await this.db.query('SELECT count(*)::int AS n FROM usage_dead_letters');
    return rows[0]?.n ?? 0;
  }

  async remove(requestId: string): Promise<void> {
    await this.db.query('DELETE FROM usage_dead_letters WHERE request_id = $1', [storable(requestId)]);
  }
}
