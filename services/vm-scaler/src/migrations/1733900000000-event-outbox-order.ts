import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events are written many to a statement (one `now()` for all of them): a sequence keeps the order
 * they were added in, which is the order they are published in.
 */
export class EventOutboxOrder1733900000000 implements MigrationInterface {
  name = 'EventOutboxOrder1733900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS seq bigserial');
    await q.query('DROP INDEX IF EXISTS event_outbox_pending');
    await q.query(
      'CREATE INDEX IF NOT EXISTS event_outbox_pending_seq ON event_outbox (seq) WHERE published_at IS NULL AND unpublishable IS NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS event_outbox_pending_seq');
    await q.query('ALTER TABLE event_outbox DROP COLUMN IF EXISTS seq');
    await q.query(
      'CREATE INDEX IF NOT EXISTS event_outbox_pending ON event_outbox (created_at) WHERE published_at IS NULL AND unpublishable IS NULL',
    );
  }
}
