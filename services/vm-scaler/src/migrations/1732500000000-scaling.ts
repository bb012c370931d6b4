import { MigrationInterface, QueryRunner } from 'typeorm';

export class Scaling1732500000000 implements MigrationInterface {
  name = 'Scaling1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS scaling_decisions (
      decision_id text PRIMARY KEY,
      stage text NOT NULL,
      model text,
      decided_at timestamptz NOT NULL,
      inputs jsonb NOT NULL,
      decision jsonb NOT NULL,
      reasons jsonb NOT NULL
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS scaling_decisions_decided_at ON scaling_decisions (decided_at)');
    await q.query(`CREATE TABLE IF NOT EXISTS vms (
      vm_id text PRIMARY KEY,
      provider text NOT NULL,
      vm_type text NOT NULL,
      state text NOT NULL,
      requested_at timestamptz NOT NULL,
      ready_at timestamptz,
      stopped_at timestamptz
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS vms');
    await q.query('DROP TABLE IF EXISTS scaling_decisions');
  }
}
