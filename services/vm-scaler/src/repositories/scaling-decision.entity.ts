import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Every scaling decision with the inputs it was made from: what `maas scaling replay` re-runs. */
@Entity({ name: 'scaling_decisions' })
export class ScalingDecisionEntity {
  @PrimaryColumn({ name: 'decision_id', type: 'text' })
  decisionId!: string;

  @Column({ type: 'text' })
  stage!: string;

  @Column({ type: 'text', nullable: true })
  model!: string | null;

  @Column({ name: 'decided_at', type: 'timestamptz' })
  decidedAt!: Date;

  @Column({ type: 'jsonb' })
  inputs!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  decision!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  reasons!: string[];
}
