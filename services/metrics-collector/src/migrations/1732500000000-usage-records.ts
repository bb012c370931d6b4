import { MigrationInterface, QueryRunner } from 'typeorm';

export class UsageRecords1732500000000 implements MigrationInterface {
  name = 'UsageRecords1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS usage_records (
      request_id text PRIMARY KEY,
      key_id text NOT NULL,
      user_id text NOT NULL,
      end_user text,
      model text NOT NULL,
      worker_id text,
      endpoint text NOT NULL,
      kind text NOT NULL,
      status int NOT NULL,
      prompt_tokens int NOT NULL,
      completion_tokens int NOT NULL,
      ttft_ms double precision,
      latency_ms double precision NOT NULL,
      started_at timestamptz NOT NULL,
      finished_at timestamptz NOT NULL
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS usage_records_key_finished ON usage_records (key_id, finished_at)');
    await q.query('CREATE INDEX IF NOT EXISTS usage_records_user_finished ON usage_records (user_id, finished_at)');
    await q.query('CREATE INDEX IF NOT EXISTS usage_records_model_finished ON usage_records (model, finished_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS usage_records');
  }
}
