import { MigrationInterface, QueryRunner } from 'typeorm';

export class MetricSamples1732600000000 implements MigrationInterface {
  name = 'MetricSamples1732600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS metric_samples (
      model text NOT NULL,
      resolution_seconds int NOT NULL,
      interval_start timestamptz NOT NULL,
      sample jsonb NOT NULL,
      PRIMARY KEY (model, resolution_seconds, interval_start)
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS metric_samples_res_start ON metric_samples (resolution_seconds, interval_start)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS metric_samples');
  }
}
