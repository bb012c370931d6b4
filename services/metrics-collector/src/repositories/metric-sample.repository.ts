import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MetricAggregated } from '@maas/contracts';

/** Per-model series at 10 s, 1 min and 10 min resolution, each kept for its own retention. */
@Injectable()
export class MetricSampleRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async store(samples: MetricAggregated[]): Promise<void> {
    if (samples.length === 0) return;
    const values: unknown[] = [];
    const rows = samples.map((s, i) => {
      values.push(s.model, Math.round(s.intervalSeconds), s.intervalStart, JSON.stringify(s));
      return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`;
    });
    await this.db.query(
      `INSERT INTO metric_samples (model, resolution_seconds, interval_start, sample) VALUES ${rows.join(', ')}
       ON CONFLICT (model, resolution_seconds, interval_start) DO UPDATE SET sample = EXCLUDED.sample`,
      values,
    );
  }

  async range(model: string, resolutionSeconds: number, from: Date, to: Date): Promise<MetricAggregated[]> {
    const rows: { sample: MetricAggregated }[] = await this.db.query(
      'SELECT sample FROM metric_samples WHERE model = $1 AND resolution_seconds = $2 AND interval_start >= $3 AND interval_start < $4 ORDER BY interval_start',
      [model, resolutionSeconds, from, to],
    );
    return rows.map((r) => r.sample);
  }

  async prune(resolutionSeconds: number, olderThan: Date): Promise<void> {
    await this.db.query('DELETE FROM metric_samples WHERE resolution_seconds = $1 AND interval_start < $2', [resolutionSeconds, olderThan]);
  }
}
