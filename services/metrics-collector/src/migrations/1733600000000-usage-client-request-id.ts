import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The client's `X-Request-Id` beside the ledger's key: the key is the gateway's own id, so a client
 * reusing one id is billed for every request; the client's id stays searchable for tracing.
 */
export class UsageClientRequestId1733600000000 implements MigrationInterface {
  name = 'UsageClientRequestId1733600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS client_request_id text');
    await q.query(
      'CREATE INDEX IF NOT EXISTS usage_records_client_request_id ON usage_records (client_request_id) WHERE client_request_id IS NOT NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS usage_records_client_request_id');
    await q.query('ALTER TABLE usage_records DROP COLUMN IF EXISTS client_request_id');
  }
}
