import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keys are verified from a digest the gateway sends, never from the key itself. Rows made before
 * hold HMAC(secret, key), which no digest can be checked against: they are marked hash_version 1
 * and refused with a message asking for a new key; new rows are version 2, HMAC(secret, digest).
 */
export class KeyDigests1733910000000 implements MigrationInterface {
  name = 'KeyDigests1733910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS hash_version smallint NOT NULL DEFAULT 1');
    await q.query('ALTER TABLE api_keys ALTER COLUMN hash_version SET DEFAULT 2');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys DROP COLUMN IF EXISTS hash_version');
  }
}
