import { MigrationInterface, QueryRunner } from 'typeorm';

/** key-registry's own view of disabled accounts, kept from auth's events and answers (it no longer reads auth's users table). */
export class DisabledAccounts1733930000000 implements MigrationInterface {
  name = 'DisabledAccounts1733930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS disabled_accounts (
      email text PRIMARY KEY,
      disabled_at timestamptz NOT NULL,
      recorded_at timestamptz NOT NULL
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS disabled_accounts_disabled_at ON disabled_accounts (disabled_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS disabled_accounts');
  }
}
