import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ScalingDecided } from '@maas/contracts';
import { EventOutboxRepository } from './event-outbox.repository';
import { ScalingDecisionEntity } from './scaling-decision.entity';
import { decidedEvent } from './scaling-events.repository';

/** Decisions with their inputs in PostgreSQL: what `maas scaling explain|replay --db` reads. */
@Injectable()
export class ScalingDecisionRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly outbox: EventOutboxRepository,
  ) {}

  /** Stores the decision and its `scaling.decided` outbox event in one transaction: both or neither. */
  async insert(d: ScalingDecided): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO scaling_decisions (decision_id, stage, model, decided_at, inputs, decision, reasons)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (decision_id) DO NOTHING`,
        [
          d.decisionId,
          d.stage,
          d.model ?? null,
          new Date(d.decidedAt),
          JSON.stringify(d.inputs),
          JSON.stringify(d.decision),
          JSON.stringify(d.reasons),
        ],
      );
      await this.outbox.add([decidedEvent(d)], tx);
    });
  }

  /** Drops decisions older than `before`; returns how many. */
  async prune(before: Date): Promise<number> {
    const result = (await this.db.query('DELETE FROM scaling_decisions WHERE decided_at < $1', [before])) as [unknown[], number];
    return result[1] ?? 0;
  }

  /** The most recent decision, to carry the policy's state over a restart. */
  async latest(): Promise<ScalingDecisionEntity | undefined> {
    return (await this.db.getRepository(ScalingDecisionEntity).find({ order: { decidedAt: 'DESC' }, take: 1 }))[0];
  }
}
