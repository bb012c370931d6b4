import { MigrationInterface, QueryRunner } from 'typeorm';

/** Nodes remember their model, when they entered their state and why. */
export class VmLifecycle1732700000000 implements MigrationInterface {
  name = 'VmLifecycle1732700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE vms ADD COLUMN IF NOT EXISTS model text');
    await q.query('ALTER TABLE vms ADD COLUMN IF NOT EXISTS state_since timestamptz');
    await q.query('ALTER TABLE vms ADD COLUMN IF NOT EXISTS reason text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE vms DROP COLUMN IF EXISTS reason');
    await q.query('ALTER TABLE vms DROP COLUMN IF EXISTS state_since');
    await q.query('ALTER TABLE vms DROP COLUMN IF EXISTS model');
  }
}
