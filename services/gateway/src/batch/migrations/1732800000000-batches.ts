import { MigrationInterface, QueryRunner } from 'typeorm';

export class Batches1732800000000 implements MigrationInterface {
  name = 'Batches1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS batch_files (
      id text PRIMARY KEY,
      user_id text NOT NULL,
      key_id text NOT NULL,
      filename text NOT NULL,
      purpose text NOT NULL,
      bytes bigint NOT NULL,
      created_at timestamptz NOT NULL
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS batch_files_user ON batch_files (user_id, created_at DESC, id DESC)');
    await q.query(`CREATE TABLE IF NOT EXISTS batches (
      id text PRIMARY KEY,
      user_id text NOT NULL,
      key_id text NOT NULL,
      key_prefix text NOT NULL,
      endpoint text NOT NULL,
      input_file_id text NOT NULL,
      completion_window text NOT NULL,
      status text NOT NULL,
      metadata jsonb,
      errors jsonb,
      total integer NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_file_id text,
      error_file_id text,
      created_at timestamptz NOT NULL,
      in_progress_at timestamptz,
      expires_at timestamptz NOT NULL,
      finalizing_at timestamptz,
      completed_at timestamptz,
      failed_at timestamptz,
      expired_at timestamptz,
      cancelling_at timestamptz,
      cancelled_at timestamptz
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS batches_user ON batches (user_id, created_at DESC, id DESC)');
    await q.query(
      "CREATE INDEX IF NOT EXISTS batches_active ON batches (status) WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling')",
    );
    // One row per request: the (batch, custom_id) key is what makes each result written exactly once.
    await q.query(`CREATE TABLE IF NOT EXISTS batch_results (
      batch_id text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
      custom_id text NOT NULL,
      line integer NOT NULL,
      request_id text NOT NULL,
      status_code integer,
      body jsonb,
      error jsonb,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (batch_id, custom_id)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS batch_results');
    await q.query('DROP TABLE IF EXISTS batches');
    await q.query('DROP TABLE IF EXISTS batch_files');
  }
}
