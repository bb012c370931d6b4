import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { KeyUsageReply, RequestCompleted } from '@maas/contracts';
import { UsageRecordEntity } from './usage-record.entity';

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

  /** Tokens (prompt + completion) of one key finished since each instant (and before `until`), by kind; one scan of the key's recent rows. */
  async keyTokensSince(keyId: string, since: readonly Date[], until: Date): Promise<KeyUsageReply['windows']> {
    const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
    const sums = since.map((_, i) => `
      COALESCE(SUM(prompt_tokens + completion_tokens) FILTER (WHERE kind = 'interactive' AND finished_at >= $${i + 4}), 0)::bigint AS i${i},
      COALESCE(SUM(prompt_tokens + completion_tokens) FILTER (WHERE kind = 'batch' AND finished_at >= $${i + 4}), 0)::bigint AS b${i}`);
    const rows = (await this.db.query(
      `SELECT ${sums.join(',')} FROM usage_records WHERE key_id = $1 AND finished_at >= $2 AND finished_at < $3`,
      [keyId, earliest, until, ...since],
    )) as Record<string, string>[];
    const row = rows[0] ?? {};
    return since.map((d, i) => ({ since: d.toISOString(), interactiveTokens: Number(row[`i${i}`] ?? 0), batchTokens: Number(row[`b${i}`] ?? 0) }));
  }
}
