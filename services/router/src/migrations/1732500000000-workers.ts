import { MigrationInterface, QueryRunner } from 'typeorm';

export class Workers1732500000000 implements MigrationInterface {
  name = 'Workers1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS workers (
      worker_id text PRIMARY KEY,
      registration jsonb NOT NULL,
      state text NOT NULL,
      load jsonb,
      vm_id text NOT NULL,
      registered_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      left_at timestamptz,
      left_reason text
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS workers_vm_id ON workers (vm_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS workers');
  }
}
