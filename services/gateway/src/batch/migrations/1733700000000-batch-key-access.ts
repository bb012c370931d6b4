import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the batch's key allowed when it was created: its expiry and model globs, so the executor
 * dispatches each line with that key's rights (not a stand-in allowing everything) and stops at expiry.
 */
export class BatchKeyAccess1733700000000 implements MigrationInterface {
  name = 'BatchKeyAccess1733700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE batches ADD COLUMN IF NOT EXISTS key_expires_at timestamptz');
    await q.query('ALTER TABLE batches ADD COLUMN IF NOT EXISTS key_allowed_models jsonb');
    await q.query(`CREATE INDEX IF NOT EXISTS batches_running_key ON batches (key_id) WHERE status IN ('validating', 'in_progress')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS batches_running_key');
    await q.query('ALTER TABLE batches DROP COLUMN IF EXISTS key_allowed_models');
    await q.query('ALTER TABLE batches DROP COLUMN IF EXISTS key_expires_at');
  }
}
