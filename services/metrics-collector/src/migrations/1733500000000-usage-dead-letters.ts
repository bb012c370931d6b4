import { MigrationInterface, QueryRunner } from 'typeorm';

/** Usage events the ledger refuses for good, with the reason, until `maas usage redrive` puts them back. */
export class UsageDeadLetters1733500000000 implements MigrationInterface {
  name = 'UsageDeadLetters1733500000000';

  async up(q: QueryRunner): Promise<void> {
    // The event as JSON text (escapes keep NUL and lone surrogates storable), not jsonb, which refuses them.
    await q.query(`CREATE TABLE IF NOT EXISTS usage_dead_letters (
      id bigserial PRIMARY KEY,
      request_id text NOT NULL,
      event text NOT NULL,
      reason text NOT NULL,
      deliveries int NOT NULL DEFAULT 1,
      first_failed_at timestamptz NOT NULL DEFAULT now(),
      last_failed_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (request_id)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS usage_dead_letters');
  }
}
