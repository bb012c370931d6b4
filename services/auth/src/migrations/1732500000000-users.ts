import { MigrationInterface, QueryRunner } from 'typeorm';

export class Users1732500000000 implements MigrationInterface {
  name = 'Users1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS users (
      user_id text PRIMARY KEY,
      email text NOT NULL UNIQUE,
      display_name text,
      eppn text,
      roles jsonb NOT NULL DEFAULT '[]',
      idp_entity_id text,
      created_at timestamptz NOT NULL,
      last_login_at timestamptz
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS users');
  }
}
