import { MigrationInterface, QueryRunner } from 'typeorm';

/** When a file expires (`expires_after` at upload, as OpenAI's): past it the file is gone for its user, and its bytes are freed. */
export class BatchFileExpiry1733800000000 implements MigrationInterface {
  name = 'BatchFileExpiry1733800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE batch_files ADD COLUMN IF NOT EXISTS expires_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE batch_files DROP COLUMN IF EXISTS expires_at');
  }
}
