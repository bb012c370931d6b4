import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One row per API request: the usage ledger, idempotent by request id. */
@Entity({ name: 'usage_records' })
export class UsageRecordEntity {
  @PrimaryColumn({ name: 'request_id', type: 'text' })
  requestId!: string;

  /** The client's `X-Request-Id`, for tracing: not unique (the key is the gateway's own id). */
  @Column({ name: 'client_request_id', type: 'text', nullable: true })
  clientRequestId!: string | null;

  @Column({ name: 'key_id', type: 'text' })
  keyId!: string;

  @Column({ name: 'user_id', type: 'text' })
  userId!: string;

  @Column({ name: 'end_user', type: 'text', nullable: true })
  endUser!: string | null;

  @Column({ type: 'text' })
  model!: string;

  @Column({ name: 'worker_id', type: 'text', nullable: true })
  workerId!: string | null;

  @Column({ type: 'text' })
  endpoint!: string;

  @Column({ type: 'text' })
  kind!: string;

  @Column({ type: 'int' })
  status!: number;

  @Column({ name: 'prompt_tokens', type: 'int' })
  promptTokens!: number;

  @Column({ name: 'completion_tokens', type: 'int' })
  completionTokens!: number;

  @Column({ name: 'ttft_ms', type: 'double precision', nullable: true })
  ttftMs!: number | null;

  @Column({ name: 'latency_ms', type: 'double precision' })
  latencyMs!: number;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz' })
  finishedAt!: Date;
}
