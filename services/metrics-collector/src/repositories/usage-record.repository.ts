import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { KeyUsageReply, RequestCompleted, UserUsageReply } from '@maas/contracts';
import { UsageRecordEntity } from './usage-record.entity';

/** The ledger's columns in the order recordMany sends them, with their PostgreSQL types. */
const COLUMNS = [
  { name: 'request_id', type: 'text' },
  { name: 'client_request_id', type: 'text' },
  { name: 'key_id', type: 'text' },
  { name: 'user_id', type: 'text' },
  { name: 'end_user', type: 'text' },
  { name: 'model', type: 'text' },
  { name: 'worker_id', type: 'text' },
  { name: 'endpoint', type: 'text' },
  { name: 'kind', type: 'text' },
  { name: 'status', type: 'int' },
  { name: 'prompt_tokens', type: 'int' },
  { name: 'completion_tokens', type: 'int' },
  { name: 'ttft_ms', type: 'double precision' },
  { name: 'latency_ms', type: 'double precision' },
  { name: 'started_at', type: 'timestamptz' },
  { name: 'finished_at', type: 'timestamptz' },
] as const;

@Injectable()
export class UsageRecordRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Inserts once per request id; returns false when the record was already there (a redelivery). */
  async record(u: RequestCompleted): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .insert()
      .into(UsageRecordEntity)
      .values({
        requestId: u.requestId,
        clientRequestId: u.clientRequestId ?? null,
        keyId: u.keyId,
        userId: u.userId,
        endUser: u.endUser ?? null,
        model: u.model,
        workerId: u.workerId ?? null,
        endpoint: u.endpoint,
        kind: u.kind,
        status: u.status,
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        ttftMs: u.ttftMs ?? null,
        latencyMs: u.latencyMs,
        startedAt: new Date(u.startedAt),
        finishedAt: new Date(u.finishedAt),
      })
      .orIgnore()
      .returning('request_id')
      .execute();
    return (result.raw as unknown[]).length > 0;
  }

  /**
   * Inserts many events in one statement, once per request id (the rows already there are skipped);
   * returns the request ids inserted now. One statement is all or nothing: a value the database
   * refuses fails the whole batch, and the caller stores its events one by one to find it.
   */
  async recordMany(events: readonly RequestCompleted[]): Promise<Set<string>> {
    const columns: unknown[][] = COLUMNS.map(() => new Array(events.length));
    events.forEach((u, row) => {
      const values = [
        u.requestId,
        u.clientRequestId ?? null,
        u.keyId,
        u.userId,
        u.endUser ?? null,
        u.model,
        u.workerId ?? null,
        u.endpoint,
        u.kind,
        u.status,
        u.promptTokens,
        u.completionTokens,
        u.ttftMs ?? null,
        u.latencyMs,
        u.startedAt,
        u.finishedAt,
      ];
      values.forEach((v, c) => (columns[c][row] = v));
    });
    // One array per column through unnest: 16 parameters whatever the batch size, one plan.
    const rows = (await this.db.query(
      `INSERT INTO usage_records (${COLUMNS.map((c) => c.name).join(', ')})
       SELECT * FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})
       ON CONFLICT (request_id) DO NOTHING
       RETURNING request_id`,
      columns,
    )) as { request_id: string }[];
    return new Set(rows.map((r) => r.request_id));
  }

  /** Tokens (prompt + completion) of one key finished since each instant (and before `until`), by kind; one scan of the key's recent rows. */
  async keyTokensSince(keyId: string, since: readonly Date[], until: Date): Promise<KeyUsageReply['windows']> {
    const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
    const sums = since.map(
      (_, i) => `
      COALESCE(SUM(prompt_tokens + completion_tokens) FILTER (WHERE kind = 'interactive' AND finished_at >= $${i + 4}), 0)::bigint AS i${i},
      COALESCE(SUM(prompt_tokens + completion_tokens) FILTER (WHERE kind = 'batch' AND finished_at >= $${i + 4}), 0)::bigint AS b${i}`,
    );
    const rows = (await this.db.query(
      `SELECT ${sums.join(',')} FROM usage_records WHERE key_id = $1 AND finished_at >= $2 AND finished_at < $3`,
      [keyId, earliest, until, ...since],
    )) as Record<string, string>[];
    const row = rows[0] ?? {};
    return since.map((d, i) => ({
      since: d.toISOString(),
      interactiveTokens: Number(row[`i${i}`] ?? 0),
      batchTokens: Number(row[`b${i}`] ?? 0),
    }));
  }

  /**
   * One user's requests and tokens per day (in `timeZone`) and kind since an instant: their own keys'
   * and what a trusted service key (Open WebUI) did on their behalf (`end_user`).
   */
  async dailyForUser(userEmail: string, since: Date, timeZone: string): Promise<UserUsageReply['days']> {
    const rows = (await this.db.query(
      `SELECT to_char(date_trunc('day', finished_at AT TIME ZONE $3), 'YYYY-MM-DD') AS day, kind,
              count(*)::int AS requests, coalesce(sum(prompt_tokens), 0)::bigint AS prompt, coalesce(sum(completion_tokens), 0)::bigint AS completion
         FROM usage_records
        WHERE (user_id = $1 OR end_user = $1) AND finished_at >= $2
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [userEmail, since, timeZone],
    )) as { day: string; kind: 'interactive' | 'batch'; requests: number; prompt: string; completion: string }[];
    return rows.map((r) => ({
      day: r.day,
      kind: r.kind,
      requests: r.requests,
      promptTokens: Number(r.prompt),
      completionTokens: Number(r.completion),
    }));
  }
}
