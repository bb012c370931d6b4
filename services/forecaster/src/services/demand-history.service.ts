import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { MetricAggregated } from '@maas/contracts';

const observed = new Gauge({ name: 'maas_forecaster_observed_request_rate', help: 'Latest observed request rate per model (req/s)', labelNames: ['model'] });

export interface DemandPoint {
  at: number;
  requestRate: number;
}

/** Per-model request-rate history the forecasts are computed from (bounded: two weeks at 10 s). */
@Injectable()
export class DemandHistoryService {
  private readonly maxPoints = 14 * 8640;
  private readonly series = new Map<string, DemandPoint[]>();

  observe(m: MetricAggregated): void {
    const points = this.series.get(m.model) ?? [];
    points.push({ at: Date.parse(m.intervalStart), requestRate: m.requestRate });
    if (points.length > this.maxPoints) points.splice(0, points.length - this.maxPoints);
    this.series.set(m.model, points);
    observed.set({ model: m.model }, m.requestRate);
  }

  history(model: string): readonly DemandPoint[] {
    return this.series.get(model) ?? [];
  }

  models(): string[] {
    return [...this.series.keys()];
  }
}
