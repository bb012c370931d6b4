import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RequestCompleted } from '@maas/contracts';
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
}
