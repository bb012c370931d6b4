import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions are found by the digest of their cookie (sessionDigest), which the gateway sends over
 * NATS in place of the cookie. Rows from before hold SHA-256 of the bare cookie, which no digest
 * matches: they are ended here, and their users sign in again.
 */
export class SessionDigests1733920000000 implements MigrationInterface {
  name = 'SessionDigests1733920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL');
  }

  async down(): Promise<void> {
    // Ended sessions stay ended.
  }
}
