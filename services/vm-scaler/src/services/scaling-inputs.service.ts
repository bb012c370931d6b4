import { Injectable } from '@nestjs/common';
import type { ForecastPublished, MetricAggregated } from '@maas/contracts';

/** The latest observation and forecast per model: what the next scaling decision is made from. */
@Injectable()
export class ScalingInputsService {
  private readonly observations = new Map<string, MetricAggregated>();
  private readonly forecasts = new Map<string, ForecastPublished>();

  observe(m: MetricAggregated): void {
    const previous = this.observations.get(m.model);
    // late or redelivered intervals never replace a newer one
    if (!previous || Date.parse(previous.intervalStart) <= Date.parse(m.intervalStart)) this.observations.set(m.model, m);
  }

  forecast(f: ForecastPublished): void {
    const previous = this.forecasts.get(f.model);
    if (!previous || Date.parse(previous.issuedAt) <= Date.parse(f.issuedAt)) this.forecasts.set(f.model, f);
  }

  latest(model: string): { observation?: MetricAggregated; forecast?: ForecastPublished } {
    return { observation: this.observations.get(model), forecast: this.forecasts.get(model) };
  }

  aggregates(): MetricAggregated[] {
    return [...this.observations.values()];
  }

  latestForecasts(): ForecastPublished[] {
    return [...this.forecasts.values()];
  }
}
