import { MigrationInterface, QueryRunner } from 'typeorm';

/** Events that must reach JetStream: written with the state they describe, published and marked when acknowledged. */
export class EventOutbox1733200000000 implements MigrationInterface {
  name = 'EventOutbox1733200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS event_outbox (
      message_id text PRIMARY KEY,
      name text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      unpublishable text
    )`);
    await q.query(
      'CREATE INDEX IF NOT EXISTS event_outbox_pending ON event_outbox (created_at) WHERE published_at IS NULL AND unpublishable IS NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS event_outbox');
  }
}
