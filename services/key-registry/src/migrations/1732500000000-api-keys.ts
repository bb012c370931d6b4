import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeys1732500000000 implements MigrationInterface {
  name = 'ApiKeys1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS api_keys (
      key_id uuid PRIMARY KEY,
      prefix text NOT NULL UNIQUE,
      hash bytea NOT NULL,
      user_id text NOT NULL,
      user_email text NOT NULL,
      name text,
      allowed_models jsonb NOT NULL DEFAULT '[]',
      allowed_cidrs jsonb NOT NULL DEFAULT '[]',
      trusted boolean NOT NULL DEFAULT false,
      limits jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL,
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS api_keys_user_email ON api_keys (user_email)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS api_keys');
  }
}
