import { MigrationInterface, QueryRunner } from 'typeorm';

/** Browser sessions, SAML requests in flight and the assertion replay cache; users learn affiliations and can be disabled. */
export class Identity1732600000000 implements MigrationInterface {
  name = 'Identity1732600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN IF NOT EXISTS affiliations jsonb NOT NULL DEFAULT '[]'`);
    await q.query('ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at timestamptz');
    await q.query(`CREATE TABLE IF NOT EXISTS sessions (
      token_hash bytea PRIMARY KEY,
      session_id uuid NOT NULL UNIQUE,
      user_id text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
      csrf_token text NOT NULL,
      idp_entity_id text,
      name_id jsonb,
      session_index text,
      client_ip text,
      user_agent text,
      created_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id)');
    await q.query('CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at)');
    await q.query(`CREATE TABLE IF NOT EXISTS saml_requests (
      request_id text PRIMARY KEY,
      idp_entity_id text NOT NULL,
      browser_hash bytea NOT NULL,
      return_to text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS saml_assertions_seen (
      idp_entity_id text NOT NULL,
      assertion_id text NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (idp_entity_id, assertion_id)
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS saml_assertions_seen_expires ON saml_assertions_seen (expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS saml_assertions_seen');
    await q.query('DROP TABLE IF EXISTS saml_requests');
    await q.query('DROP TABLE IF EXISTS sessions');
    await q.query('ALTER TABLE users DROP COLUMN IF EXISTS disabled_at');
    await q.query('ALTER TABLE users DROP COLUMN IF EXISTS affiliations');
  }
}
