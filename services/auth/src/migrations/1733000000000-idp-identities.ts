import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts keyed on (IdP, identifier): the identities that may sign in to each account. Existing
 * accounts keep the identity they last signed in with (the only IdP recorded), under their eppn or,
 * for accounts made from an e-mail address, that address.
 */
export class IdpIdentities1733000000000 implements MigrationInterface {
  name = 'IdpIdentities1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS user_identities (
      idp_entity_id text NOT NULL,
      subject text NOT NULL,
      user_id text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL,
      linked_by text,
      PRIMARY KEY (idp_entity_id, subject)
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS user_identities_user ON user_identities (user_id)');
    await q.query(`INSERT INTO user_identities (idp_entity_id, subject, user_id, created_at)
      SELECT idp_entity_id, COALESCE(eppn, user_id), user_id, created_at FROM users WHERE idp_entity_id IS NOT NULL
      ON CONFLICT DO NOTHING`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS user_identities');
  }
}
