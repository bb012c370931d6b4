import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface DailyUsageRow {
  day: string;
  kind: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Reads the usage ledger (`usage_records`, written by metrics-collector from usage events) in the
 * shared database, read-only. A user's usage is what their own keys did plus what a trusted service
 * key (Open WebUI) did on their behalf.
 */
@Injectable()
export class UsageLedgerRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async dailyForUser(userEmail: string, since: Date, timeZone: string): Promise<DailyUsageRow[]> {
    try {
      const rows = (await this.db.query(
        `SELECT to_char(date_trunc('day', finished_at AT TIME ZONE $3), 'YYYY-MM-DD') AS day, kind,
                count(*)::int AS requests, coalesce(sum(prompt_tokens), 0)::bigint AS prompt, coalesce(sum(completion_tokens), 0)::bigint AS completion
           FROM usage_records
          WHERE (user_id = $1 OR end_user = $1) AND finished_at >= $2
          GROUP BY 1, 2 ORDER BY 1`,
        [userEmail, since, timeZone],
      )) as { day: string; kind: string; requests: number; prompt: string; completion: string }[];
      return rows.map((r) => ({
        day: r.day,
        kind: r.kind,
        requests: r.requests,
        promptTokens: Number(r.prompt),
        completionTokens: Number(r.completion),
      }));
    } catch (err) {
      // metrics-collector creates the table; before it has run once there is simply no usage.
      if ((err as { driverError?: { code?: string } }).driverError?.code === '42P01') return [];
      throw err;
    }
  }
}
