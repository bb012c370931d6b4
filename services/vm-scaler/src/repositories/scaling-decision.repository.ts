import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ScalingDecided } from '@maas/contracts';
import { ScalingDecisionEntity } from './scaling-decision.entity';

/**
 * The INSERT of `decisions`, its parameters appended to `params`: ScalingEventsRepository runs it in
 * one statement with their `scaling.decided` outbox events, both or neither.
 */
export function decisionsInsert(decisions: readonly ScalingDecided[], params: unknown[]): string {
  const values = decisions.map((d) => {
    params.push(
      d.decisionId,
      d.stage,
      d.model ?? null,
      new Date(d.decidedAt),
      JSON.stringify(d.inputs),
      JSON.stringify(d.decision),
      JSON.stringify(d.reasons),
    );
    const n = params.length;
    return `(${Array.from({ length: 7 }, (_, k) => `$${n - 6 + k}`).join(', ')})`;
  });
  return `INSERT INTO scaling_decisions (decision_id, stage, model, decided_at, inputs, decision, reasons)
    VALUES ${values.join(', ')} ON CONFLICT (decision_id) DO NOTHING`;
}

/** Decisions with their inputs in PostgreSQL: what `maas scaling explain|replay --db` reads. */
@Injectable()
export class ScalingDecisionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

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
